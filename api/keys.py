"""API keys: the only module that creates, lists, revokes and verifies them (table api_keys, migration 0010).

A key reads `pp_<key_id>_<secret>`: the id is public (it names the key in lists, logs and events), the secret is
32 random bytes. Only SHA-256 of the whole key is stored. A slow password hash (bcrypt, scrypt, argon2) exists to
make guessing a low-entropy password expensive; a 256-bit random secret cannot be guessed at any speed, so a
fast hash is as safe and keeps the check to microseconds on every request (the scheme of GitHub's and Stripe's
tokens). The stored hash is compared in constant time. Every change is also a fact on the access-events topic
(with who made it), written before the change commits, so that a change the log did not take is not made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import uuid5

import asyncpg

from api.principal import Principal, Role
from api.remembered import OUTAGE_TRUST_SECONDS, Remembered
from streams.access_events import AccessFact, KeyCreated, KeyRevoked
from streams.envelope import PLANPERFECT_NS


KEY_PATTERN = re.compile(r"^pp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")

# Publishes one fact to the log and returns once Kafka has acknowledged it (the API's `publish`, or the CLI's
# own producer); raising aborts the change.
Send = Callable[[AccessFact], Awaitable[None]]

_COLUMNS = "key_id, name, role, tenant, created_at, created_by, revoked_at, revoked_by"


@dataclass(frozen=True)
class KeyRecord:
    """A key as `keys list` and GET /v1/keys show it: everything but its secret and hash."""

    key_id: str
    name: str
    role: Role
    tenant: str | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> "KeyRecord":
        return cls(**{k: row[k] for k in _COLUMNS.split(", ")} | {"role": Role(row["role"])})

    @property
    def principal(self) -> Principal:
        return Principal(key_id=self.key_id, name=self.name, role=self.role, tenant=self.tenant)

    def as_json(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "name": self.name, "role": self.role.value, "tenant": self.tenant,
                "created_at": self.created_at.isoformat(), "created_by": self.created_by,
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None, "revoked_by": self.revoked_by}


def key_id_of(key: str) -> str | None:
    """The public id inside a key of our format, or None for anything else."""
    m = KEY_PATTERN.match(key)
    return m.group(1) if m else None


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def matches(key: str, secret_hash: bytes) -> bool:
    return hmac.compare_digest(digest(key), secret_hash)


def _new_key() -> tuple[str, str]:
    key_id = secrets.token_hex(6)
    return key_id, f"pp_{key_id}_{secrets.token_urlsafe(32)}"


async def create_key(conn: asyncpg.Connection, send: Send, *, name: str, role: Role, tenant: str | None,
                     actor: str) -> tuple[KeyRecord, str]:
    """A new key and its secret (shown once: it cannot be read back)."""
    key_id, key = _new_key()
    now = datetime.now(timezone.utc)
    async with conn.transaction():
        row = await conn.fetchrow(
            f"INSERT INTO api_keys (key_id, name, role, tenant, secret_hash, created_at, created_by) "
            f"VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}",
            key_id, name, role.value, tenant, digest(key), now, actor)
        await send(KeyCreated(event_id=uuid5(PLANPERFECT_NS, f"key:{key_id}:created"), key_id=key_id,
                              occurred_at=now, actor=actor, name=name, role=role.value, tenant=tenant))
    return KeyRecord.of(row), key


async def revoke_key(conn: asyncpg.Connection, send: Send, key_id: str, *, actor: str) -> KeyRecord | None:
    """Revoke a key (at once for every API process that has not checked it within its cache time); None if
    unknown. Revoking a revoked key changes nothing and writes nothing."""
    now = datetime.now(timezone.utc)
    async with conn.transaction():
        row = await conn.fetchrow(
            f"UPDATE api_keys SET revoked_at = $2, revoked_by = $3 WHERE key_id = $1 AND revoked_at IS NULL "
            f"RETURNING {_COLUMNS}", key_id, now, actor)
        if row is None:
            return await find_key(conn, key_id)
        await send(KeyRevoked(event_id=uuid5(PLANPERFECT_NS, f"key:{key_id}:revoked"), key_id=key_id,
                              occurred_at=now, actor=actor))
    return KeyRecord.of(row)


async def list_keys(conn: asyncpg.Connection) -> list[KeyRecord]:
    return [KeyRecord.of(r) for r in await conn.fetch(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, key_id")]


async def find_key(conn: asyncpg.Connection, key_id: str) -> KeyRecord | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = $1", key_id)
    return KeyRecord.of(row) if row else None


async def verify(conn: asyncpg.Connection, key: str) -> KeyRecord | None:
    """The live (not revoked) key that `key` is, or None."""
    entry = await lookup(conn, key_id_of(key) or "")
    return entry[0] if entry and matches(key, entry[1]) and entry[0].revoked_at is None else None


async def lookup(conn: asyncpg.Connection, key_id: str) -> tuple[KeyRecord, bytes] | None:
    """A key with its stored hash, for a verifier that caches (api/auth.py)."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS}, secret_hash FROM api_keys WHERE key_id = $1", key_id)
    return (KeyRecord.of(row), bytes(row["secret_hash"])) if row else None


class KeyVerifier:
    """Verifies keys for one API process, remembering each key id's row for `ttl` seconds.

    The cache spares every request a round trip to PostgreSQL, and lets intake go on while PostgreSQL is out of
    reach; its price is that a key revoked by another process (the CLI, another API) is refused within `ttl`
    seconds rather than at once. A revocation through this process's own API forgets the key at once.

    During an outage a key is trusted as it was when last checked, but for `outage_trust` seconds after that check
    only: a key revoked just before the outage would otherwise keep working for all of it. Past that, the key
    meets the outage's 503 like an unknown one (api/remembered.py, the rule monitor sessions follow too).
    """

    OUTAGE_TRUST_SECONDS = OUTAGE_TRUST_SECONDS

    def __init__(self, pool: asyncpg.Pool, ttl: float, outage_trust: float = OUTAGE_TRUST_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rows: Remembered[str, tuple[KeyRecord, bytes] | None] = Remembered(
            pool, lookup, ttl=ttl, what="API keys", outage_trust=outage_trust, clock=clock)

    async def principal(self, key: str) -> Principal | None:
        """Who `key` is, or None for a malformed, unknown or revoked key (all alike to the caller)."""
        key_id = key_id_of(key)
        if key_id is None:
            return None
        entry = await self._rows.get(key_id)
        if entry is None or entry[0].revoked_at is not None or not matches(key, entry[1]):
            return None
        return entry[0].principal

    def forget(self, key_id: str) -> None:
        self._rows.forget(key_id)
