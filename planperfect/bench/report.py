"""What a benchmark measured: named figures, the samples behind the plots, the table, and progress lines."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass(frozen=True)
class Figure:
    key: str  # stable name, e.g. "burst_jobs_per_s": what `bench all` and the tests look up
    label: str  # what the table says
    value: float
    unit: str
    note: str = ""


@dataclass
class Result:
    bench: str
    figures: list[Figure] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)  # raw values behind the plots (e.g. latencies)
    notes: list[str] = field(default_factory=list)

    def add(self, key: str, label: str, value: float, unit: str, note: str = "") -> None:
        self.figures.append(Figure(key, label, value, unit, note))

    def value(self, key: str) -> float:
        for f in self.figures:
            if f.key == key:
                return f.value
        raise KeyError(f"{self.bench} has no figure {key!r}")

    def has(self, key: str) -> bool:
        return any(f.key == key for f in self.figures)


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(result: Result) -> str:
    width = max([len(f.label) for f in result.figures] + [10])
    lines = [f"{result.bench}", "-" * (width + 26)]
    for f in result.figures:
        lines.append(f"{f.label:<{width}}  {fmt(f.value):>12} {f.unit:<10}{('  ' + f.note) if f.note else ''}")
    lines += [f"  {n}" for n in result.notes]
    return "\n".join(lines)


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile (0..1) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Progress:
    """One status line, rewritten in place on a terminal and printed every few seconds otherwise."""

    def __init__(self, label: str, total: int, stream: TextIO = sys.stderr) -> None:
        self.label, self.total, self.stream = label, total, stream
        self.began = self.shown = time.monotonic()
        self.tty = stream.isatty()

    def update(self, done: int, extra: str = "") -> None:
        now = time.monotonic()
        if now - self.shown < (0.25 if self.tty else 5.0) and done < self.total:
            return
        self.shown = now
        rate = done / max(now - self.began, 1e-6)
        line = f"{self.label}: {done:,}/{self.total:,} ({rate:,.0f}/s){' ' + extra if extra else ''}"
        self.stream.write(f"\r{line}\x1b[K" if self.tty else line + "\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        self.stream.write(("\r\x1b[K" if self.tty else "") + f"{self.label}: {text}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
