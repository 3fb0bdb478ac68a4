"""Applies migrations/NNNN_*.sql in order, each in a transaction, recording every file's checksum."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
import importlib.util
from pathlib import Path

import asyncpg

FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LOCK_KEY = 0x504C414E  # advisory lock: one migrator at a time per database


class MigrationError(RuntimeError):
    """The database and the migration files disagree; nothing was applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    """The installed `migrations/` folder (a namespace package of .sql files)."""
    spec = importlib.util.find_spec("migrations")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if Path(location).is_dir():
            return Path(location)
    raise MigrationError("the migrations folder is not installed with the package")


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """The migration files, ordered; a badly named file is an error, not silently skipped."""
    root = directory or migrations_dir()
    found: list[Migration] = []
    for path in sorted(root.iterdir()):
        if path.suffix != ".sql":
            continue
        m = FILE_RE.match(path.name)
        if not m:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lowercase_words.sql")
        found.append(Migration(int(m.group(1)), m.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number: {versions}")
    return found


async def migrate(dsn: str, directory: Path | None = None) -> list[Migration]:
    """Apply what is missing; returns the migrations applied by this call (empty: nothing to do)."""
    migrations = load_migrations(directory)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied: list[Migration] = []
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
            rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        done = {r["version"]: r for r in rows}
        for mig in migrations:
            row = done.get(mig.version)
            if row is not None:
                if row["checksum"] != mig.checksum:
                    raise MigrationError(
                        f"migration {mig.version:04d}_{mig.name}.sql was changed after it was applied "
                        f"(recorded sha256 {row['checksum'][:12]}, file {mig.checksum[:12]}); "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
                if await conn.fetchval("SELECT 1 FROM schema_migrations WHERE version=$1", mig.version):
                    continue  # another migrator got there first
                await conn.execute(mig.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    mig.version, mig.name, mig.checksum,
                )
            applied.append(mig)
        return applied
    finally:
        await conn.close()
