"""Subject vocabularies for the offline provider: the words a field uses, picked by the brief's subject.

The vocabularies live in `offline_data/lexicons.json`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agents.providers.offline_tables import strings, table


@dataclass(frozen=True)
class Lexicon:
    """Phrases that fit the templates' slots; each list's grammar is fixed so any item fits any slot use.

    audience: plural noun phrase ("home cooks"); pros: plural ("experienced cooks");
    resources: noun phrase with article ("a weekly shopping list"); metrics: noun phrase;
    benefits: verb phrase after "to"/"will" ("spend less at the store"); pitfalls: gerund phrase;
    concepts: singular or mass nouns ("batch cooking"); times: durations ("two weeks").
    """

    name: str
    triggers: frozenset[str]
    audience: str
    pros: tuple[str, ...]
    resources: tuple[str, ...]
    metrics: tuple[str, ...]
    benefits: tuple[str, ...]
    pitfalls: tuple[str, ...]
    concepts: tuple[str, ...]
    times: tuple[str, ...]


def _lexicon(row: dict[str, Any]) -> Lexicon:
    return Lexicon(name=row["name"], triggers=frozenset(row["triggers"]), audience=row["audience"],
                   **{key: strings(row[key]) for key in LIST_FIELDS})


LIST_FIELDS = ("pros", "resources", "metrics", "benefits", "pitfalls", "concepts", "times")
_DATA = table("lexicons")
LEXICONS: tuple[Lexicon, ...] = tuple(map(_lexicon, _DATA["lexicons"]))
GENERAL = _lexicon(_DATA["general"])

_TOKEN = re.compile(r"[a-z0-9]+")


def detect_lexicon(text: str) -> Lexicon:
    """The lexicon whose trigger words occur most in `text` (title, keywords, domain); GENERAL if none do."""
    tokens = _TOKEN.findall(text.lower())
    best, best_score = GENERAL, 0
    for lexicon in LEXICONS:
        score = sum(1 for token in tokens if token in lexicon.triggers)
        if score > best_score:
            best, best_score = lexicon, score
    return best
