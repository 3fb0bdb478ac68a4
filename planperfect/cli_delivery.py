"""Delivery subcommands: `lag` (queue depth), `dlq list|show|redrive`, `cancel`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from planperfect.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    lag = sub.add_parser("lag", help="queue depth per stage, lane, delay tier, projector and dead letters")
    lag.add_argument("--json", action="store_true", help="print JSON (the same figures as GET /v1/queues)")
    lag.add_argument("--all", action="store_true", help="include empty queues")
    lag.set_defaults(fn=cmd_lag)
    dlq = sub.add_parser("dlq", help="dead letters").add_subparsers(dest="dlq_cmd", required=True)
    ls = dlq.add_parser("list", help="dead letters, newest first")
    _filters(ls)
    ls.set_defaults(fn=cmd_dlq_list)
    show = dlq.add_parser("show", help="one dead letter with its original message")
    show.add_argument("dead_letter_id")
    show.set_defaults(fn=cmd_dlq_show)
    redrive = dlq.add_parser("redrive", help="put dead-lettered jobs back at their failed stage")
    redrive.add_argument("dead_letter_id", nargs="?")
    redrive.add_argument("--all", action="store_true", help="every dead letter matching the filters")
    _filters(redrive)
    redrive.set_defaults(fn=cmd_dlq_redrive)
    cancel = sub.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    cancel.set_defaults(fn=cmd_cancel)


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stage")
    p.add_argument("--job")
    p.add_argument("--status", choices=["dead", "redriven"])
    p.add_argument("--limit", type=int, default=100)


def _query(args) -> str:
    parts = [f"limit={args.limit}"]
    if args.stage:
        parts.append(f"stage={args.stage}")
    if args.job:
        parts.append(f"job_id={args.job}")
    if getattr(args, "status", None):
        parts.append(f"status={args.status}")
    return "&".join(parts)


def cmd_lag(settings: Settings, args) -> int:
    from streams.depth import depth_targets, queue_depths
    from streams.topics import Topics

    targets = depth_targets(Topics(settings.topic_prefix))
    depths = asyncio.run(queue_depths(settings.kafka(), [(t, g) for t, g, _ in targets]))
    rows = []
    for (topic, group, labels), d in zip(targets, depths):
        rows.append({**labels, "topic": topic, "group": group, "queue_length": d.queue_length,
                     "oldest_msg_age_sec": d.oldest_msg_age_sec, "newest_msg_age_sec": d.newest_msg_age_sec,
                     "total_messages": d.total_messages,
                     "partitions": [vars(p) for p in d.partitions]})
    if args.json:
        print(json.dumps({"queues": rows}, indent=2))
        return 0
    print(f"{'topic':44} {'group':28} {'queued':>7} {'oldest s':>9} {'newest s':>9} {'total':>8}")
    for r in rows:
        if r["queue_length"] or r["total_messages"] and args.all:
            age = lambda v: f"{v:9.1f}" if v is not None else f"{'-':>9}"  # noqa: E731
            print(f"{r['topic']:44} {r['group']:28} {r['queue_length']:7d} {age(r['oldest_msg_age_sec'])} "
                  f"{age(r['newest_msg_age_sec'])} {r['total_messages']:8d}")
    print(f"total queued: {sum(r['queue_length'] for r in rows)}")
    return 0


def cmd_dlq_list(settings: Settings, args) -> int:
    from planperfect.cli import _http

    status, body = _http(settings, "GET", f"/v1/dlq?{_query(args)}")
    if status >= 400:
        print(json.dumps(body, indent=2), file=sys.stderr)
        return 1
    for d in body["dead_letters"]:
        print(f"{d['dead_letter_id']}  {d['status']:8}  {d['stage'] or '-':8}  attempts={d['attempts']}  "
              f"job={d['job_id'] or '-'}  {d['reason'][:70]}")
    print(f"{len(body['dead_letters'])} dead letter(s)")
    return 0


def cmd_dlq_show(settings: Settings, args) -> int:
    from planperfect.cli import _http

    status, body = _http(settings, "GET", f"/v1/dlq/{args.dead_letter_id}")
    print(json.dumps(body, indent=2), file=sys.stderr if status >= 400 else sys.stdout)
    return 0 if status < 400 else 1


def cmd_dlq_redrive(settings: Settings, args) -> int:
    from planperfect.cli import _http

    if bool(args.dead_letter_id) == bool(args.all):
        print("give one DEAD_LETTER_ID, or --all with optional --stage/--job filters", file=sys.stderr)
        return 2
    ids = [args.dead_letter_id]
    if args.all:
        args.status = "dead"
        status, body = _http(settings, "GET", f"/v1/dlq?{_query(args)}")
        if status >= 400:
            print(json.dumps(body, indent=2), file=sys.stderr)
            return 1
        ids = [d["dead_letter_id"] for d in body["dead_letters"] if d["job_id"]]
    failures = 0
    for letter_id in ids:
        status, body = _http(settings, "POST", f"/v1/dlq/{letter_id}/redrive", {})
        ok = status < 400
        failures += not ok
        print(f"{letter_id}  {'redriving' if ok else body['error']['code']}  {body.get('stage', '') if ok else body['error']['message']}")
    print(f"{len(ids) - failures} redriven, {failures} refused")
    return 1 if failures else 0


def cmd_cancel(settings: Settings, args) -> int:
    from planperfect.cli import _http

    status, body = _http(settings, "POST", f"/v1/jobs/{args.job_id}/cancel", {})
    print(json.dumps(body, indent=2), file=sys.stderr if status >= 400 else sys.stdout)
    return 0 if status < 400 else 1
