"""`planperfect pacing …`: trigger a user's analysis and read the pacing status, through the HTTP API."""

from __future__ import annotations

import sys

from planperfect.settings import Settings


def register(sub) -> None:
    from planperfect.cli import _command

    pacing = _command(sub, "pacing", "the pacing scheduler").add_subparsers(dest="pacing_cmd", required=True,
                                                                            metavar="COMMAND")
    t = _command(pacing, "trigger", "analyse a user's context for today and write the suggested pieces", cmd_trigger)
    t.add_argument("user_id", help="the user whose documents and meetings are analysed")
    t.add_argument("--schedule", help="schedule id (default: the user's first active schedule)")
    _command(pacing, "status", "pending messages and lag per pacing topic; analyses and generations by status",
             cmd_status, "Pending messages and consumer lag per pacing topic, and how many analyses and generated "
             "pieces are in each status, through the HTTP API.")
    g = _command(pacing, "generations", "a user's generated pieces", cmd_generations)
    g.add_argument("user_id", help="the user whose pieces are printed")
    g.add_argument("--analysis", help="only this analysis")
    g.add_argument("--limit", type=int, default=20, help="at most this many pieces (default %(default)s)")


def _http(settings: Settings, method: str, path: str, body: dict | None = None):
    from planperfect.cli import _http as http

    return http(settings, method, path, body)


def _refused(command: str, status: int, answer) -> int:
    from planperfect.cli import api_error

    print(f"planperfect pacing {command}: {api_error(status, answer)}", file=sys.stderr)
    return 1


def cmd_trigger(settings: Settings, args) -> int:
    body = {"user_id": args.user_id} | ({"schedule_id": args.schedule} if args.schedule else {})
    status, answer = _http(settings, "POST", "/v1/pacing/trigger", body)
    if status >= 400:
        return _refused("trigger", status, answer)
    verb = "already analysed" if status == 200 else "submitted"
    print(f"{verb}: analysis {answer['analysis_id']} for {answer['user_id']} on {answer['local_date']} ({answer['status']})")
    return 0


def cmd_status(settings: Settings, _args) -> int:
    status, answer = _http(settings, "GET", "/v1/pacing/status")
    if status >= 400:
        return _refused("status", status, answer)
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
        return _refused("generations", status, answer)
    for g in answer["generations"]:
        print(f"--- {g['content_type']} · {g['topic']} · {g['status']}  ({g['generation_id']})")
        print(g["body"] or g["error"] or "(not written yet)")
    return 0
