"""A deployment's processes under chaos: started by name, SIGKILLed and replaced, restarted when one exits on its own."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from planperfect.resilience import Backoff

# One that exits on its own (an outage it does not ride out, say) comes back after 0.5, 1, 2 ... 5 s.
RESTART_BACKOFF = Backoff(initial=0.5, cap=5.0)
RECENT_S = 60.0


@dataclass(frozen=True)
class OwnExit:
    """A process that exited without being killed: the soak restarts it, and says so in its figures."""

    name: str
    code: int
    at: float


@dataclass
class Crew:
    """`planperfect <role>` processes, each with its own log file under `log_dir`."""

    env: dict[str, str]
    log_dir: Path
    live: dict[str, tuple[str, subprocess.Popen]] = field(default_factory=dict)  # name -> (role, process)
    started: Counter = field(default_factory=Counter)
    own_exits: list[OwnExit] = field(default_factory=list)
    _due: list[tuple[float, str]] = field(default_factory=list)  # (when, role) of each that exited, to come back

    def start(self, role: str) -> str:
        self.started[role] += 1
        name = f"{role}-{self.started[role]}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "planperfect.cli", role], env=self.env,
                                    stdout=out, stderr=subprocess.STDOUT)
        self.live[name] = (role, proc)
        return name

    async def kill(self, role: str, rng: random.Random) -> tuple[str, int, str] | None:
        """SIGKILL one live process of `role`, chosen at random, as a crash would; start its replacement at once.
        (name killed, its pid, replacement's name); None when none of that role is running."""
        names = sorted(n for n, (r, p) in self.live.items() if r == role and p.poll() is None)
        if not names:
            return None
        name = names[rng.randrange(len(names))]
        proc = self.live.pop(name)[1]
        proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 10)
        return name, proc.pid, self.start(role)

    def tend(self, now: float | None = None) -> list[OwnExit]:
        """Restart what exited on its own (after a backoff that grows with that role's recent exits); returns the
        exits seen in this call."""
        now = time.monotonic() if now is None else now
        seen = []
        for name, (role, proc) in list(self.live.items()):
            if proc.poll() is None:
                continue
            del self.live[name]
            seen.append(OwnExit(name, proc.returncode, now))
            recent = sum(1 for e in self.own_exits + seen if e.name.rsplit("-", 1)[0] == role and now - e.at < RECENT_S)
            self._due.append((now + RESTART_BACKOFF.delay(recent), role))
        self.own_exits += seen
        for due, role in [d for d in self._due if now >= d[0]]:
            self._due.remove((due, role))
            self.start(role)
        return seen

    def pids(self, role: str) -> list[int]:
        return [p.pid for r, p in self.live.values() if r == role and p.poll() is None]

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to all, SIGKILL to those still running after `timeout`."""
        procs = [p for _, p in self.live.values()]
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.live.clear()
