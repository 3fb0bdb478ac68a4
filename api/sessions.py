"""The web monitor's sign-in sessions: a random id in the browser's cookie, never the API key (table monitor_sessions).

A browser sends a cookie of 127.0.0.1 to every port of 127.0.0.1, so whatever the cookie holds reaches any other
local web server the operator opens: it must not be the key. The session row keeps SHA-256 of the id (as api_keys
keeps only its keys' hashes), the public id of the key it was made with and when it expires; the key itself is
read through api/keys.py, so a session ends when its key is revoked. Rows live in PostgreSQL, so every API process
behind a balancer knows every session. Each process remembers a checked session for `ttl` seconds, as KeyVerifier
remembers keys: a revocation or sign-out made elsewhere applies within that time, here at once.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime, timedelta, timezone

import asyncpg
from aiohttp import web

from api.keys import KeyRecord, digest, find_key
from api.principal import Principal
from projections.outages import POSTGRES, out_of_reach

SESSION_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


class Sessions:
    """Opens, checks and ends the monitor's sessions for one API process."""

    MAX_ENTRIES = 10_000  # unknown ids are remembered too; a flood of them empties the cache, not memory

    def __init__(self, pool: asyncpg.Pool, *, ttl: float, lifetime: float) -> None:
        self._pool = pool
        self._ttl = ttl
        self._lifetime = timedelta(seconds=lifetime)
        self._rows: dict[bytes, tuple[float, tuple[KeyRecord, datetime] | None]] = {}

    async def open(self, principal: Principal) -> str:
        """A new session for the key `principal` signed in with; its id is shown once, to the browser."""
        session = secrets.token_urlsafe(32)
        now = datetime.now(timezone.utc)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM monitor_sessions WHERE expires_at <= $1", now)
            await conn.execute("INSERT INTO monitor_sessions (session_hash, key_id, created_at, expires_at) "
                               "VALUES ($1, $2, $3, $4)", digest(session), principal.key_id, now, now + self._lifetime)
        return session

    async def principal(self, session: str) -> Principal | None:
        """Who the session is, or None for an unknown, expired or ended session, or one whose key is revoked."""
        if not SESSION_PATTERN.match(session):
            return None
        hashed = digest(session)
        now = time.monotonic()
        cached = self._rows.get(hashed)
        if cached is None or now - cached[0] >= self._ttl:
            try:
                async with self._pool.acquire() as conn:
                    entry = await _lookup(conn, hashed)
            except Exception as exc:
                # PostgreSQL out of reach: a session checked before is trusted as it was, as keys are (api/keys.py).
                if cached is None or out_of_reach(exc, sockets=POSTGRES) != POSTGRES:
                    raise
            else:
                if len(self._rows) >= self.MAX_ENTRIES:
                    self._rows.clear()
                self._rows[hashed] = cached = (now, entry)
        entry = cached[1]
        if entry is None or entry[0].revoked_at is not None or entry[1] <= datetime.now(timezone.utc):
            return None
        return entry[0].principal

    async def end(self, session: str) -> None:
        """Sign out: the session is gone for every process (here at once, elsewhere within `ttl`)."""
        if not SESSION_PATTERN.match(session):
            return
        hashed = digest(session)
        self._rows.pop(hashed, None)
        async with self._pool.acquire() as conn:
            await conn.execute("DELETE FROM monitor_sessions WHERE session_hash = $1", hashed)

    def forget_key(self, key_id: str) -> None:
        """The key was revoked through this process: its sessions are checked afresh on their next request."""
        for hashed in [h for h, (_, entry) in self._rows.items() if entry is not None and entry[0].key_id == key_id]:
            del self._rows[hashed]


async def _lookup(conn: asyncpg.Connection, hashed: bytes) -> tuple[KeyRecord, datetime] | None:
    row = await conn.fetchrow("SELECT key_id, expires_at FROM monitor_sessions WHERE session_hash = $1", hashed)
    if row is None:
        return None
    key = await find_key(conn, row["key_id"])
    return (key, row["expires_at"]) if key is not None else None


SESSIONS = web.AppKey("monitor_sessions", Sessions)  # app[SESSIONS], made by api/monitor/mount.py
