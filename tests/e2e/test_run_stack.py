"""`planperfect run` stops the local services it started itself when it ends, and leaves those already running; its
children's logs are private and hold no API key's secret, even from a request aiohttp's parser rejects."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from planperfect.api_key import KEY_FILE
from planperfect.resilience import EXIT_CONFIG
from planperfect.settings import Settings
from planperfect.stack import LocalStack
from tests.e2e.test_faults import supervised
from tests.support import eventually, free_port, free_port_pair


@pytest.fixture
def stack_settings() -> Iterator[Settings]:
    """A local stack of the test's own (free ports, a temp data dir); whatever still runs is stopped at the end."""
    data = Path(tempfile.mkdtemp(prefix="planperfect-run-stack-"))
    data.chmod(0o711)  # as root PostgreSQL runs as an account of its own: it must enter every directory above
    settings = Settings(data_dir=data, kafka_port=free_port_pair(), postgres_port=free_port())
    try:
        yield settings
    finally:
        LocalStack(settings, echo=lambda _: None).down()
        shutil.rmtree(data, ignore_errors=True)


def run_on_a_taken_port(settings: Settings) -> subprocess.CompletedProcess:
    """`planperfect run` whose API cannot listen: the API exits 78 and `run` ends with it, as soon as it can."""
    env = {k: v for k, v in os.environ.items() if k not in ("PLANPERFECT_KAFKA_BOOTSTRAP", "PLANPERFECT_DATABASE_URL")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env |= {"PLANPERFECT_DATA_DIR": str(settings.data_dir), "PLANPERFECT_KAFKA_PORT": str(settings.kafka_port),
                "PLANPERFECT_POSTGRES_PORT": str(settings.postgres_port),
                "PLANPERFECT_API_PORT": str(taken.getsockname()[1]), "PYTHONUNBUFFERED": "1"}
        return subprocess.run([sys.executable, "-m", "planperfect.cli", "run"], env=env, capture_output=True,
                              text=True, timeout=180)


def test_run_stops_the_stack_it_started_and_leaves_one_already_running(stack_settings):
    stack = LocalStack(stack_settings, echo=lambda _: None)

    ran = run_on_a_taken_port(stack_settings)
    assert ran.returncode == EXIT_CONFIG, ran.stdout + ran.stderr
    status = stack.status()
    assert not status.kafka.running and not status.postgres.running, ran.stdout + ran.stderr
    # The first start made the admin key, in a file only its owner may read, and said where.
    key_file = stack_settings.data_dir / KEY_FILE
    assert f"api key: an admin key was created in {key_file}" in ran.stdout, ran.stdout
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first_key = key_file.read_text()

    stack.up()  # as `planperfect up` would: a stack that other commands use
    ran = run_on_a_taken_port(stack_settings)
    assert ran.returncode == EXIT_CONFIG, ran.stdout + ran.stderr
    assert stack.status().running, ran.stdout + ran.stderr
    assert "stack: left running (it was running before this command)" in ran.stdout, ran.stdout
    assert "api key:" not in ran.stdout and key_file.read_text() == first_key  # made once, kept


async def _status_line(port: int, header: bytes) -> bytes:
    """The status line the API answers a GET carrying `header` with, sent as raw bytes (no client would send it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + b"\r\n\r\n")
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), timeout=10)
    finally:
        writer.close()


async def test_a_request_the_parser_rejects_leaves_no_key_in_the_logs_which_only_their_owner_reads(
    infra, database, prefix, tmp_path
):
    data = tmp_path / "data"
    async with supervised(infra, database, prefix, tmp_path) as system:
        async def answering() -> bool:
            if not (data / KEY_FILE).is_file():
                return False
            try:
                async with aiohttp.ClientSession() as http, http.get(f"{system.base_url}/healthz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(answering, timeout=90, interval=0.2, what=f"the API answering\n{system.logs()}")
        key = (data / KEY_FILE).read_text().strip()
        secret = key.split("_", 2)[2]
        port = int(system.base_url.rsplit(":", 1)[1])
        for header in (b"Authorization: Bearer " + key.encode() + b" " + b"a" * 9000,  # past aiohttp's 8190 bytes
                       b"Cookie: planperfect_key=" + key.encode() + b"; other=" + b"x" * 9000,
                       b"Authorization: Bearer " + key.encode() + b"\x00"):  # a stray control character
            assert (await _status_line(port, header)).startswith(b"HTTP/1.0 400 "), system.logs()
        # aiohttp's traceback quoted the header's first 100 bytes; one line each now, without them (the second
        # LineTooLong within 30 s is held back as a repeat, and counted)
        said = [f"Error handling request from 127.0.0.1: {error}, answered 400" for error in ("LineTooLong", "BadHttpMessage")]
        await eventually(lambda: asyncio.to_thread(lambda: all(line in system.child_log("api") for line in said)),
                         timeout=10, what=f"the parser's errors logged\n{system.logs()}")
    logs = data / "logs"
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    files = sorted(logs.iterdir())
    assert [path.name for path in files] == ["api.log", "projector.log", "worker.log"]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert secret not in path.read_text(errors="replace"), path
