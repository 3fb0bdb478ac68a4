"""Who is calling: the principal an API key resolves to, its role and tenant, and what each role may do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from aiohttp import web


class Role(str, Enum):
    """Roles are ordered: each may do everything the ones before it may (admin > operator > reader > submitter)."""

    SUBMITTER = "submitter"  # intake; reads its own jobs
    READER = "reader"        # reads everything (within its tenant)
    OPERATOR = "operator"    # cancel, redrive, rebuild, pacing triggers
    ADMIN = "admin"          # key management

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: "Role") -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True)
class Principal:
    """The caller behind one request. `tenant` None means the key is not bound to an organisation."""

    key_id: str     # the key's public id (never the secret)
    name: str       # the name given at `planperfect keys create --name`
    role: Role
    tenant: str | None = None

    @property
    def actor(self) -> str:
        """How operator actions record who did them: `key:<id> (<name>)`."""
        return f"key:{self.key_id} ({self.name})"


PRINCIPAL = web.RequestKey("planperfect.principal", Principal)  # request[PRINCIPAL], set by api/auth.py


def principal_of(request: web.Request) -> Principal:
    """The authenticated caller; the auth middleware has refused the request before a handler runs without one."""
    return request[PRINCIPAL]
