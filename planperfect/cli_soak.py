"""`planperfect soak`: SIGKILLs, broker restarts and a PostgreSQL outage on a deployment of its own; lost 0, duplicated 0."""

from __future__ import annotations

import argparse
import asyncio
import sys

from planperfect.settings import Settings


def register(sub) -> None:
    from planperfect.cli import _command
    from planperfect.chaos.schedule import Plan

    d = Plan()
    s = _command(sub, "soak", "crash the processes, the broker and PostgreSQL while jobs flow; check none is lost",
                 cmd_soak,
                 description="Start a Kafka broker and a PostgreSQL cluster of its own (free ports, a temporary data "
                             "directory; never the configured ones), two workers, the projector and the API as real "
                             "processes, and submit jobs through the HTTP API while, at random points, workers, the "
                             "projector and the API are SIGKILLed (each replaced at once), the broker is SIGKILLed and "
                             "started again, and PostgreSQL is SIGKILLed and held down. Then wait for every accepted "
                             "job to end and judge the Kafka log and the read model. Exit 0 only when no accepted job "
                             "was lost and no fact was duplicated.")
    s.add_argument("--kills", type=int, metavar="N", default=d.kills,
                   help="process SIGKILLs: workers, projector and API, 3:1:1 (default %(default)s)")
    s.add_argument("--broker-restarts", type=int, metavar="N", default=d.broker_restarts,
                   help="broker SIGKILLs, each followed by a start of the same broker (default %(default)s)")
    s.add_argument("--outage", type=float, metavar="S", default=d.outage_seconds,
                   help="seconds PostgreSQL is held down, once (0: no outage; default %(default)s)")
    s.add_argument("--duration", type=float, metavar="S", default=d.duration,
                   help="seconds over which the blows are spread while jobs are submitted (default %(default)s)")
    s.add_argument("--only", nargs="+", choices=("worker", "projector", "api"), default=None,
                   help="kill only processes of these roles")
    s.add_argument("--jobs", type=int, metavar="N", default=None,
                   help="jobs submitted, at an even pace over the duration (default: 2 a second)")
    s.add_argument("--workers", type=int, metavar="N", default=2, help="worker processes (default %(default)s)")
    s.add_argument("--seed", type=int, metavar="N", default=d.seed, help="another seed, another schedule (default %(default)s)")
    s.add_argument("--drain-timeout", type=float, metavar="S", default=600.0,
                   help="longest wait after the last blow for every accepted job to end (default %(default)s)")
    s.add_argument("--keep", action="store_true", help="keep the data directory and logs (kept anyway on failure)")


def config_of(args: argparse.Namespace):
    from planperfect.chaos.schedule import DEFAULT_WEIGHTS, Plan
    from planperfect.chaos.soak import SoakConfig

    weights = {k: w for k, w in DEFAULT_WEIGHTS.items() if args.only is None or k.value in args.only}
    plan = Plan(kills=args.kills, broker_restarts=args.broker_restarts, outage_seconds=args.outage,
                duration=args.duration, seed=args.seed, weights=tuple(weights.items()))
    rate = 2.0 if args.jobs is None else args.jobs / args.duration
    return SoakConfig(plan=plan, rate=rate, workers=args.workers, drain_timeout=args.drain_timeout,
                      keep=args.keep)


def cmd_soak(settings: Settings, args: argparse.Namespace) -> int:
    from planperfect.chaos.soak import SoakError, run_soak, table
    from planperfect.processes import configure_logging

    if (args.jobs is not None and args.jobs < 1) or args.workers < 1:
        print("planperfect soak: --jobs and --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        config = config_of(args)
    except ValueError as exc:
        print(f"planperfect soak: {exc}", file=sys.stderr)
        return 2
    configure_logging(level="WARNING", libraries="CRITICAL")  # the clients' retries would bury the progress lines
    try:
        report = asyncio.run(run_soak(settings, config, lambda line: print(f"soak {line}", file=sys.stderr, flush=True)))
    except SoakError as exc:
        print(f"planperfect soak: {exc}", file=sys.stderr)
        return 1
    print(table(report, config))
    if report.story:
        print(f"\nthe log of the jobs lost or duplicated:\n{report.story}", file=sys.stderr)
    return 0 if report.ok else 1
