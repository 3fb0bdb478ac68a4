"""Delivery subcommands: `lag` (queue depth), `dlq list|show|redrive`, `cancel`."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys

from planperfect.settings import Settings

MIN_REASON = 40  # fewer characters of a reason than this do not say what happened


def register(sub: argparse._SubParsersAction) -> None:
    from planperfect.cli import _command
    from planperfect.reachability import KAFKA

    lag = _command(sub, "lag", "queue depth per stage, lane, delay tier, projector and dead letters", cmd_lag,
                   "Messages waiting per stage topic, lane, delay tier, the projector and the dead letters, read "
                   "from Kafka's offsets (the same figures as GET /v1/queues).", needs=(KAFKA,))
    lag.add_argument("--json", action="store_true", help="print JSON (the same figures as GET /v1/queues)")
    lag.add_argument("--all", action="store_true", help="include empty queues")
    dlq = _command(sub, "dlq", "dead letters").add_subparsers(dest="dlq_cmd", required=True, metavar="COMMAND")
    ls = _command(dlq, "list", "dead letters, newest first", cmd_dlq_list,
                  "Dead letters, newest first, through the HTTP API; the reason is cut to the terminal's width "
                  "(printed whole when the output is not a terminal).")
    _filters(ls)
    show = _command(dlq, "show", "one dead letter with its original message", cmd_dlq_show)
    show.add_argument("dead_letter_id", help="the dead letter's id, as `dlq list` prints it")
    redrive = _command(dlq, "redrive", "put dead-lettered jobs back at their failed stage", cmd_dlq_redrive,
                       "Put one dead-lettered job (or, with --all, every one matching the filters) back at the "
                       "stage that failed, with fresh attempts; the dead letter is kept and marked redriven.")
    redrive.add_argument("dead_letter_id", nargs="?", help="the dead letter to redrive (or use --all)")
    redrive.add_argument("--all", action="store_true", help="every dead letter matching the filters")
    _filters(redrive)
    cancel = _command(sub, "cancel", "cancel a job", cmd_cancel,
                      "Cancel a queued, delayed or running job through the HTTP API; refused once it has finished.")
    cancel.add_argument("job_id", help="the job's id")


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stage", help="only dead letters of this stage")
    p.add_argument("--job", help="only dead letters of this job id")
    p.add_argument("--status", choices=["dead", "redriven"], help="only dead letters in this state")
    p.add_argument("--limit", type=int, default=100, help="at most this many (default %(default)s)")


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

    targets = depth_targets(settings.topics())
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
    for line in lag_lines(rows, show_all=args.all):
        print(line)
    return 0


def lag_lines(rows: list[dict], *, show_all: bool) -> list[str]:
    """The queues with something queued (every queue with `show_all`), then the total; with none to show, one line
    that says so and how many queues were asked, rather than a bare header."""
    shown = [r for r in rows if r["queue_length"] or show_all]
    if not shown:
        groups = len({r["group"] for r in rows})
        return [f"nothing queued: all {len(rows)} queues of {groups} consumer groups are empty (--all lists each)",
                "total queued: 0"]
    age = lambda v: f"{v:9.1f}" if v is not None else f"{'-':>9}"  # noqa: E731
    return [f"{'topic':44} {'group':28} {'queued':>7} {'oldest s':>9} {'newest s':>9} {'total':>8}",
            *(f"{r['topic']:44} {r['group']:28} {r['queue_length']:7d} {age(r['oldest_msg_age_sec'])} "
              f"{age(r['newest_msg_age_sec'])} {r['total_messages']:8d}" for r in shown),
            f"total queued: {sum(r['queue_length'] for r in rows)}"]


def cmd_dlq_list(settings: Settings, args) -> int:
    from planperfect.cli import _http, api_error, command_name

    status, body = _http(settings, "GET", f"/v1/dlq?{_query(args)}")
    if status >= 400:
        print(f"{command_name(args)}: {api_error(status, body)}", file=sys.stderr)
        return 1
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    for line in dead_letter_lines(body["dead_letters"], width):
        print(line)
    print(f"{len(body['dead_letters'])} dead letter(s)")
    return 0


def dead_letter_lines(letters: list[dict], width: int | None) -> list[str]:
    """Each dead letter on one line, its reason filling what `width` leaves (whole when `width` is None); a
    terminal too narrow for a useful part of it gets the reason on an indented line of its own."""
    lines = []
    for d in letters:
        head = (f"{d['dead_letter_id']}  {d['status']:8}  {d['stage'] or '-':8}  attempts={d['attempts']}  "
                f"job={d['job_id'] or '-'}  ")
        reason = " ".join(_why(d).split())  # one line, whatever the exception text held
        if width is None or len(head) + len(reason) <= width:
            lines.append(head + reason)
            continue
        if width - len(head) < MIN_REASON:
            lines.append(head.rstrip())
            head = "    "
        room = max(width - len(head), MIN_REASON)
        lines.append(head + (reason if len(reason) <= room else reason[: room - 1] + "…"))
    return lines


def _why(letter: dict) -> str:
    """The reason, and for a letter of no job (an event the projector could not decode or store) where it sits
    on the log and the error: its reason alone ("unappliable") says nothing an operator can act on."""
    if letter.get("job_id") or not letter.get("error"):
        return str(letter["reason"])
    where = f"{letter.get('source_topic')}[{letter.get('source_partition')}]@{letter.get('source_offset')}"
    return f"{letter['reason']} at {where}: {letter['error']}"


def cmd_dlq_show(settings: Settings, args) -> int:
    from planperfect.cli import _http, api_error, command_name

    status, body = _http(settings, "GET", f"/v1/dlq/{args.dead_letter_id}")
    if status >= 400:
        print(f"{command_name(args)}: {api_error(status, body)}", file=sys.stderr)
        return 1
    print(json.dumps(body, indent=2))
    return 0


def cmd_dlq_redrive(settings: Settings, args) -> int:
    from planperfect.cli import _http, api_error, command_name

    if bool(args.dead_letter_id) == bool(args.all):
        print("give one DEAD_LETTER_ID, or --all with optional --stage/--job filters", file=sys.stderr)
        return 2
    ids = [args.dead_letter_id]
    if args.all:
        args.status = "dead"
        status, body = _http(settings, "GET", f"/v1/dlq?{_query(args)}")
        if status >= 400:
            print(f"{command_name(args)}: {api_error(status, body)}", file=sys.stderr)
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
    from planperfect.cli import _http, api_error, command_name

    status, body = _http(settings, "POST", f"/v1/jobs/{args.job_id}/cancel", {})
    if status >= 400:
        print(f"{command_name(args)}: {api_error(status, body)}", file=sys.stderr)
        return 1
    print(json.dumps(body, indent=2))
    return 0
