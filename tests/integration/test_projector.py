"""The projector against a real broker and database: exact, idempotent, batch-independent, resumable."""

from __future__ import annotations

import asyncpg
import pytest

from projections.outages import POSTGRES, out_of_reach
from projections.runner import ProjectionRunner
from streams.topics import Topics
from tests.joblog import dump, job_events, produce
from streams.access import kafka_options


async def _project(infra, dsn: str, prefix: str, batch: int) -> ProjectionRunner:
    runner = ProjectionRunner(bootstrap=infra.bootstrap, dsn=dsn, topics=Topics(prefix), batch_size=batch,
                              batch_wait_ms=20, group=f"{prefix}projector-{dsn.rpartition('/')[2]}")
    await runner.start()
    try:
        await runner.run_until_caught_up(timeout=60)
    finally:
        await runner.stop()
    return runner


async def test_batches_of_any_size_give_the_same_tables(infra, prefix, database, empty_database):
    from planperfect.migrate import migrate

    events = await job_events(12, fail_every=5)
    await produce(infra.bootstrap, Topics(prefix).job_events, events)
    big = await _project(infra, database, prefix, 500)
    await migrate(empty_database)
    # A second projector with another group and tiny batches must build the identical read model.
    small = await _project(infra, empty_database, f"{prefix}", 3)
    assert small.stats.batches > big.stats.batches
    a, b = await dump(database), await dump(empty_database)
    assert a == b
    assert len(a["content_events"]) == len(events)
    conn = await asyncpg.connect(database)
    try:
        statuses = {r["status"] for r in await conn.fetch("SELECT status FROM content_jobs")}
        retried = await conn.fetchval("SELECT count(*) FROM content_job_stages WHERE stage = 'draft' AND attempts = 2")
    finally:
        await conn.close()
    assert statuses == {"completed"}
    assert retried == 3  # jobs 0, 5 and 10 failed their draft once


async def test_replaying_from_zero_changes_nothing(infra, prefix, database):
    events = await job_events(6)
    await produce(infra.bootstrap, Topics(prefix).job_events, events)
    await _project(infra, database, prefix, 50)
    before = await dump(database)
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("UPDATE projection_offsets SET next_offset = 0")
    finally:
        await conn.close()
    # Produce the same facts again too (a redelivery): still nothing changes.
    await produce(infra.bootstrap, Topics(prefix).job_events, events[:10])
    await _project(infra, database, prefix, 7)
    after = await dump(database)
    assert {k: v for k, v in before.items() if k != "content_events"} == {
        k: v for k, v in after.items() if k != "content_events"
    }
    assert [r[:4] for r in before["content_events"]] == [r[:4] for r in after["content_events"]]


async def test_undecodable_bytes_are_dead_lettered_and_the_partition_flows(infra, prefix, database):
    events = await job_events(3)
    poison = [b"\xff\xfe not json", b'{"type": "JobSubmitted", "schema_version": 99}', b'{"type": "Nope"}']
    await produce(infra.bootstrap, Topics(prefix).job_events, events, extra_raw=poison)
    await _project(infra, database, prefix, 100)
    conn = await asyncpg.connect(database)
    try:
        letters = await conn.fetch("SELECT reason, error, raw FROM content_dead_letters ORDER BY source_offset")
        jobs = await conn.fetchval("SELECT count(*) FROM content_jobs WHERE status = 'completed'")
    finally:
        await conn.close()
    assert jobs == 3
    assert sorted(bytes(r["raw"]) for r in letters) == sorted(poison)
    assert {r["reason"] for r in letters} == {"undecodable"}
    assert any("newer than this code" in r["error"] for r in letters)


async def test_a_log_mixing_v1_and_v2_events_folds_like_an_all_v2_log(infra, prefix, database, empty_database):
    """StageStarted went v1 (time_limit_seconds) -> v2 (time_limit_ms); old bytes are upcast on read."""
    import json

    from aiokafka import AIOKafkaProducer

    from planperfect.migrate import migrate
    from streams.codec import encode, key_for
    from tests.conftest import create_prefix, delete_prefix

    events = await job_events(8, fail_every=3)
    await produce(infra.bootstrap, Topics(prefix).job_events, events)
    mixed_prefix = await create_prefix(infra)
    try:
        producer = AIOKafkaProducer(**kafka_options(infra.bootstrap), acks="all")
        await producer.start()
        downgraded = 0
        try:
            for i, e in enumerate(events):
                raw = json.loads(encode(e))
                if raw["type"] == "StageStarted" and i % 2:
                    raw["schema_version"] = 1
                    raw["time_limit_seconds"] = raw.pop("time_limit_ms") // 1000
                    downgraded += 1
                if raw["type"] == "StageFailed":  # v1 had no usage (these attempts made no model call either)
                    assert raw.pop("usage") == {"provider": None, "calls": []}
                    raw["schema_version"] = 1
                await producer.send_and_wait(Topics(mixed_prefix).job_events, json.dumps(raw).encode(), key=key_for(e.job_id))
        finally:
            await producer.stop()
        assert downgraded > 10
        await migrate(empty_database)
        await _project(infra, database, prefix, 100)
        await _project(infra, empty_database, mixed_prefix, 100)
        all_v2 = await dump(database, without_positions=True)  # the two logs live on different topics
        mixed = await dump(empty_database, without_positions=True)
    finally:
        await delete_prefix(infra, mixed_prefix)
    assert mixed == all_v2
    assert all(json.loads(row[8])["schema_version"] == 2 for row in mixed["content_events"] if row[3] == "StageStarted")


class DatabaseGoneOnAssignment(ProjectionRunner):
    """A runner whose database is dropped just as its partitions are assigned, before it reads its positions."""

    admin_dsn: str = ""

    async def load_positions(self, assigned) -> None:
        admin = await asyncpg.connect(self.admin_dsn)
        try:  # FORCE ends the runner's sessions too, as a server going away does
            await admin.execute(f'DROP DATABASE "{self.dsn.rpartition("/")[2]}" WITH (FORCE)')
        finally:
            await admin.close()
        await super().load_positions(assigned)


async def test_positions_that_fail_to_load_on_assignment_fail_the_next_step(infra, prefix, database):
    # aiokafka only logs what the rebalance listener raises; the runner must not go on without its positions.
    runner = DatabaseGoneOnAssignment(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), batch_wait_ms=20)
    runner.admin_dsn = infra.admin_dsn
    await runner.start()
    try:
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)) as lost:
            await runner.run_until_caught_up(timeout=20)
        assert out_of_reach(lost.value) == POSTGRES, repr(lost.value)  # so run_projector waits and starts afresh
        with pytest.raises(type(lost.value)):
            await runner.step()  # and so does every later step: this runner does not know where it stands
        assert runner.stats.batches == 0
    finally:
        await runner.stop()
