"""A job's events as bars on a time axis: per stage, when it waited, ran, failed, waited to retry, was extended."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TERMINAL_EVENTS = {"JobCompleted", "JobDeadLettered", "JobCancelled"}


@dataclass
class Segment:
    kind: str  # queued, running, completed, failed, retry_wait, cancelled
    start: datetime
    end: datetime | None  # None: still open (drawn up to the axis' end)
    label: str
    left: float = 0.0  # percent of the axis, set by layout
    width: float = 0.0


@dataclass
class Mark:
    kind: str  # extended, dead_lettered, redriven, returned
    at: datetime
    label: str
    left: float = 0.0


@dataclass
class Row:
    stage: str
    segments: list[Segment] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)


@dataclass
class Timeline:
    start: datetime
    end: datetime
    rows: list[Row]
    finished: bool


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def build(events: list[dict[str, Any]], now: datetime) -> Timeline | None:
    """Fold the events (in sequence order) into one row per stage, in the order the stages first appear."""
    if not events:
        return None
    rows: dict[str, Row] = {}
    open_: dict[str, Segment] = {}

    def row(stage: str) -> Row:
        return rows.setdefault(stage, Row(stage))

    def close(stage: str, at: datetime, kind: str | None = None, label: str | None = None) -> None:
        seg = open_.pop(stage, None)
        if seg is not None:
            seg.end = at
            seg.kind, seg.label = kind or seg.kind, label or seg.label

    def begin(stage: str, kind: str, at: datetime, label: str) -> None:
        close(stage, at)
        open_[stage] = seg = Segment(kind, at, None, label)
        row(stage).segments.append(seg)

    finished = False
    for e in events:
        at, kind, stage = _at(e["occurred_at"]), e["type"], e.get("stage")
        match kind:
            case "JobSubmitted":
                begin(e["initial_stage"], "queued", at, f"queued (delay {e.get('delay_seconds', 0)} s)")
            case "StageStarted":
                begin(stage, "running", at, f"attempt {e['attempt']} running (limit {e['time_limit_ms'] / 1000:g} s)")
            case "StageExtended":
                row(stage).marks.append(Mark("extended", at, f"attempt {e['attempt']} extended by {e['extra_seconds']:g} s"))
            case "StageCompleted":
                close(stage, at, "completed", f"attempt {e['attempt']} completed in {e['duration_ms']} ms")
                if e.get("next_stage"):
                    begin(e["next_stage"], "queued", at, "queued")
            case "StageFailed":
                close(stage, at, "failed", f"attempt {e['attempt']} failed: {e['error']}")
            case "RetryScheduled":
                close(stage, at)
                due = _at(e["due_at"])
                row(stage).segments.append(Segment("retry_wait", at, due, f"retry in {e['delay_seconds']:g} s"))
                begin(stage, "queued", due, f"attempt {e['attempt']} queued")
            case "JobDeadLettered":
                close(stage, at)
                row(stage).marks.append(Mark("dead_lettered", at, f"dead-lettered after {e['attempts']} attempts"))
            case "StageReturned":  # the completion before it already queued the stage it returns to
                row(stage).marks.append(Mark("returned", at, f"returned the job to {e['to_stage']}: "
                                                             + "; ".join(e["findings"])))
            case "JobRedriven":
                row(stage).marks.append(Mark("redriven", at, "redriven"))
                begin(stage, "queued", at, "queued after redrive")
            case "JobCancelled":
                for s in list(open_):
                    close(s, at, "cancelled", "cancelled")
        finished = kind in TERMINAL_EVENTS
    last = max(_at(e["occurred_at"]) for e in events)
    end = last if finished else max(last, now)
    for seg in (s for r in rows.values() for s in r.segments):
        end = max(end, seg.end or end)
    timeline = Timeline(_at(events[0]["occurred_at"]), end, list(rows.values()), finished)
    _layout(timeline)
    return timeline


def _layout(t: Timeline) -> None:
    span = max((t.end - t.start).total_seconds(), 1e-3)

    def pct(at: datetime) -> float:
        return round(100 * (at - t.start).total_seconds() / span, 3)

    for r in t.rows:
        for s in r.segments:
            s.left = pct(s.start)
            s.width = max(0.4, pct(s.end or t.end) - s.left)
        for m in r.marks:
            m.left = pct(m.at)
