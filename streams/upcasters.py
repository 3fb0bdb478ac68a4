"""Turns older versions of a message's JSON into the current one before it is validated."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from streams import commands, deadletters, events
from streams.envelope import Message

Raw = dict[str, Any]
Upcaster = Callable[[Raw], Raw]


class UnknownVersion(ValueError):
    """A message from a future (or unknown) schema version: dead-letter it, do not guess."""


def upcast_stage_started_v1_v2(raw: Raw) -> Raw:
    """StageStarted v2 states its time limit in milliseconds: `time_limit_seconds` becomes `time_limit_ms`."""
    out = {k: v for k, v in raw.items() if k != "time_limit_seconds"}
    seconds = raw.get("time_limit_seconds")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        out["time_limit_ms"] = round(seconds * 1000)
    elif "time_limit_seconds" in raw:
        out["time_limit_ms"] = seconds  # not a number: carried over for validation to name the field
    out["schema_version"] = 2
    return out


def upcast_usage_v1_v2(raw: Raw) -> Raw:
    """StageCompleted and StageFailed v2 carry the attempt's model usage; a v1 event recorded none: no calls,
    provider unknown (null)."""
    return {**raw, "usage": {"provider": None, "calls": []}, "schema_version": 2}


# (type, from_version) -> function returning the raw message at from_version + 1. A step is only
# ever run when the model declares a newer version than the message's: until streams/events.py says
# `schema_version: Literal[2]` for StageStarted, v1 is current and this step stays idle.
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("StageStarted", 1): upcast_stage_started_v1_v2,
    ("StageCompleted", 1): upcast_usage_v1_v2,
    ("StageFailed", 1): upcast_usage_v1_v2,
}


def declared_versions(modules: Iterable[ModuleType]) -> dict[str, int]:
    """Each message type's current version, as its model declares it (`schema_version: Literal[n] = n`)."""
    found: dict[str, int] = {}
    for module in modules:
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Message):
                kind, version = obj.model_fields.get("type"), obj.model_fields.get("schema_version")
                if kind is not None and version is not None and isinstance(kind.default, str):
                    found[kind.default] = int(version.default)
    return found


# Read from the models, so that bumping a model's version is the one switch that turns its upcasters on.
CURRENT_VERSIONS: dict[str, int] = declared_versions([events, commands, deadletters])


def missing_upcasters(
    current: Mapping[str, int] = CURRENT_VERSIONS, steps: Mapping[tuple[str, int], Upcaster] = UPCASTERS
) -> list[str]:
    """Steps a declared version needs and nobody wrote (empty when every old version can be read)."""
    return [f"{kind} v{v}->v{v + 1}" for kind, top in current.items() for v in range(1, top) if (kind, v) not in steps]


def upcast(
    raw: Raw,
    *,
    current: Mapping[str, int] | None = None,
    steps: Mapping[tuple[str, int], Upcaster] | None = None,
) -> Raw:
    """Apply upcasters in turn until the message is at its type's current version."""
    current = CURRENT_VERSIONS if current is None else current
    steps = UPCASTERS if steps is None else steps
    kind = raw.get("type")
    version = raw.get("schema_version", 1)
    if not isinstance(kind, str) or not isinstance(version, int) or isinstance(version, bool):
        return raw  # validation will say what is wrong
    top = current.get(kind, 1)
    if version > top:
        raise UnknownVersion(f"{kind} schema_version {version} is newer than this code's {top}")
    while version < top:
        step = steps.get((kind, version))
        if step is None:
            raise UnknownVersion(f"no upcaster for {kind} v{version} (this code reads v{top})")
        raw = step(raw)
        version = raw["schema_version"]
    return raw
