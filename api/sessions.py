"""The web monitor's sign-in sessions: a random id in the browser's cookie, never the API key (table monitor_sessions).

A browser sends a cookie of 127.0.0.1 to every port of 127.0.0.1, so whatever the cookie holds reaches any other
local web server the operator opens: it must not be the key, and it is worth no more than the monitor needs. The
session row keeps SHA-256 of the id (as api_keys keeps only its keys' hashes), the public id of the key it was made
with and when it expires; the key itself is read through api/keys.py, so a session ends when its key is revoked, and
it acts as that key's role capped at operator (the monitor has nothing admin-only: an admin key signs in as an
operator, so a leaked session can never make or revoke keys). Rows live in PostgreSQL, so every API process behind a
balancer knows every session. Each process remembers a checked session for `ttl` seconds, as KeyVerifier remembers
keys: a revocation or sign-out made elsewhere applies within that time, here at once; and while PostgreSQL is out of
reach, as a key is, for OUTAGE_TRUST_SECONDS after it was last checked, no longer (api/remembered.py: one rule).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import asyncpg
from aiohttp import web

from api.keys import KeyRecord, digest, find_key
from api.principal import Principal, Role
from api.remembered import OUTAGE_TRUST_SECONDS, Remembered


SESSION_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
SESSION_ROLE = Role.OPERATOR  # the most a session acts as: everything the monitor offers, never key changes


class Sessions:
    """Opens, checks and ends the monitor's sessions for one API process."""

    PER_KEY = 20  # live sessions of one key: a new sign-in past it ends that key's oldest

    def __init__(self, pool: asyncpg.Pool, *, ttl: float, lifetime: float,
                 outage_trust: float = OUTAGE_TRUST_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pool = pool
        self._lifetime = timedelta(seconds=lifetime)
        self._rows: Remembered[bytes, tuple[KeyRecord, datetime] | None] = Remembered(
            pool, _lookup, ttl=ttl, what="monitor sessions", outage_trust=outage_trust, clock=clock)

    async def open(self, principal: Principal, replaces: str | None = None) -> str:
        """A new session for the key `principal` signed in with; its id is shown once, to the browser. `replaces`:
        the session the same browser had (its cookie), which ends; past PER_KEY, the key's oldest sessions end."""
        session = secrets.token_urlsafe(32)
        now = datetime.now(timezone.utc)
        ended = [digest(replaces)] if replaces and SESSION_PATTERN.match(replaces) else []
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM monitor_sessions WHERE expires_at <= $1 OR session_hash = ANY($2)",
                               now, ended)
            await conn.execute("INSERT INTO monitor_sessions (session_hash, key_id, created_at, expires_at) "
                               "VALUES ($1, $2, $3, $4)", digest(session), principal.key_id, now, now + self._lifetime)
            ended += [r["session_hash"] for r in await conn.fetch(
                "DELETE FROM monitor_sessions WHERE session_hash IN (SELECT session_hash FROM monitor_sessions "
                "WHERE key_id = $1 ORDER BY created_at DESC, session_hash OFFSET $2) RETURNING session_hash",
                principal.key_id, self.PER_KEY)]
        for hashed in ended:
            self._rows.forget(bytes(hashed))
        return session

    async def principal(self, session: str) -> Principal | None:
        """Who the session acts as (its key's role, at most SESSION_ROLE), or None for an unknown, expired or ended
        session, or one whose key is revoked."""
        if not SESSION_PATTERN.match(session):
            return None
        entry = await self._rows.get(digest(session))
        if entry is None or entry[0].revoked_at is not None or entry[1] <= datetime.now(timezone.utc):
            return None
        return acting_as(entry[0].principal)

    async def end(self, session: str) -> None:
        """Sign out: the session is gone for every process (here at once, elsewhere within `ttl`)."""
        if not SESSION_PATTERN.match(session):
            return
        hashed = digest(session)
        self._rows.forget(hashed)
        async with self._pool.acquire() as conn:
            await conn.execute("DELETE FROM monitor_sessions WHERE session_hash = $1", hashed)

    def forget_key(self, key_id: str) -> None:
        """The key was revoked through this process: its sessions are checked afresh on their next request."""
        self._rows.forget_where(lambda entry: entry is not None and entry[0].key_id == key_id)


def acting_as(principal: Principal) -> Principal:
    """Who a session of the key `principal` acts as: the key, its role capped at SESSION_ROLE."""
    return principal if principal.role.rank <= SESSION_ROLE.rank else dataclasses.replace(principal, role=SESSION_ROLE)


async def _lookup(conn: asyncpg.Connection, hashed: bytes) -> tuple[KeyRecord, datetime] | None:
    row = await conn.fetchrow("SELECT key_id, expires_at FROM monitor_sessions WHERE session_hash = $1", hashed)
    if row is None:
        return None
    key = await find_key(conn, row["key_id"])
    return (key, row["expires_at"]) if key is not None else None


SESSIONS = web.AppKey("monitor_sessions", Sessions)  # app[SESSIONS], made by api/monitor/mount.py
