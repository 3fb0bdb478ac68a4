"""Every command that needs Kafka, PostgreSQL or the API says in one line that it cannot reach it, and exits non-zero."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import aiohttp
import pytest

from planperfect.reachability import EXIT_UNAVAILABLE
from planperfect.resilience import EXIT_CONFIG
from tests.support import cli, env_of, eventually, free_port, start_child

# A command that hangs instead of answering fails the test through this timeout, not through a timing assert.
HANG = 60

KAFKA_COMMANDS = [("lag",), ("topics", "list"), ("topics", "ensure"), ("topics", "describe"), ("tail", "job-events"),
                  ("dlq", "tail"), ("kafka", "topics", "--list"), ("kafka", "consumer-groups", "--list")]
POSTGRES_COMMANDS = [("migrate",)]
BOTH_COMMANDS = [("projections", "verify"), ("projections", "rebuild"), ("run",)]
API_COMMANDS = [("status", "7b0c7a52-4f43-4a4b-9d49-0f4f2d1c6a11"), ("dlq", "list"), ("submit", "A title"),
                ("cancel", "7b0c7a52-4f43-4a4b-9d49-0f4f2d1c6a11"), ("pacing", "status")]


def _env(kafka: int, postgres: int) -> dict[str, str]:
    return {"PLANPERFECT_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
            "PLANPERFECT_DATABASE_URL": f"postgresql://postgres:hunter2@127.0.0.1:{postgres}/planperfect",
            "PLANPERFECT_API_PORT": str(free_port())}


def _one_clear_line(err: str, *names: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    for name in names:
        assert name in lines[0], f"{name!r} not named in: {lines[0]}"
    assert "hunter2" not in lines[0], "the database password was printed"
    return lines[0]


@pytest.mark.parametrize("args", KAFKA_COMMANDS + POSTGRES_COMMANDS + BOTH_COMMANDS, ids=" ".join)
async def test_nothing_listening(args):
    kafka, postgres = free_port(), free_port()
    code, _, err = await cli(*args, env=_env(kafka, postgres), timeout=HANG)
    assert code == EXIT_UNAVAILABLE, err
    expected = f"127.0.0.1:{postgres}" if args in POSTGRES_COMMANDS else f"127.0.0.1:{kafka}"
    line = _one_clear_line(err, "cannot reach", expected)
    assert "connection refused" in line


async def test_the_api_without_a_broker_serves_503_and_leaves_nothing_open_at_exit(tmp_path):
    """It starts (see tests/e2e/test_api_without_kafka.py for the recovery), and stops cleanly on SIGTERM although its
    producer never reached a broker: no unclosed connection reported, no traceback."""
    kafka = free_port()
    env = _env(kafka, free_port())
    api = start_child("api", env, tmp_path)
    try:
        async def unready() -> dict | None:
            try:
                async with aiohttp.ClientSession() as http, \
                        http.get(f"http://127.0.0.1:{env['PLANPERFECT_API_PORT']}/readyz") as resp:
                    return await resp.json() if resp.status == 503 else None
            except aiohttp.ClientError:
                return None

        answer = await eventually(unready, timeout=HANG, what="/readyz answering 503")
        assert "kafka" in answer["problems"], answer
    finally:
        api.stop()
    assert api.proc.returncode == 0, api.output()
    assert "Kafka unavailable" in api.output() and "Unclosed" not in api.output(), api.output()
    assert "Traceback" not in api.output(), api.output()


async def test_an_api_port_another_process_holds_is_one_line_and_a_configuration_error(infra, database, prefix):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = env_of(infra, database, prefix) | {"PLANPERFECT_API_PORT": str(port)}
        code, _, err = await cli("api", env=env, timeout=HANG)
    assert code == EXIT_CONFIG, err  # `planperfect run` stops at once on it rather than restarting into the port
    line = _one_clear_line(err, f"planperfect api: cannot listen on 127.0.0.1:{port}", "PLANPERFECT_API_PORT")
    assert "address already in use" in line


@pytest.mark.parametrize("args", API_COMMANDS, ids=" ".join)
async def test_api_not_listening(args):
    env = _env(free_port(), free_port())
    code, _, err = await cli(*args, env=env, timeout=HANG)
    assert code != 0
    command = "planperfect " + " ".join(args[:2] if args[0] in ("dlq", "pacing") else args[:1])
    line = _one_clear_line(err, "cannot reach the API", f"127.0.0.1:{env['PLANPERFECT_API_PORT']}")
    assert line.startswith(f"{command}: cannot reach the API"), line


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers a byte: a wedged server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


@pytest.mark.parametrize("args, service", [(("kafka", "topics", "--list"), "Kafka"), (("migrate",), "PostgreSQL")],
                         ids=["kafka topics", "migrate"])
async def test_a_silent_server_is_given_up_on(silent_port, args, service):
    """No answer at all: the probe's bound ends it, with the same one line (the figure is printed, not asserted)."""
    env = _env(silent_port, silent_port)
    started = time.monotonic()
    code, _, err = await cli(*args, env=env, timeout=HANG)
    took = time.monotonic() - started
    assert code == EXIT_UNAVAILABLE, err
    _one_clear_line(err, f"cannot reach {service}", f"127.0.0.1:{silent_port}", "no answer")
    print(f"{' '.join(args)}: gave up on a silent {service} after {took:.1f}s")
