"""`bench seed`: the seed's design as written, a PostgreSQL queue per stage worked one message at a time.

Two workers per stage, each on its own connection, claim the oldest queued row with `FOR UPDATE SKIP LOCKED`,
move the job on in `content_jobs`, append its events to `content_events` and queue the next stage, in one
transaction per message. Like the relay it carries messages only: no stage work.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg

from planperfect.bench.report import Progress, Result
from streams.payloads import PIPELINES, JobType

STAGES = [s.value for s in PIPELINES[JobType.ARTICLE]]
WORKERS_PER_STAGE = 2
IDLE_POLL_S = 0.01  # an empty queue is asked again this soon: the seed polled, and a short poll is its best case

QUEUE_DDL = """
CREATE TABLE IF NOT EXISTS seed_queue_{stage} (
    id         bigserial PRIMARY KEY,
    job_id     uuid        NOT NULL,
    payload    jsonb       NOT NULL,
    status     text        NOT NULL DEFAULT 'queued',
    created_at timestamptz NOT NULL DEFAULT now(),
    locked_at  timestamptz
)"""
CLAIM = """
SELECT id, job_id, payload FROM seed_queue_{stage}
WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"""
START = """
UPDATE content_jobs SET status = 'running', current_stage = $2, dequeued_at = now(), updated_at = now(),
       last_sequence = last_sequence + 1
WHERE job_id = $1 RETURNING last_sequence"""
EVENT = """
INSERT INTO content_events (event_id, job_id, sequence, type, schema_version, occurred_at, correlation_id, body,
                            kafka_topic, kafka_partition, kafka_offset)
VALUES ($1, $2, $3::int, $4, 1, now(), $2, $5, 'seed', 0, $3::int)"""
DONE = "UPDATE seed_queue_{stage} SET status = 'done', locked_at = now() WHERE id = $1"
ENQUEUE = "INSERT INTO seed_queue_{stage} (job_id, payload) VALUES ($1, $2)"
ADVANCE = "UPDATE content_jobs SET status = $2, current_stage = $3, last_sequence = $4, updated_at = now(){end} WHERE job_id = $1"
SUBMIT = """
INSERT INTO content_jobs (job_id, job_type, status, current_stage, requester_email, title, brief, priority,
                          max_attempts, retry_delay_seconds, visibility_seconds, correlation_id, last_sequence,
                          queued_at, available_at, updated_at)
VALUES ($1, 'article', 'queued', 'research', 'bench@example.com', $2, $3, 5, 3, 5, 600, $1, 1, now(), now(), now())"""


async def work(dsn: str, stage: str, after: str | None, finished: list[int], stop: asyncio.Event) -> None:
    conn = await asyncpg.connect(dsn)
    claim, done = CLAIM.format(stage=stage), DONE.format(stage=stage)
    enqueue = ENQUEUE.format(stage=after) if after else None
    advance = ADVANCE.format(end="" if after else ", completed_at = now()")
    try:
        while not stop.is_set():
            async with conn.transaction():
                row = await conn.fetchrow(claim)
                if row is not None:
                    job_id = row["job_id"]
                    seq = await conn.fetchval(START, job_id, stage)
                    await conn.execute(EVENT, uuid.uuid4(), job_id, seq, "StageStarted", '{"stage": "%s"}' % stage)
                    await conn.execute(done, row["id"])
                    await conn.execute(EVENT, uuid.uuid4(), job_id, seq + 1, "StageCompleted", row["payload"])
                    if enqueue:
                        await conn.execute(enqueue, job_id, row["payload"])
                    await conn.execute(advance, job_id, "queued" if after else "completed", after, seq + 1)
            if row is None:
                await asyncio.sleep(IDLE_POLL_S)
            elif not after:
                finished[0] += 1
    finally:
        await conn.close()


async def run_seed(dsn: str, *, jobs: int, payload_bytes: int = 1024, timeout: float = 300.0) -> Result:
    conn = await asyncpg.connect(dsn)
    for stage in STAGES:
        await conn.execute(QUEUE_DDL.format(stage=stage))
    finished, stop = [0], asyncio.Event()
    workers = [asyncio.create_task(work(dsn, stage, after, finished, stop))
               for stage, after in zip(STAGES, [*STAGES[1:], None]) for _ in range(WORKERS_PER_STAGE)]
    progress = Progress("seed", jobs)
    payload = '{"x": "%s"}' % ("x" * payload_bytes)
    try:
        ids = [uuid.uuid4() for _ in range(jobs)]
        began = time.monotonic()
        async with conn.transaction():
            await conn.executemany(SUBMIT, [(i, f"Seed job {n}", '{"title": "seed"}') for n, i in enumerate(ids)])
            await conn.executemany(ENQUEUE.format(stage=STAGES[0]), [(i, payload) for i in ids])
        while finished[0] < jobs and time.monotonic() - began < timeout:
            if failed := [w for w in workers if w.done()]:
                failed[0].result()
            progress.update(finished[0])
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - began
        progress.update(finished[0])
    finally:
        progress.close()
        stop.set()
        await asyncio.gather(*workers, return_exceptions=True)
        await conn.close()
    result = Result("seed: a PostgreSQL queue per stage, one message at a time")
    result.add("jobs_per_s", f"jobs/s ({jobs:,} jobs through {len(STAGES)} stage queues)", finished[0] / elapsed,
               "jobs/s", "" if finished[0] == jobs else f"timed out: {finished[0]} of {jobs}")
    result.notes.append(f"{WORKERS_PER_STAGE} workers per stage ({WORKERS_PER_STAGE * len(STAGES)} connections), "
                        f"SELECT ... FOR UPDATE SKIP LOCKED, one transaction per message, {payload_bytes}-byte payload")
    return result
