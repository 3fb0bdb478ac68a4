"""What batching buys the projector: events per second folding the same log with batch sizes 1, 50 and 500.

    .venv/bin/python benchmarks/projector_batching.py [--jobs 300]

Uses PLANPERFECT_KAFKA_BOOTSTRAP / PLANPERFECT_DATABASE_URL when both are set, else the local stack.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planperfect.migrate import migrate  # noqa: E402
from planperfect.settings import Settings  # noqa: E402
from planperfect.topic_admin import ensure_topics  # noqa: E402
from projections.runner import ProjectionRunner  # noqa: E402
from streams.topics import Topics  # noqa: E402
from tests.joblog import job_events, produce  # noqa: E402


async def fold(bootstrap: str, admin_dsn: str, prefix: str, batch: int) -> tuple[float, int]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = admin_dsn.rpartition("/")[0] + f"/{name}"
    try:
        await migrate(dsn)
        runner = ProjectionRunner(bootstrap=bootstrap, dsn=dsn, topics=Topics(prefix), batch_size=batch,
                                  batch_wait_ms=20, group=f"{prefix}bench-{batch}")
        await runner.start()
        t0 = time.perf_counter()
        await runner.run_until_caught_up(timeout=1800)
        elapsed = time.perf_counter() - t0
        await runner.stop()
        return elapsed, runner.stats.batches
    finally:
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=300)
    args = ap.parse_args()
    settings = Settings()
    if settings.uses_local_stack:
        from planperfect.stack import LocalStack

        settings = (await asyncio.to_thread(LocalStack(settings).up)).as_admin(settings)  # its own databases and prefixes
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(settings.kafka(), prefix)
    events = await job_events(args.jobs, fail_every=10)
    await produce(settings.kafka(), Topics(prefix).job_events, events)
    print(f"log: {len(events)} events of {args.jobs} jobs")
    for batch in (1, 50, 500):
        elapsed, batches = await fold(settings.kafka(), settings.database(), prefix, batch)
        print(f"batch size {batch:>4}: {len(events) / elapsed:8.0f} events/s ({batches} transactions, {elapsed:.2f}s)")


if __name__ == "__main__":
    asyncio.run(main())
