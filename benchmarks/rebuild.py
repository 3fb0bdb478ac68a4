"""Rebuild speed: a log of 100,000+ events folded by the live projector, then rebuilt from offset 0 and swapped in.
Prints events per second for both; asserts only that the rebuilt copy equals live, and that `verify` then agrees.

    .venv/bin/python benchmarks/rebuild.py [--events 100000] [--pacing-users 200] [--batch-size 1000] [--keep]

The log holds job events and pacing events (each user's schedule, knowledge documents and meetings).

Uses PLANPERFECT_KAFKA_BOOTSTRAP / PLANPERFECT_DATABASE_URL when both are set, else starts the local stack
(the same as `planperfect up`). Each run gets its own topic prefix and database, removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planperfect.bench.projections import produce_fast, synthesise  # noqa: E402  (one log builder, shared with `bench`)
from planperfect.migrate import load_migrations, migrate  # noqa: E402
from planperfect.settings import Settings  # noqa: E402
from planperfect.topic_admin import ensure_topics  # noqa: E402
from projections.rebuild import rebuild, verify  # noqa: E402
from projections.replay import LogHead, catch_up  # noqa: E402
from projections.runner import ProjectionRunner  # noqa: E402
from streams.pacing_events import ScheduleCreated  # noqa: E402
from streams.topics import Topics  # noqa: E402
from tests.joblog import T0  # noqa: E402
from tests.pacing_support import context_events  # noqa: E402
from streams.access import kafka_options

def pacing(users: int) -> list:
    """Per user: a schedule, three knowledge documents and two meetings (chunked by the projection)."""
    out: list = []
    for i in range(users):
        user = f"user-{i}"
        sid = uuid.uuid5(uuid.NAMESPACE_URL, f"{user}:schedule")
        out.append(ScheduleCreated(event_id=uuid.uuid5(sid, "created"), user_id=user, occurred_at=T0,
                                   correlation_id=sid, schedule_id=sid, time_zone="Europe/Berlin",
                                   local_times=["09:00"], days_of_week=["mon", "thu"], content_types=["blog_post"],
                                   window_days=14, active=True))
        out += context_events(user, T0.date(), T0, docs=3, meetings=2)
    return out


async def fold_live(bootstrap: str, dsn: str, topics: Topics) -> int:
    runner = ProjectionRunner(bootstrap=bootstrap, dsn=dsn, topics=topics)
    await runner.start()
    conn = await asyncpg.connect(dsn)
    try:
        async with LogHead(bootstrap, runner.sources) as head:
            return await catch_up(runner, conn, "public", [p.name for p in runner.projections], head,
                                  echo=print, timeout=3600, label="live projector")
    finally:
        await conn.close()
        await runner.stop()


async def main(args: argparse.Namespace) -> None:
    settings = Settings()
    if settings.uses_local_stack:
        from planperfect.stack import LocalStack

        settings = (await asyncio.to_thread(LocalStack(settings).up)).as_admin(settings)  # its own databases and prefixes
    bootstrap, server = settings.kafka(), settings.database()
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = f"{server.rpartition('/')[0]}/{name}"
    topics = Topics(f"bench{uuid.uuid4().hex[:8]}.")
    try:
        await migrate(dsn)
        await ensure_topics(bootstrap, topics.prefix)
        began = time.perf_counter()
        events = await synthesise(args.events)
        facts = pacing(args.pacing_users)
        print(f"synthesised {len(events):,} job events and {len(facts):,} pacing events "
              f"in {time.perf_counter() - began:.1f}s")
        began = time.perf_counter()
        await produce_fast(bootstrap, topics.job_events, events)
        await produce_fast(bootstrap, topics.pacing_events, facts)
        print(f"produced them in {time.perf_counter() - began:.1f}s")
        began = time.perf_counter()
        folded = await fold_live(bootstrap, dsn, topics)
        live_s = time.perf_counter() - began
        ddl = [(f"{m.version:04d}_{m.name}", m.sql) for m in load_migrations()]
        result = await rebuild(bootstrap, dsn, topics, ddl, batch_size=args.batch_size, echo=print)
        assert result.swapped and result.comparison.same, "the rebuilt copy differs from live"
        began = time.perf_counter()
        check = await verify(bootstrap, dsn, topics, ddl, batch_size=args.batch_size, echo=lambda _: None)
        verify_s = time.perf_counter() - began
        assert check.same, "\n".join(check.report())
        print(f"\nlive projector: {folded:,} events in {live_s:.1f}s = {folded / live_s:,.0f} events/s (batch 500)")
        print(f"rebuild:        {result.events:,} events in {result.seconds:.1f}s = {result.rate:,.0f} events/s "
              f"(batch {args.batch_size}, replay to the live head; compare and swap not included)")
        print(f"verify:         equal, in {verify_s:.1f}s")
    finally:
        if not args.keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            kafka = AIOKafkaAdminClient(**kafka_options(bootstrap))
            await kafka.start()
            try:
                await kafka.delete_topics([full for full, _ in topics.all()])
            finally:
                await kafka.close()
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="at least this many events (default 100000)")
    parser.add_argument("--pacing-users", type=int, default=200, help="users with pacing data (6 events each)")
    parser.add_argument("--batch-size", type=int, default=1000, help="rebuild events per transaction")
    parser.add_argument("--keep", action="store_true", help="keep the database and topics afterwards")
    asyncio.run(main(parser.parse_args()))
