"""Job subcommands through the HTTP API: `submit` (optionally following the job live) and `status` (with usage)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from uuid import uuid4

from planperfect.settings import Settings
from streams.payloads import PIPELINES, JobType

TERMINAL = ("completed", "dead_lettered", "cancelled", "failed")
# The stream sends a comment every 15 s while a job is quiet; twice that without a byte means the API is gone.
STREAM_READ_TIMEOUT = 30.0
VISIBLE_WITHIN = 30.0  # how long a just-acknowledged job may take to reach the read model
# Pauses between the attempts of `submit` after a 503 or a lost connection: a broker's failover takes ~10 s.
SUBMIT_BACKOFF = (1.0, 2.0, 4.0, 8.0)

Out = Callable[[str], None]


def register(sub: argparse._SubParsersAction) -> None:
    from planperfect.cli import _command

    s = _command(sub, "submit", "submit a job through the HTTP API", cmd_submit,
                 "Submit a job (POST /v1/jobs) and print the API's answer; with --wait, follow it stage by stage "
                 "until it ends (exit 0 when it completed, 1 when it was dead-lettered or cancelled).")
    s.add_argument("title", help="the piece's title")
    s.add_argument("--job-type", default="article", choices=[t.value for t in JobType if t is not JobType.PACING],
                   help="what to produce (default %(default)s)")
    s.add_argument("--email", default="editor@example.com", help="the requester's email (default %(default)s)")
    s.add_argument("--keyword", "-k", action="append", help="a keyword to cover; repeat for more")
    s.add_argument("--domain", help="the site the piece is for, e.g. example.com")
    s.add_argument("--word-count", type=int, default=1200, help="target length of an article (default %(default)s)")
    s.add_argument("--priority", type=int, help="0 (lowest) to 10 (highest); the API's default is 5")
    s.add_argument("--delay", type=int, metavar="SECONDS", help="start no earlier than this many seconds from now")
    stages = sorted({st.value for t in (JobType.ARTICLE, JobType.SCHEMA) for st in PIPELINES[t]})
    s.add_argument("--initial-stage", choices=stages, metavar="STAGE",
                   help=f"the stage to start at ({', '.join(stages)}); the API refuses one whose earlier stages' "
                        "outputs a new job would lack")
    s.add_argument("--max-attempts", type=int, metavar="N", help="attempts per stage before the job is dead-lettered")
    s.add_argument("--time-limit", type=int, metavar="SECONDS", help="time limit of one stage attempt")
    s.add_argument("--retry-delay", type=int, metavar="SECONDS", help="base of the exponential retry backoff")
    s.add_argument("--token-budget", type=int, metavar="TOKENS",
                   help="input + output tokens the job may use in all; past it the stage is dead-lettered")
    s.add_argument("--idempotency-key",
                   help="a key that makes a retried submission return the same job (default: a new one each run; "
                        "a 503, or a connection lost after sending, is retried with it up to 4 times)")
    s.add_argument("--wait", action="store_true",
                   help="follow the job live (its event stream), printing each stage, until it ends")
    st = _command(sub, "status", "a job's status through the HTTP API", cmd_status,
                  "A job's status and each stage's, with the error of failed attempts and why the job ended "
                  "when it did not complete, and its model usage: calls, tokens and cost (against its budget).")
    st.add_argument("job_id", help="the job's id, as `submit` printed it")


def intake_body(args: argparse.Namespace) -> dict:
    """The POST /v1/jobs body; delivery options only when given, so that the API's defaults apply."""
    payload = {"title": args.title, "keywords": args.keyword or [], "word_count": args.word_count}
    if args.domain:
        payload["domain"] = args.domain
    body = {"job_type": args.job_type, "requester_email": args.email, "payload": payload}
    options = {"priority": args.priority, "delay_seconds": args.delay, "initial_stage": args.initial_stage,
               "max_attempts": args.max_attempts, "visibility_seconds": args.time_limit,
               "retry_delay_seconds": args.retry_delay, "token_budget": args.token_budget}
    return body | {k: v for k, v in options.items() if v is not None}


def cmd_submit(settings: Settings, args) -> int:
    from planperfect.cli import _http, api_error, command_name

    key = args.idempotency_key or f"cli-{uuid4()}"
    status, answer = submit_with_retries(
        lambda: _http(settings, "POST", "/v1/jobs", intake_body(args), {"Idempotency-Key": key}),
        key, out=lambda line: print(f"{command_name(args)}: {line}", file=sys.stderr, flush=True))
    if status >= 400:
        print(f"{command_name(args)}: {api_error(status, answer)}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2), flush=True)
    if not args.wait:
        return 0
    final = follow(settings, answer["job_id"])
    return 0 if final == "completed" else 1


def submit_with_retries(call: Callable[[], tuple[int, object]], key: str, out: Out = print,
                        sleep: Callable[[float], None] = time.sleep) -> tuple[int, object]:
    """(status, answer) of a submission, retried on a 503 or a connection lost after the request was sent, with the
    same Idempotency-Key.

    After either, the job may have been written all the same; the same key makes a retry name that job rather
    than make a second one. A connection refused sent nothing: it is the caller's at once, in one line, as is the
    last attempt's answer (or its ApiUnreachable)."""
    from planperfect.cli import ApiUnreachable

    for attempt, pause in enumerate((*SUBMIT_BACKOFF, None), start=1):
        try:
            status, answer = call()
        except ApiUnreachable as exc:
            if pause is None or not exc.sent:
                raise
            why = str(exc.code)
        else:
            if status != 503 or pause is None:
                return status, answer
            error = answer.get("error") if isinstance(answer, dict) else None
            why = f"503 {error.get('code')}" if isinstance(error, dict) else "503"
        out(f"{why}; retrying in {pause:g} s with the same Idempotency-Key {key} "
            f"(attempt {attempt + 1} of {len(SUBMIT_BACKOFF) + 1})")
        sleep(pause)
    raise AssertionError("unreachable: the last attempt returns or raises")


def describe_event(ev: dict) -> str | None:
    """One line for a job event as it happens; None for events that say nothing new to a person."""
    kind, stage, attempt = ev.get("type"), ev.get("stage"), ev.get("attempt")
    match kind:
        case "JobSubmitted":
            delay = f", starts in {ev['delay_seconds']} s" if ev.get("delay_seconds") else ""
            return f"queued at {ev.get('initial_stage')}{delay}"
        case "StageStarted":
            return f"{stage:9} started (attempt {attempt})"
        case "StageCompleted":
            return f"{stage:9} completed in {ev.get('duration_ms')} ms"
        case "StageFailed":
            again = "will retry" if ev.get("retryable") else "not retryable"
            return f"{stage:9} FAILED (attempt {attempt}, {again}): {ev.get('error_code')}: {ev.get('error')}"
        case "RetryScheduled":
            return f"{stage:9} retry in {ev.get('delay_seconds', 0):.1f} s (attempt {attempt})"
        case "StageExtended":
            return f"{stage:9} asked for {ev.get('extra_seconds')} s more"
        case "JobCompleted":
            return "completed"
        case "JobDeadLettered":
            return f"DEAD-LETTERED at {stage} after {ev.get('attempts')} attempts: {ev.get('reason')}"
        case "JobRedriven":
            return f"redriven to {stage}" + (f" (by {ev['by']})" if ev.get("by") else "")
        case "StageReturned":
            return f"{stage:9} returned the job to {ev.get('to_stage')}: {'; '.join(ev.get('findings') or [])}"
        case "JobCancelled":
            by = f" (by {ev['by']})" if ev.get("by") else ""
            return f"CANCELLED{f' at {stage}' if stage else ''}: {ev.get('reason')}{by}"
    return None


def sse_events(lines: Iterator[bytes]) -> Iterator[tuple[str, dict]]:
    """(id, data) of each Server-Sent Event in a stream of lines; comments and keep-alives are skipped."""
    event_id, data = "", []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield event_id, json.loads("\n".join(data))
            data = []
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "id":
            event_id = value
        elif field == "data":
            data.append(value)


def follow(settings: Settings, job_id: str, out: Out = print) -> str:
    """Print the job's events as they happen (GET /v1/jobs/{id}/stream) until it ends; its final status."""
    from planperfect.api_key import auth_headers
    from planperfect.cli import _http, _unreachable_api, api_error, api_url, with_hint

    last_id = "0"
    visible_by = time.monotonic() + VISIBLE_WITHIN
    while True:
        url = api_url(settings, f"/v1/jobs/{job_id}/stream")
        req = urllib.request.Request(url, headers={"Accept": "text/event-stream", "Last-Event-ID": last_id,
                                                   **auth_headers(settings)})
        try:
            with urllib.request.urlopen(req, timeout=STREAM_READ_TIMEOUT) as resp:
                for last_id, ev in sse_events(resp):
                    if (line := describe_event(ev)) is not None:
                        out(f"  {line}")
        except urllib.error.HTTPError as exc:
            if exc.code != 404 or time.monotonic() > visible_by:
                try:
                    answer = json.loads(exc.read() or b"null")
                except ValueError:
                    answer = None
                answer = with_hint(settings, exc.code, answer)
                raise SystemExit(f"following job {job_id}: {api_error(exc.code, answer)}") from None
            time.sleep(0.2)  # acknowledged but not yet in the read model: ask again, bounded by visible_by
            continue
        except urllib.error.URLError as exc:
            raise _unreachable_api(url, exc.reason) from None
        except (TimeoutError, ConnectionError):
            continue  # the stream broke off: resume after the last event seen
        status, job = _http(settings, "GET", f"/v1/jobs/{job_id}")
        if status == 200 and job["status"] in TERMINAL:
            out(f"job {job_id} {job['status']}")
            return job["status"]


def cmd_status(settings: Settings, args) -> int:
    from planperfect.cli import _http, api_error, command_name

    status, answer = _http(settings, "GET", f"/v1/jobs/{args.job_id}")
    if status >= 400:
        print(f"{command_name(args)}: {api_error(status, answer)}", file=sys.stderr)
        return 1
    # Who cancelled or redrove it, and why, is in its events only (JobCancelled, JobRedriven).
    got, body = _http(settings, "GET", f"/v1/jobs/{args.job_id}/events")
    events = body["events"] if got == 200 else None
    for line in status_lines(answer, events):
        print(line)
    return 0


def status_lines(job: dict, events: list[dict] | None = None) -> list[str]:
    """A job as lines: the job, each stage with the error of its failed attempts, each redrive and who asked for it,
    and why it ended badly (for a cancelled job, the reason its JobCancelled event carries: the read model keeps no
    error for it)."""
    lines = [f"{job['job_id']}  {job['job_type']}  {job['status']}  stage={job['current_stage']}  {job['title']}"]
    for st in job["stages"]:
        took = f"{st['duration_ms']} ms" if st["duration_ms"] is not None else ""
        lines.append(f"  {st['position']}. {st['stage']:9} {st['status']:10} attempts={st['attempts']} {took}".rstrip())
        if st.get("last_error"):
            label = "last error (retried)" if st["status"] == "completed" else "error"
            lines.append(f"       {label}: {st['last_error']}")
    for ev in events or []:
        if ev.get("type") == "JobRedriven":
            by = f" by {ev['by']}" if ev.get("by") else ""
            lines.append(f"  redriven to {ev.get('stage')}{by} at {ev.get('occurred_at')}")
    if job["status"] == "cancelled":
        if cancel := next((ev for ev in reversed(events or []) if ev.get("type") == "JobCancelled"), None):
            at = f" (at {cancel['stage']})" if cancel.get("stage") else ""
            by = f", by {cancel['by']}" if cancel.get("by") else ""
            lines.append(f"  why cancelled: {cancel.get('reason')}{by}{at}")
    elif job["status"] not in ("completed", "queued", "running", "retrying") and job.get("last_error"):
        lines.append(f"  why {job['status']}: {job['last_error']}")
    if usage := job.get("usage"):
        lines += usage_lines(usage)
    return lines


def usage_lines(usage: dict) -> list[str]:
    """The job's model usage: totals (against its budget), then one line per provider and model."""
    budget = f" of a {usage['token_budget']} budget" if usage.get("token_budget") else ""
    lines = [f"  usage: {usage['calls']} calls, {usage['tokens']} tokens{budget} ({usage['input_tokens']} in, "
             f"{usage['cached_tokens']} of them cached, {usage['output_tokens']} out), ${usage['cost_usd']:.6f}"]
    for m in usage.get("by_model", []):
        lines.append(f"     {m['provider']}/{m['model']}: {m['calls']} calls, {m['tokens']} tokens, ${m['cost_usd']:.6f}")
    return lines
