"""`planperfect run` stops the local services it started itself when it ends, and leaves those already running."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from planperfect.api_key import KEY_FILE
from planperfect.resilience import EXIT_CONFIG
from planperfect.settings import Settings
from planperfect.stack import LocalStack
from tests.support import free_port, free_port_pair


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
