"""The offline writer's section kinds ("facets"): headings, points and sentence templates for each.

The tables live in `offline_data/facets.json`.

Template grammar: `{kw}` is a noun phrase of either number, so it only follows a preposition, stands as
an object, or takes a modal verb ("{kw} can"); `{Kw}` is its title-cased form for headings. The other
slots come from the subject's `Lexicon` (see its docstring for each list's grammar).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from agents.providers.offline_tables import strings, table


class ListKind(StrEnum):
    BULLETS = "bullets"
    NUMBERED = "numbered"


@dataclass(frozen=True)
class Facet:
    name: str
    headings: tuple[str, ...]
    leads: tuple[str, ...]
    points: tuple[str, ...]
    sentences: tuple[str, ...]
    key_point: str
    list_source: str | None = None
    list_kind: ListKind = ListKind.BULLETS
    list_intros: tuple[str, ...] = ()


def _facet(row: dict[str, Any]) -> Facet:
    return Facet(name=row["name"], headings=strings(row["headings"]), leads=strings(row["leads"]),
                 points=strings(row["points"]), sentences=strings(row["sentences"]), key_point=row["key_point"],
                 list_source=row["list_source"], list_kind=ListKind(row["list_kind"]),
                 list_intros=strings(row["list_intros"]))


_DATA = table("facets")
FACETS: dict[str, Facet] = {f.name: f for f in map(_facet, _DATA["facets"])}
# Section order per angle: a how-to starts from the basics, a comparison from the choice itself.
FACET_ORDER: dict[str, tuple[str, ...]] = {angle: strings(names) for angle, names in _DATA["facet_order"].items()}
STEP_ITEMS: tuple[str, ...] = strings(_DATA["step_items"])
