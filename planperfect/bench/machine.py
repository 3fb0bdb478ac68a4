"""The machine a benchmark ran on: cores, memory, CPU model, and the Kafka and PostgreSQL versions it talked to."""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

_KAFKA_JARS = re.compile(r"kafka[-_](?:2\.\d+-)?(\d+\.\d+\.\d+)")


@dataclass(frozen=True)
class Machine:
    cores: int
    memory_gib: float
    cpu_model: str
    kernel: str
    python: str
    kafka: str
    postgres: str

    def rows(self) -> list[tuple[str, str]]:
        return [("CPU cores", str(self.cores)), ("CPU model", self.cpu_model),
                ("memory", f"{self.memory_gib:.1f} GiB"), ("kernel", self.kernel), ("Python", self.python),
                ("Kafka", self.kafka), ("PostgreSQL", self.postgres)]


def _first(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def kafka_version() -> str:
    """Read off the classpath of the broker processes on this machine (the protocol does not say)."""
    found: set[str] = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "kafka.Kafka" in cmdline:
            found.update(_KAFKA_JARS.findall(cmdline))
    return ", ".join(sorted(found)) if found else "unknown (no broker process on this machine)"


async def describe(dsn: str) -> Machine:
    conn = await asyncpg.connect(dsn)
    try:
        postgres = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    memory_kib = _first("/proc/meminfo", "MemTotal").split()[0]
    return Machine(
        cores=os.cpu_count() or 0,
        memory_gib=int(memory_kib) / 1024 / 1024 if memory_kib.isdigit() else 0.0,
        cpu_model=_first("/proc/cpuinfo", "model name"),
        kernel=f"{platform.system()} {platform.release()}",
        python=platform.python_version(),
        kafka=kafka_version(),
        postgres=f"PostgreSQL {postgres}",
    )
