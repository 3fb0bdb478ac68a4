"""Who is calling: the principal an API key resolves to, its role and tenant, and what each role may do."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from aiohttp import web


class Role(str, Enum):
    """Roles are ordered: each may do everything the ones before it may (admin > operator > reader > submitter),
    except that a reader only reads: it submits no work (a key given to a dashboard or to Prometheus cannot spend
    model money nor write a user's knowledge)."""

    SUBMITTER = "submitter"  # intake; reads its own jobs
    READER = "reader"        # reads everything (within its tenant), writes nothing
    OPERATOR = "operator"    # cancel, redrive, rebuild, pacing triggers; submits too
    ADMIN = "admin"          # key management

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: "Role", submits: bool = False) -> bool:
        """Whether this role may call a route that needs `needed`; `submits`: the route submits work."""
        return self.rank >= needed.rank and not (submits and self is Role.READER)


@dataclass(frozen=True)
class Principal:
    """The caller behind one request. `tenant` None means the key is not bound to an organisation."""

    key_id: str     # the key's public id (never the secret)
    name: str       # the name given at `planperfect keys create --name`
    role: Role
    tenant: str | None = None

    def sees(self, tenant: str | None, submitted_by: str | None) -> bool:
        """Whether this caller may see (and act on) a job of `tenant` submitted by key `submitted_by`: a key bound to
        a tenant sees that tenant's jobs only, a submitter only the jobs it submitted."""
        if self.tenant is not None and tenant != self.tenant:
            return False
        return self.role is not Role.SUBMITTER or submitted_by == self.key_id

    @property
    def owner_filter(self) -> str | None:
        """The `submitted_by` a listing is confined to (a submitter's own), or None."""
        return self.key_id if self.role is Role.SUBMITTER else None

    def idempotency_scope(self, key: str) -> str:
        """An Idempotency-Key as stored: within the API key that sent it, so that equal keys of two callers name two
        jobs (within a tenant too: a submitter must not learn another's job id and status by guessing its key)."""
        return f"key:{self.key_id}:{key}"

    @property
    def actor(self) -> str:
        """How operator actions record who did them: `key:<id> (<name>)`."""
        return f"key:{self.key_id} ({self.name})"


# An Idempotency-Key as Principal.idempotency_scope stores it: `key:` and the API key's id (12 hex digits, api/keys.py).
_SCOPE = re.compile(r"key:[0-9a-f]{12}:")


def sent_idempotency_key(stored: str | None) -> str | None:
    """An Idempotency-Key as its client sent it, without the scope it is stored within (a job from before keys were
    scoped has none to take off)."""
    if stored is None or (scope := _SCOPE.match(stored)) is None:
        return stored
    return stored[scope.end():]


PRINCIPAL = web.RequestKey("planperfect.principal", Principal)  # request[PRINCIPAL], set by api/auth.py


def principal_of(request: web.Request) -> Principal:
    """The authenticated caller; the auth middleware has refused the request before a handler runs without one."""
    return request[PRINCIPAL]
