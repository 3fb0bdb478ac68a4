"""The `planperfect` command: the local stack, migrations, topics, the processes, and thin HTTP clients."""

from __future__ import annotations

import argparse
import importlib
import asyncio
import json
import sys
import urllib.error
import urllib.request

from planperfect.settings import Settings

# Modules that add their own subcommands through `register(subparsers)`; each sets `fn(settings, args)`.
EXTENSIONS: tuple[str, ...] = ("planperfect.cli_delivery", "planperfect.cli_ops", "planperfect.cli_pacing",
                              "planperfect.cli_bench")


def _stack(settings: Settings):
    from planperfect.stack import LocalStack

    return LocalStack(settings, echo=lambda line: print(line, flush=True))


def prepare(settings: Settings, *, quiet: bool = False) -> None:
    """Bring the local stack up when nothing is configured, then apply migrations and ensure topics."""
    say = (lambda *_: None) if quiet else print
    if settings.uses_local_stack:
        _stack(settings).up()
    applied = _migrate(settings)
    say(f"migrations: {', '.join(applied) if applied else 'up to date'}")
    reports = _ensure_topics(settings)
    created = [r.name for r in reports if r.state == "created"]
    say(f"topics: {len(reports)} in catalogue, {len(created)} created")
    for r in reports:
        if r.state == "drift":
            say(f"  DRIFT {r.name}: {'; '.join(r.differences)}")


def _migrate(settings: Settings) -> list[str]:
    from planperfect.migrate import migrate

    return [f"{m.version:04d}_{m.name}" for m in asyncio.run(migrate(settings.database()))]


def _ensure_topics(settings: Settings):
    from planperfect.topic_admin import ensure_topics

    return asyncio.run(ensure_topics(settings.kafka(), settings.topic_prefix, settings.partitions))


def cmd_up(settings: Settings, _args) -> int:
    if not settings.uses_local_stack:
        print("PLANPERFECT_KAFKA_BOOTSTRAP or PLANPERFECT_DATABASE_URL is set: `up` only manages the local stack.", file=sys.stderr)
        return 2
    prepare(settings)
    print(f"kafka:    {settings.kafka()}")
    print(f"postgres: {settings.database()}")
    return 0


def cmd_down(settings: Settings, _args) -> int:
    _stack(settings).down()
    return 0


def cmd_stack_status(settings: Settings, _args) -> int:
    status = _stack(settings).status()
    for svc in (status.kafka, status.postgres):
        state = f"running (pid {svc.pid})" if svc.running else "stopped"
        print(f"{svc.name:9} {state:22} {svc.address:24} {svc.data_dir}")
    return 0 if status.running else 1


def cmd_migrate(settings: Settings, _args) -> int:
    from planperfect.migrate import MigrationError

    try:
        applied = _migrate(settings)
    except MigrationError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 1
    print("applied: " + ", ".join(applied) if applied else "up to date")
    return 0


def cmd_topics_ensure(settings: Settings, _args) -> int:
    reports = _ensure_topics(settings)
    for r in reports:
        extra = f"  ({'; '.join(r.differences)})" if r.differences else ""
        print(f"{r.state.value:8} {r.name:40} partitions={r.partitions}{extra}")
    return 1 if any(r.state == "drift" for r in reports) else 0


def cmd_topics_list(settings: Settings, _args) -> int:
    from planperfect.topic_admin import list_topics

    for r in asyncio.run(list_topics(settings.kafka(), settings.topic_prefix)):
        print(f"{r.name:40} partitions={r.partitions} {r.state.value}")
    return 0


def cmd_worker(settings: Settings, _args) -> int:
    from planperfect.processes import configure_logging, run_worker

    configure_logging(libraries=settings.worker_log_level)
    run_worker(settings)
    return 0


def cmd_projector(settings: Settings, _args) -> int:
    from planperfect.processes import configure_logging, run_projector

    configure_logging()
    run_projector(settings)
    return 0


def cmd_api(settings: Settings, _args) -> int:
    from planperfect.processes import configure_logging, run_api

    configure_logging()
    run_api(settings)
    return 0


def cmd_run(settings: Settings, _args) -> int:
    from planperfect.processes import run_all

    prepare(settings)
    return run_all(settings)


def _http(settings: Settings, method: str, path: str, body: dict | None = None, headers: dict | None = None):
    url = f"http://{settings.api_host}:{settings.api_port}{path}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except urllib.error.URLError as exc:
        raise SystemExit(f"cannot reach the API at {url}: {exc.reason} (is `planperfect run` or `planperfect api` running?)")


def cmd_submit(settings: Settings, args) -> int:
    body = {
        "job_type": args.job_type,
        "requester_email": args.email,
        "payload": {"title": args.title, "keywords": args.keyword or [], "word_count": args.word_count},
        "priority": args.priority,
    }
    if args.domain:
        body["payload"]["domain"] = args.domain
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    status, answer = _http(settings, "POST", "/v1/jobs", body, headers)
    print(json.dumps(answer, indent=2))
    return 0 if status < 400 else 1


def cmd_status(settings: Settings, args) -> int:
    status, answer = _http(settings, "GET", f"/v1/jobs/{args.job_id}")
    if status >= 400:
        print(json.dumps(answer, indent=2), file=sys.stderr)
        return 1
    print(f"{answer['job_id']}  {answer['job_type']}  {answer['status']}  stage={answer['current_stage']}  {answer['title']}")
    for st in answer["stages"]:
        took = f"{st['duration_ms']} ms" if st["duration_ms"] is not None else ""
        print(f"  {st['position']}. {st['stage']:9} {st['status']:10} attempts={st['attempts']} {took}")
    return 0


def cmd_demo(settings: Settings, args) -> int:
    from planperfect.demo import run_demo

    return run_demo(settings, jobs=args.jobs)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="planperfect", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the local Kafka + PostgreSQL, migrate, ensure topics").set_defaults(fn=cmd_up)
    sub.add_parser("down", help="stop the local stack").set_defaults(fn=cmd_down)
    stack = sub.add_parser("stack", help="the local stack").add_subparsers(dest="stack_cmd", required=True)
    stack.add_parser("status", help="is each local service running").set_defaults(fn=cmd_stack_status)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(fn=cmd_migrate)
    topics = sub.add_parser("topics", help="the topic catalogue").add_subparsers(dest="topics_cmd", required=True)
    topics.add_parser("ensure", help="create missing topics, report drifted ones").set_defaults(fn=cmd_topics_ensure)
    topics.add_parser("list", help="the catalogue's topics on the cluster").set_defaults(fn=cmd_topics_list)
    sub.add_parser("worker", help="run the stage agents").set_defaults(fn=cmd_worker)
    sub.add_parser("projector", help="fold the event log into PostgreSQL").set_defaults(fn=cmd_projector)
    sub.add_parser("api", help="serve the HTTP API").set_defaults(fn=cmd_api)
    sub.add_parser("run", help="worker + projector + api in one command").set_defaults(fn=cmd_run)
    s = sub.add_parser("submit", help="submit a job through the HTTP API")
    s.add_argument("title")
    s.add_argument("--job-type", default="article", choices=["article", "schema"])
    s.add_argument("--email", default="editor@example.com")
    s.add_argument("--keyword", "-k", action="append")
    s.add_argument("--domain")
    s.add_argument("--word-count", type=int, default=1200)
    s.add_argument("--priority", type=int, default=5)
    s.add_argument("--idempotency-key")
    s.set_defaults(fn=cmd_submit)
    st = sub.add_parser("status", help="a job's status through the HTTP API")
    st.add_argument("job_id")
    st.set_defaults(fn=cmd_status)
    d = sub.add_parser("demo", help="run the pipeline on sample jobs and print the articles")
    d.add_argument("--jobs", type=int, default=6, help="how many sample jobs (articles and schema)")
    d.set_defaults(fn=cmd_demo)
    for module in EXTENSIONS:
        importlib.import_module(module).register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    try:
        return args.fn(settings, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # piped into `head` and the like: stop quietly, as other tools do
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
