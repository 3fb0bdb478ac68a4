"""Migrations against a real PostgreSQL: apply, re-apply as a no-op, refuse an edited file, give the expected schema."""

from __future__ import annotations

import shutil

import asyncpg
import pytest

from planperfect.migrate import MigrationError, migrate, migrations_dir

EXPECTED_TABLES = {
    "schema_migrations", "content_jobs", "content_job_stages", "content_events", "content_payloads",
    "content_dead_letters", "projection_offsets", "usage_jobs", "usage_calls", "api_keys", "monitor_sessions",
}


async def test_apply_then_reapply_is_a_noop(empty_database):
    applied = await migrate(empty_database)
    assert [m.version for m in applied] == sorted(m.version for m in applied) and applied
    assert await migrate(empty_database) == []
    conn = await asyncpg.connect(empty_database)
    try:
        tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        recorded = await conn.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await conn.close()
    assert EXPECTED_TABLES <= tables
    assert recorded == len(applied)


async def test_schema_has_the_columns_the_projections_write(empty_database):
    await migrate(empty_database)
    conn = await asyncpg.connect(empty_database)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        )
    finally:
        await conn.close()
    columns = {(r["table_name"], r["column_name"]) for r in rows}
    for needed in [
        ("content_jobs", "priority"), ("content_jobs", "attempts"), ("content_jobs", "max_attempts"),
        ("content_jobs", "retry_delay_seconds"), ("content_jobs", "visibility_seconds"),
        ("content_jobs", "queued_at"), ("content_jobs", "dequeued_at"), ("content_jobs", "completed_at"),
        ("content_jobs", "failed_at"), ("content_jobs", "dead_lettered_at"), ("content_jobs", "last_error"),
        ("content_job_stages", "visibility_timeout_at"), ("content_events", "sequence"),
        ("content_payloads", "body"), ("content_dead_letters", "raw"), ("projection_offsets", "next_offset"),
        ("content_jobs", "request_fingerprint"), ("pacing_schedules", "request_fingerprint"),
        ("pacing_knowledge_documents", "request_fingerprint"), ("pacing_meetings", "request_fingerprint"),
    ]:
        assert needed in columns, needed


async def test_an_edited_applied_migration_is_refused(empty_database, tmp_path):
    copy = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), copy)
    await migrate(empty_database, copy)
    first = sorted(copy.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after the fact\n")
    with pytest.raises(MigrationError, match="was changed after it was applied"):
        await migrate(empty_database, copy)


async def test_a_new_migration_is_applied_alone(empty_database, tmp_path):
    copy = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), copy)
    await migrate(empty_database, copy)
    (copy / "9999_extra_table.sql").write_text("CREATE TABLE IF NOT EXISTS extra_table (id int);")
    applied = await migrate(empty_database, copy)
    assert [m.name for m in applied] == ["extra_table"]


async def test_a_failing_migration_leaves_nothing_behind(empty_database, tmp_path):
    copy = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), copy)
    (copy / "9999_broken.sql").write_text("CREATE TABLE half_done (id int); SELECT * FROM no_such_table;")
    with pytest.raises(asyncpg.PostgresError):
        await migrate(empty_database, copy)
    conn = await asyncpg.connect(empty_database)
    try:
        assert await conn.fetchval("SELECT to_regclass('half_done')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE version = 9999") == 0
    finally:
        await conn.close()
