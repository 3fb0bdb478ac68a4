"""`planperfect pacing …`: trigger a user's analysis and read the pacing status, through the HTTP API."""

from __future__ import annotations

import json
import sys

from planperfect.settings import Settings


def register(sub) -> None:
    pacing = sub.add_parser("pacing", help="the pacing scheduler").add_subparsers(dest="pacing_cmd", required=True)
    t = pacing.add_parser("trigger", help="analyse a user's context for today and write the suggested pieces")
    t.add_argument("user_id")
    t.add_argument("--schedule", help="schedule id (default: the user's first active schedule)")
    t.set_defaults(fn=cmd_trigger)
    pacing.add_parser("status", help="pending messages and lag per pacing topic; analyses and generations by status") \
        .set_defaults(fn=cmd_status)
    g = pacing.add_parser("generations", help="a user's generated pieces")
    g.add_argument("user_id")
    g.add_argument("--analysis", help="only this analysis")
    g.add_argument("--limit", type=int, default=20)
    g.set_defaults(fn=cmd_generations)


def _http(settings: Settings, method: str, path: str, body: dict | None = None):
    from planperfect.cli import _http as http

    return http(settings, method, path, body)


def cmd_trigger(settings: Settings, args) -> int:
    body = {"user_id": args.user_id} | ({"schedule_id": args.schedule} if args.schedule else {})
    status, answer = _http(settings, "POST", "/v1/pacing/trigger", body)
    if status >= 400:
        print(json.dumps(answer, indent=2), file=sys.stderr)
        return 1
    verb = "already analysed" if status == 200 else "submitted"
    print(f"{verb}: analysis {answer['analysis_id']} for {answer['user_id']} on {answer['local_date']} ({answer['status']})")
    return 0


def cmd_status(settings: Settings, _args) -> int:
    status, answer = _http(settings, "GET", "/v1/pacing/status")
    if status >= 400:
        print(json.dumps(answer, indent=2), file=sys.stderr)
        return 1
    print(f"{'topic':48} {'group':28} {'pending':>7}  lag per partition")
    for t in answer["topics"]:
        lag = " ".join(f"{p}:{n}" for p, n in sorted(t["lag"].items()))
        print(f"{t['topic']:48} {t['group']:28} {t['pending']:>7}  {lag}")
    for name in ("analyses", "analysis_outcomes", "generations"):
        counts = ", ".join(f"{k}={v}" for k, v in sorted(answer[name].items())) or "none"
        print(f"{name.replace('_', ' ')}: {counts}")
    return 0


def cmd_generations(settings: Settings, args) -> int:
    query = f"/v1/pacing/generations?user_id={args.user_id}&limit={args.limit}"
    if args.analysis:
        query += f"&analysis_id={args.analysis}"
    status, answer = _http(settings, "GET", query)
    if status >= 400:
        print(json.dumps(answer, indent=2), file=sys.stderr)
        return 1
    for g in answer["generations"]:
        print(f"--- {g['content_type']} · {g['topic']} · {g['status']}  ({g['generation_id']})")
        print(g["body"] or g["error"] or "(not written yet)")
    return 0
