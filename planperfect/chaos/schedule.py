"""When each blow of a chaos run lands: random points in time, each with its kind, drawn from one seed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum


class Blow(StrEnum):
    """What a chaos run does at one point. A process kill starts a replacement at once; a broker restart starts
    the same local broker again; the database outage holds PostgreSQL down for the plan's outage seconds."""

    WORKER = "worker"
    PROJECTOR = "projector"
    API = "api"
    BROKER = "broker"
    POSTGRES = "postgres"


PROCESS_BLOWS = (Blow.WORKER, Blow.PROJECTOR, Blow.API)
# Workers do most of the work and hold most of the state in flight: they take most of the kills.
DEFAULT_WEIGHTS = {Blow.WORKER: 3, Blow.PROJECTOR: 1, Blow.API: 1}
# A broker restart is kept this far from the database outage, so each one's effect is read on its own.
STACK_SPACING_S = 20.0


@dataclass(frozen=True)
class Plan:
    """A run: `kills` process kills and `broker_restarts` broker restarts spread over `duration` seconds, and one
    PostgreSQL outage of `outage_seconds` (0: none)."""

    kills: int = 100
    broker_restarts: int = 3
    outage_seconds: float = 30.0
    duration: float = 600.0
    seed: int = 20261201
    weights: tuple[tuple[Blow, int], ...] = tuple(DEFAULT_WEIGHTS.items())

    def __post_init__(self) -> None:
        if self.kills < 0 or self.broker_restarts < 0 or self.outage_seconds < 0 or self.duration <= 0:
            raise ValueError("kills, broker restarts and the outage are counts and seconds >= 0; the duration > 0")
        if self.kills and not any(w > 0 for _, w in self.weights):
            raise ValueError("process kills need at least one kind with a weight above 0")


@dataclass(frozen=True)
class Moment:
    at: float  # seconds after the run began
    blow: Blow


def shares(kills: int, weights: tuple[tuple[Blow, int], ...]) -> list[Blow]:
    """`kills` split between the kinds in proportion to their weights (largest remainder): a short run still
    kills each kind with a share of at least one kill, which drawing each kind at random would not promise."""
    total = sum(w for _, w in weights)
    if not kills or not total:
        return []
    exact = [(kind, kills * w / total) for kind, w in weights]
    counts = {kind: int(x) for kind, x in exact}
    by_remainder = sorted(exact, key=lambda kx: kx[1] - int(kx[1]), reverse=True)
    for kind, _ in by_remainder[:kills - sum(counts.values())]:
        counts[kind] += 1
    return [kind for kind, n in counts.items() for _ in range(n)]


def schedule(plan: Plan) -> list[Moment]:
    """Every blow of the plan in time order. Process kills, shared by weight, fall at uniform random points of the run; the outage in
    its middle half; broker restarts at random points at least STACK_SPACING_S away from the outage and each other
    when the run is long enough to allow it (else where they fall)."""
    rng = random.Random(plan.seed)
    moments = [Moment(rng.uniform(0.05, 0.95) * plan.duration, kind) for kind in shares(plan.kills, plan.weights)]
    busy: list[tuple[float, float]] = []  # stretches of the run that a stack blow holds
    if plan.outage_seconds:
        start = rng.uniform(0.25, 0.75 - min(0.5, plan.outage_seconds / plan.duration)) * plan.duration
        moments.append(Moment(max(start, 0.0), Blow.POSTGRES))
        busy.append((start, start + plan.outage_seconds))
    for _ in range(plan.broker_restarts):
        at = rng.uniform(0.05, 0.95) * plan.duration
        for _ in range(200):
            if all(at < lo - STACK_SPACING_S or at > hi + STACK_SPACING_S for lo, hi in busy):
                break
            at = rng.uniform(0.05, 0.95) * plan.duration
        moments.append(Moment(at, Blow.BROKER))
        busy.append((at, at))
    return sorted(moments, key=lambda m: m.at)
