"""The offline provider's vocabulary and templates as data: JSON files in `offline_data/`, each read once."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def table(name: str) -> dict[str, Any]:
    """`offline_data/<name>.json`; its `_about` key says what it holds."""
    return json.loads(files("agents.providers").joinpath("offline_data", f"{name}.json").read_text(encoding="utf-8"))


def strings(values: list[str]) -> tuple[str, ...]:
    return tuple(values)
