"""Turns older versions of a message's JSON into the current one before it is validated."""

from __future__ import annotations

from typing import Any, Callable

Raw = dict[str, Any]

# (type, from_version) -> function returning the raw message at from_version + 1.
UPCASTERS: dict[tuple[str, int], Callable[[Raw], Raw]] = {}

CURRENT_VERSIONS: dict[str, int] = {}


class UnknownVersion(ValueError):
    """A message from a future (or unknown) schema version: dead-letter it, do not guess."""


def upcast(raw: Raw) -> Raw:
    """Apply upcasters in turn until the message is at its type's current version."""
    kind = raw.get("type")
    version = raw.get("schema_version", 1)
    if not isinstance(kind, str) or not isinstance(version, int):
        return raw  # validation will say what is wrong
    current = CURRENT_VERSIONS.get(kind, 1)
    if version > current:
        raise UnknownVersion(f"{kind} schema_version {version} is newer than this code's {current}")
    while version < current:
        step = UPCASTERS.get((kind, version))
        if step is None:
            raise UnknownVersion(f"no upcaster for {kind} v{version}")
        raw = step(raw)
        version = raw["schema_version"]
    return raw
