"""`planperfect bench …`: the benchmarks, each on a database and topic prefix of its own, printing a table."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from planperfect.settings import Settings


def register(sub) -> None:
    from planperfect.cli import _command

    bench = _command(sub, "bench", "throughput and latency benchmarks",
                     description="Benchmarks that print figures, never assert: each makes a database and topic "
                                 "prefix of its own on the configured cluster and removes them afterwards."
                     ).add_subparsers(dest="bench_cmd", required=True, metavar="COMMAND")
    r = _command(bench, "relay", "the raw aiokafka 6-hop relay: the limit", cmd_relay)
    r.add_argument("--jobs", type=int, default=5000, help="jobs relayed through the six hops (default %(default)s)")
    r.add_argument("--payload-bytes", type=int, default=1024, help="size of each message's payload")
    r.add_argument("--partitions", type=int, default=12, help="partitions of the relay's topics")
    s = _command(bench, "seed", "the seed's design: a PostgreSQL queue per stage, one message at a time", cmd_seed)
    s.add_argument("--jobs", type=int, default=1000, help="jobs through the queues (default %(default)s)")
    p = _command(bench, "pipeline", "worker and projector processes, simulated provider: burst, then paced",
                 cmd_pipeline)
    p.add_argument("--jobs", type=int, default=1000, help="jobs in the burst")
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--latency-ms", type=float, default=0.0, help="simulated median latency per provider call")
    p.add_argument("--latency-p99-ms", type=float, default=0.0, help="its 99th percentile (default: no spread)")
    p.add_argument("--paced-seconds", type=float, default=10.0, help="length of the paced run (0: none)")
    p.add_argument("--timeout", type=float, default=300.0, help="longest wait for a burst, in seconds")
    j = _command(bench, "projections", "live projector and rebuild, events/s", cmd_projections)
    j.add_argument("--events", type=int, default=100_000, help="at least this many events in the log")
    j.add_argument("--batch-size", type=int, default=1000, help="rebuild events per transaction")
    i = _command(bench, "intake", "POST /v1/jobs requests/s on a real API process", cmd_intake)
    i.add_argument("--requests", type=int, default=5000, help="requests sent (default %(default)s)")
    i.add_argument("--concurrency", type=int, default=64, help="requests in flight at once")
    c = _command(bench, "scale", "pipeline burst with 1, 2 and 4 worker processes", cmd_scale)
    c.add_argument("--jobs", type=int, default=600, help="jobs in each burst")
    c.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="worker process counts to run")
    c.add_argument("--latency-ms", type=float, default=0.0, help="simulated median latency per provider call")
    c.add_argument("--timeout", type=float, default=300.0, help="longest wait for a burst, in seconds")
    a = _command(bench, "all", "every benchmark side by side; writes docs/benchmarks.md and its plots", cmd_all)
    a.add_argument("--docs", type=Path, default=Path("docs"), help="where benchmarks.md and the PNGs go")
    a.add_argument("--size-factor", type=float, default=1.0,
                   help="multiply every benchmark's job, event and request count (default sizes take a few minutes "
                        "on 2 cores)")


def _quiet() -> None:
    """The clients' retried errors (a new topic's leader not known yet, say) would bury the progress lines."""
    from planperfect.processes import configure_logging

    configure_logging(level="WARNING", libraries="CRITICAL")


def _show(result) -> int:
    from planperfect.bench.report import table

    print(table(result))
    return 0


def cmd_relay(settings: Settings, args) -> int:
    _quiet()
    from planperfect.bench.deployment import deployment
    from planperfect.bench.relay import run_relay

    async def main():
        async with deployment(settings, "relay", catalogue=False) as dep:
            return await run_relay(dep.settings.kafka(), dep.settings.topic_prefix, jobs=args.jobs,
                                   payload_bytes=args.payload_bytes, partitions=args.partitions)

    return _show(asyncio.run(main()))


def cmd_seed(settings: Settings, args) -> int:
    _quiet()
    from planperfect.bench.deployment import deployment
    from planperfect.bench.seed import run_seed

    async def main():
        async with deployment(settings, "seed", catalogue=False) as dep:
            return await run_seed(dep.settings.database(), jobs=args.jobs)

    return _show(asyncio.run(main()))


def cmd_pipeline(settings: Settings, args) -> int:
    _quiet()
    from planperfect.bench.pipeline import run_pipeline

    return _show(asyncio.run(run_pipeline(
        settings, jobs=args.jobs, workers=args.workers, latency_ms=args.latency_ms, p99_ms=args.latency_p99_ms,
        paced_seconds=args.paced_seconds, timeout=args.timeout)))


def cmd_projections(settings: Settings, args) -> int:
    _quiet()
    from planperfect.bench.projections import run_projections

    return _show(asyncio.run(run_projections(settings, events=args.events, batch_size=args.batch_size,
                                             echo=lambda line: print(line, file=sys.stderr, flush=True))))


def cmd_intake(settings: Settings, args) -> int:
    _quiet()
    from planperfect.bench.intake import run_intake

    return _show(asyncio.run(run_intake(settings, requests=args.requests, concurrency=args.concurrency)))


def cmd_scale(settings: Settings, args) -> int:
    _quiet()
    from planperfect.bench.pipeline import run_scale

    return _show(asyncio.run(run_scale(settings, jobs=args.jobs, counts=tuple(args.workers),
                                       latency_ms=args.latency_ms, timeout=args.timeout,
                                       echo=lambda line: print(line, file=sys.stderr, flush=True))))


def cmd_all(settings: Settings, args) -> int:
    _quiet()
    from planperfect.bench.suite import Sizes, run_all

    asyncio.run(run_all(settings, Sizes().scaled(args.size_factor), args.docs))
    return 0
