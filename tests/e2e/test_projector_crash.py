"""SIGKILL the projector process mid-stream, restart it, and get exactly the read model of an uninterrupted run."""

from __future__ import annotations

import asyncpg

from planperfect.migrate import migrate
from projections.runner import ProjectionRunner
from streams.topics import Topics
from tests.joblog import dump, job_events, produce
from tests.support import eventually, start_child


async def _applied(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT coalesce(sum(next_offset), 0) FROM projection_offsets WHERE projection = 'jobs'")
    finally:
        await conn.close()


async def test_projector_killed_mid_batch_resumes_exactly(infra, prefix, database, empty_database, tmp_path):
    events = await job_events(60, fail_every=7)
    total = await produce(infra.bootstrap, Topics(prefix).job_events, events)

    reference = ProjectionRunner(bootstrap=infra.bootstrap, dsn=database, topics=Topics(f"{prefix}"), batch_size=500)
    await reference.start()
    await reference.run_until_caught_up(timeout=60)
    await reference.stop()

    await migrate(empty_database)
    env = {
        "PLANPERFECT_KAFKA_BOOTSTRAP": infra.bootstrap,
        "PLANPERFECT_DATABASE_URL": empty_database,
        "PLANPERFECT_TOPIC_PREFIX": prefix,
        "PLANPERFECT_PROJECTOR_BATCH_SIZE": "3",
        "PLANPERFECT_PROJECTOR_BATCH_WAIT_MS": "5",
    }
    child = start_child("projector", env, tmp_path)

    async def partway():
        done = await _applied(empty_database)
        return done if 0 < done < total else 0

    await eventually(partway, timeout=60, interval=0.01, what="projector part-way through the log")
    child.kill()
    killed_at = await _applied(empty_database)
    assert 0 < killed_at < total

    child = start_child("projector", env, tmp_path)
    try:
        async def caught_up():
            return await _applied(empty_database) == total

        await eventually(caught_up, timeout=60, what="projector caught up after restart")
    finally:
        child.stop()
    assert await dump(empty_database) == await dump(database)
