"""The life of a local service process: spawn detached, pid files, liveness, waiting and stopping."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

POLL_INTERVAL_S = 0.1


class StackError(RuntimeError):
    """The local stack could not do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class RunAs:
    """An unprivileged account to run a service under (PostgreSQL refuses to run as root)."""

    user: str
    group: str


def spawn_detached(
    argv: Sequence[str], *, log_path: Path, cwd: Path, run_as: RunAs | None = None
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session, so that a Ctrl-C in our terminal does not reach it."""
    with open_private_log(log_path) as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            user=run_as.user if run_as else None,
            group=run_as.group if run_as else None,
            extra_groups=[] if run_as else None,
        )


def open_private_log(path: Path) -> BinaryIO:
    """`path` opened for appending, readable by its owner only (a log may quote what a client sent)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)  # a log an earlier version made keeps its mode otherwise
    return os.fdopen(fd, "ab")


def read_pid(pid_file: Path) -> int | None:
    """The pid written in the first line of `pid_file`, or None when there is none."""
    try:
        first_line = pid_file.read_text().split("\n", 1)[0].strip()
    except (FileNotFoundError, PermissionError):
        return None
    return int(first_line) if first_line.isdigit() else None


def write_pid(pid_file: Path, pid: int) -> None:
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(f"{pid}\n")
    tmp.replace(pid_file)


def is_running(pid: int, marker: str) -> bool:
    """True if `pid` is alive (not a zombie) and `marker` is one of its command-line arguments.

    The marker (a path inside this stack's data directory) guards against a recycled pid: we
    never report, or signal, a process that is not ours.
    """
    _reap(pid)
    proc = Path("/proc") / str(pid)
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        argv = (proc / "cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X") and os.fsencode(marker) in argv


def port_is_open(host: str, port: int) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:]) or f"({path} is empty)"


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    logs: Sequence[Path] = (),
    since: float = 0.0,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll `condition` until it holds; on timeout, or if `alive` says the process died, raise
    a StackError carrying the tail of each log written since `since` (a `time.time()`), so that
    the cause is on screen."""
    deadline = time.monotonic() + timeout
    while not condition():
        if alive is not None and not alive():
            raise StackError(f"{what}: the process exited{_log_tails(logs, since)}")
        if time.monotonic() > deadline:
            raise StackError(f"{what}: not ready after {timeout:.0f}s{_log_tails(logs, since)}")
        time.sleep(POLL_INTERVAL_S)


def stop(pid: int, marker: str, *, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> bool:
    """Ask the process to stop with `sig`, wait up to `timeout`, then SIGKILL its whole process
    group (a PostgreSQL postmaster's backends with it).

    Returns False if it had to be killed. Waits until the pid is really gone either way.
    """
    if not is_running(pid, marker):
        return True
    _signal(pid, sig)
    deadline = time.monotonic() + timeout
    while is_running(pid, marker):
        if time.monotonic() > deadline:
            _kill_group(pid)
            _wait_gone(pid, marker, timeout=10.0)
            return False
        time.sleep(POLL_INTERVAL_S)
    return True


def _wait_gone(pid: int, marker: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while is_running(pid, marker):
        if time.monotonic() > deadline:
            raise StackError(f"pid {pid} survived SIGKILL for {timeout:.0f}s")
        time.sleep(POLL_INTERVAL_S)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _kill_group(pid: int) -> None:
    """SIGKILL the group `pid` leads (spawn_detached makes each service a group leader), else `pid`."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    """Collect the exit status if `pid` is our own exited child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _log_tails(logs: Sequence[Path], since: float) -> str:
    # a second of slack: file times come from a coarser clock than time.time()
    fresh = [log for log in logs if log.is_file() and log.stat().st_mtime >= since - 1.0]
    return "".join(f"\n--- last lines of {log} ---\n{tail(log)}" for log in fresh)
