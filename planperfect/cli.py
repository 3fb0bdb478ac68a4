"""The `planperfect` command: the local stack, migrations, topics, the processes, and thin HTTP clients."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

from planperfect.reachability import EXIT_UNAVAILABLE, KAFKA, POSTGRES, check, classify
from planperfect.settings import Settings

# Modules that add their own subcommands through `register(subparsers)`; each sets `fn(settings, args)`,
# and `needs` (KAFKA, POSTGRES) when the command cannot work without them: they are probed, bounded, first.
EXTENSIONS: tuple[str, ...] = (
    "planperfect.cli_jobs", "planperfect.cli_delivery", "planperfect.cli_ops", "planperfect.cli_pacing",
    "planperfect.cli_bench", "planperfect.cli_soak", "planperfect.cli_keys",
)
HTTP_TIMEOUT = 10.0


def _stack(settings: Settings):
    from planperfect.stack import LocalStack

    return LocalStack(settings, echo=lambda line: print(line, flush=True))


def prepare(settings: Settings, *, quiet: bool = False) -> None:
    """Bring the local stack up when nothing is configured, then apply migrations and ensure topics."""
    if settings.uses_local_stack:
        _stack(settings).up()
    _ready(settings, quiet=quiet)


@contextlib.contextmanager
def prepared(settings: Settings, *, quiet: bool = False, echo: Callable[[str], None] | None = None) -> Iterator[None]:
    """`prepare`, and on the way out (an exit, a give-up, Ctrl-C, a failed migration) stop the local services that
    THIS invocation started, leaving those that were already running: `run` and `demo` must not leave a broker
    with a 1 GB heap behind, nor stop a stack that `planperfect up` keeps for other commands."""
    from planperfect.stack import LocalStack

    echo = echo or (lambda line: print(line, flush=True))
    stack = LocalStack(settings, echo=echo) if settings.uses_local_stack else None
    started = stack.up().started if stack is not None else []
    try:
        _ready(settings, quiet=quiet)
        yield
    finally:
        if stack is not None and started:
            stack.down(only=started)
        elif stack is not None:
            echo("stack: left running (it was running before this command)")


def _ready(settings: Settings, *, quiet: bool) -> None:
    say = (lambda *_, **__: None) if quiet else print
    check(settings, (KAFKA, POSTGRES))
    applied = _migrate(settings)
    say(f"migrations: {', '.join(applied) if applied else 'up to date'}")
    reports = _ensure_topics(settings)
    created = [r.name for r in reports if r.state == "created"]
    say(f"topics: {len(reports)} in catalogue, {len(created)} created")
    for r in reports:
        if r.state == "drift":
            say(f"  DRIFT {r.name}: {'; '.join(r.differences)}")
    from planperfect.api_key import ensure_key_file

    for role, use in (("admin", "for key changes"), ("operator", "the CLI and the demo send it")):
        found = ensure_key_file(settings, role)
        if found.repaired is not None:
            say(f"api key: {found.path} was readable by others (mode {found.repaired:04o}): put back to 0600; revoke "
                "its key if someone else may have read it", flush=True)
        if found.made is not None:
            say(f"api key: an {role} key was created in {found.path} (readable only by you; {use})", flush=True)
        if found.still_active:
            older = ", ".join(f"{k.key_id} (made {k.created_at:%Y-%m-%d %H:%M:%S})" for k in found.still_active)
            say(f"api key: earlier {role} keys made by `planperfect up` are still active: {older}; revoke those no "
                "one uses with `planperfect keys revoke ID`", flush=True)


def _migrate(settings: Settings) -> list[str]:
    from planperfect.migrate import migrate

    return [f"{m.version:04d}_{m.name}" for m in asyncio.run(migrate(settings.database()))]


def _ensure_topics(settings: Settings):
    from planperfect.topic_admin import ensure_topics

    return asyncio.run(ensure_topics(settings.kafka(), settings.topic_prefix, settings.partitions,
                                     settings.topic_replication))


def cmd_up(settings: Settings, args) -> int:
    if args.brokers is not None:
        settings = settings.model_copy(update={"kafka_brokers": args.brokers})
    if not settings.uses_local_stack:
        print("PLANPERFECT_KAFKA_BOOTSTRAP or PLANPERFECT_DATABASE_URL is set: `up` only manages the local stack.", file=sys.stderr)
        return 2
    from planperfect.reachability import postgres_address
    from planperfect.stack.secrets import secrets_path
    from streams.access import kafka_address

    prepare(settings)
    print(f"kafka:    {kafka_address(settings.kafka())} (SASL/SCRAM-SHA-256)")
    if settings.kafka_brokers > 1:
        print(f"          {settings.kafka_brokers} brokers: export PLANPERFECT_KAFKA_BROKERS={settings.kafka_brokers} "
              "for the other commands")
    print(f"postgres: {postgres_address(settings.database())}")
    print(f"credentials: {secrets_path(settings.data_dir)} (readable only by you; "
          "`planperfect kafka ...` and every command read it)")
    return 0


def cmd_down(settings: Settings, _args) -> int:
    _stack(settings).down()
    return 0


def cmd_stack_status(settings: Settings, _args) -> int:
    status = _stack(settings).status()
    for svc in (*status.brokers, status.postgres):
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

    for r in asyncio.run(list_topics(settings.kafka(), settings.topic_prefix, settings.partitions)):
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


def cmd_api(settings: Settings, args) -> int:
    import errno

    from planperfect.processes import configure_logging, run_api
    from planperfect.resilience import EXIT_CONFIG

    configure_logging()
    try:
        run_api(settings)
    except OSError as exc:
        # A port another process holds, or an address this host lacks, is a setting no restart mends: one line
        # and EX_CONFIG, so that `planperfect run` stops at once with it instead of restarting into a traceback.
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        print(f"{command_name(args)}: cannot listen on {settings.api_host}:{settings.api_port}: "
              f"{os.strerror(exc.errno).lower()} (choose another with PLANPERFECT_API_HOST / PLANPERFECT_API_PORT)",
              file=sys.stderr)
        return EXIT_CONFIG
    return 0


def cmd_run(settings: Settings, _args) -> int:
    from planperfect.processes import run_all

    with prepared(settings):
        return run_all(settings)


def api_url(settings: Settings, path: str) -> str:
    return f"http://{settings.api_host}:{settings.api_port}{path}"


class ApiUnreachable(SystemExit):
    """The API did not answer (a one-line SystemExit for `main`). `sent`: the request went out before the connection
    failed, so the API may have acted on it (a client that retries a write needs to know)."""

    def __init__(self, message: str, *, sent: bool = False) -> None:
        super().__init__(message)
        self.sent = sent


def _unreachable_api(url: str, reason: object, *, sent: bool = False) -> ApiUnreachable:
    return ApiUnreachable(f"cannot reach the API at {url}: {reason} "
                          "(is `planperfect run` or `planperfect api` running?)", sent=sent)


def _http(settings: Settings, method: str, path: str, body: dict | None = None, headers: dict | None = None):
    """(status, JSON answer) of one API call; SystemExit with one line when the API does not answer."""
    from planperfect.api_key import auth_headers

    url = api_url(settings, path)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **auth_headers(settings), **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
            return resp.status, _json(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, with_hint(settings, exc.code, _json(exc.read()))
    except urllib.error.URLError as exc:  # connecting or sending failed (urllib wraps those only)
        raise _unreachable_api(url, exc.reason) from None
    except (TimeoutError, ConnectionError) as exc:  # the read, after the request was sent
        raise _unreachable_api(url, f"no answer within {HTTP_TIMEOUT:g} s" if isinstance(exc, TimeoutError) else exc,
                               sent=True) from None


def _json(raw: bytes) -> object:
    """The answer's JSON; something else (a proxy's HTML page) as an error the CLI can print in one line."""
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return {"error": {"code": "not_json", "message": " ".join(raw[:200].decode(errors="replace").split())}}


def with_hint(settings: Settings, status: int, answer: object) -> object:
    """A 401 answer with what to do about the key that was sent (`hint`, which `api_error` prints)."""
    from planperfect.api_key import refused_key_hint

    if status == 401 and isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        return answer | {"error": answer["error"] | {"hint": refused_key_hint(settings)}}
    return answer


def api_error(status: int, answer: object) -> str:
    """An error answer of the API as one line: `404 not_found: job … is not known`."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return f"{status}: {json.dumps(answer)}"
    field = f" (field {error['field']})" if error.get("field") else ""
    hint = f" ({error['hint']})" if error.get("hint") else ""
    return f"{status} {error.get('code', 'error')}: {error.get('message', '')}{field}{hint}"


def cmd_demo(settings: Settings, args) -> int:
    from planperfect.demo import run_demo
    from planperfect.processes import provider_problem
    from planperfect.resilience import EXIT_CONFIG

    if args.provider is not None:
        settings = settings.model_copy(update={"provider": args.provider})
    # The worker's own check, before anything starts: a missing key is one line, not a stack brought up for nothing.
    problem = provider_problem(settings)
    if problem:
        print(f"planperfect demo: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    return run_demo(settings, jobs=args.jobs, monitor=args.monitor)


def _command(sub: argparse._SubParsersAction, name: str, help: str, fn=None, description: str | None = None,
             **defaults) -> argparse.ArgumentParser:
    """A subcommand whose own `--help` says what it does (argparse shows `help` only in the parent's list)."""
    parser = sub.add_parser(name, help=help, description=description or help[:1].upper() + help[1:] + ".")
    if fn is not None:
        parser.set_defaults(fn=fn, **defaults)
    return parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="planperfect", description=__doc__,
        epilog="Settings come from PLANPERFECT_* environment variables (see the README). "
               f"A command that cannot reach Kafka or PostgreSQL says so in one line and exits {EXIT_UNAVAILABLE}.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = _command(sub, "up", "start the local Kafka + PostgreSQL, migrate, ensure topics", cmd_up,
                  "Start the local Kafka broker and PostgreSQL cluster under PLANPERFECT_DATA_DIR (resolving Kafka's "
                  "jars on first use), apply the migrations and create the catalogue's topics. Only when neither "
                  "PLANPERFECT_KAFKA_BOOTSTRAP nor PLANPERFECT_DATABASE_URL is set.")
    up.add_argument("--brokers", type=int, choices=range(1, 6), metavar="N",
                    help="KRaft nodes (each a broker and a controller); 3: topics with replication factor 3 and "
                         "min.insync.replicas 2 (default: PLANPERFECT_KAFKA_BROKERS, 1)")
    _command(sub, "down", "stop the local stack", cmd_down,
             "Stop the local Kafka broker and PostgreSQL cluster; their data stays under PLANPERFECT_DATA_DIR.")
    stack = _command(sub, "stack", "the local stack").add_subparsers(dest="stack_cmd", required=True, metavar="COMMAND")
    _command(stack, "status", "is each local service running", cmd_stack_status,
             "Each local service's state, pid, address and data directory; exit 1 unless both run.")
    _command(sub, "migrate", "apply database migrations", cmd_migrate,
             "Apply the migrations/NNNN_*.sql files the database lacks, each in a transaction; refuse when an "
             "applied file was changed.", needs=(POSTGRES,))
    topics = _command(sub, "topics", "the topic catalogue").add_subparsers(dest="topics_cmd", required=True, metavar="COMMAND")
    _command(topics, "ensure", "create missing topics, report drifted ones", cmd_topics_ensure,
             "Create the catalogue's missing topics; report, without changing them, topics whose partitions or "
             "settings differ from the catalogue (exit 1 on drift).", needs=(KAFKA,))
    _command(topics, "list", "the catalogue's topics on the cluster", cmd_topics_list, needs=(KAFKA,))
    _command(sub, "worker", "run the stage agents", cmd_worker,
             "Run the stage agents and the dispatcher in the foreground until SIGTERM or Ctrl-C.")
    _command(sub, "projector", "fold the event log into PostgreSQL", cmd_projector,
             "Run the projector in the foreground: it folds the job event log into the read model in PostgreSQL.")
    _command(sub, "api", "serve the HTTP API", cmd_api,
             "Serve the HTTP API on PLANPERFECT_API_HOST:PLANPERFECT_API_PORT in the foreground.")
    _command(sub, "run", "worker + projector + api in one command", cmd_run,
             "Bring the local stack up when nothing is configured, migrate, ensure topics, then run worker, "
             "projector and API as child processes (logs in PLANPERFECT_DATA_DIR/logs) until Ctrl-C.")
    d = _command(sub, "demo", "run the pipeline on sample jobs and print the articles", cmd_demo,
                 "Start the stack and the processes, run sample jobs through the pipeline with live progress, "
                 "write the results to PLANPERFECT_OUTPUT_DIR (one file set per sample, replaced on a re-run) "
                 "and run the pacing sample.")
    d.add_argument("--jobs", type=int, default=6, help="how many sample jobs (articles and schema; default %(default)s)")
    d.add_argument("--provider", metavar="NAME",
                   help="the model provider: offline (default: PLANPERFECT_PROVIDER), anthropic, openai, groq or "
                        "openai-compatible, with the keys and base URLs configured for it (see 'Use a real model'); "
                        "exits 78 with one line when one is missing")
    d.add_argument("--monitor", action="store_true",
                   help="print the web monitor's address and keep everything up until Ctrl-C")
    for module in EXTENSIONS:
        importlib.import_module(module).register(sub)
    return p


def _quiet_libraries() -> None:
    """Without a logging setup, Python prints library warnings raw to stderr; a command reports failures itself.
    (The long-running processes configure logging, and these records still reach its handlers.)"""
    for name in ("aiokafka", "asyncpg"):
        logging.getLogger(name).addHandler(logging.NullHandler())


def command_name(args: argparse.Namespace) -> str:
    """`planperfect topics list`, as the user typed it (each group stores its subcommand as `<group>_cmd`)."""
    sub = getattr(args, f"{args.command}_cmd", None)
    return f"planperfect {args.command}" + (f" {sub}" if sub else "")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pydantic import ValidationError

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"PLANPERFECT_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        print(f"planperfect: bad setting: {problems}", file=sys.stderr)
        return 2
    _quiet_libraries()
    try:
        check(settings, getattr(args, "needs", ()))
        return args.fn(settings, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:
        if not isinstance(exc.code, str):
            raise
        # A one-line failure raised deep in a client (the API unreachable, a stream refused): named after the
        # command, as every other failure of the CLI is.
        print(f"{command_name(args)}: {exc.code}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # piped into `head` and the like: stop quietly, as other tools do
        sys.stderr.close()
        return 0
    except Exception as exc:
        from planperfect.stack import StackError

        if isinstance(exc, StackError):  # the local stack could not start or stop; its message says why
            print(f"{command_name(args)}: {exc}", file=sys.stderr)
            return 1
        unreachable = classify(exc, settings)
        if unreachable is None:
            raise
        print(f"{command_name(args)}: {unreachable}", file=sys.stderr)
        return EXIT_UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main())
