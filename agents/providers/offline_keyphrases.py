"""Deterministic keyphrase extraction for the offline provider: recurring phrases, weighted by recency and spread."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from agents.providers.offline_tables import table
from streams.pacing_payloads import ContextChunk

HALF_LIFE_DAYS = 7.0        # a mention a week old counts half as much as one from today
MAX_WORDS = 3
LENGTH_WEIGHT = 0.6         # each extra word in a phrase adds this much: "heat pump" beats "pump"
SPREAD_WEIGHT = 0.25        # each extra source (document or meeting) it appears in adds this much

# English function words plus the generic vocabulary of notes and meetings, which recurs everywhere
# and says nothing about what matters.
STOPWORDS: frozenset[str] = frozenset(table("pacing")["stopwords"])  # in offline_data/pacing.json

_SPEAKER = re.compile(r"(?m)^\s*(?:\[[\d:]+\]\s*)?[A-Z][\w.'-]*(?:\s[A-Z][\w.'-]*){0,3}\s*:\s")
_MARKDOWN = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[([^\]]+)\]\([^)]*\)|[*_`>#|]")
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSES = re.compile(r"[,;:()\[\]{}\"“”]|\s[-–—]+\s")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’+-]*[A-Za-z0-9+]|[A-Za-z]")


@dataclass(frozen=True)
class Keyphrase:
    phrase: str                  # as it is most often written
    key: str                     # normalised words, for matching
    score: float
    occurrences: int
    chunk_ids: tuple[UUID, ...]  # where it occurs, most mentions first
    source_ids: tuple[UUID, ...]  # distinct documents and meetings it occurs in
    first_seen: date
    last_seen: date


def normalise(word: str) -> str:
    """Lower case, no possessive, a light plural strip: 'Pumps', "pump's" and 'pump' are one word."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.strip("'-")
    if len(w) > 3 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def plain_text(text: str) -> str:
    """Text without Markdown marks and speaker labels, so neither becomes a topic."""
    return _MARKDOWN.sub(lambda m: m.group(1) or " ", _SPEAKER.sub("", text))


def _content_runs(sentence: str) -> list[list[tuple[str, bool]]]:
    """Runs of content words (word, is_sentence_initial) between stopwords and punctuation."""
    runs: list[list[tuple[str, bool]]] = []
    initial = True
    for clause in _CLAUSES.split(sentence):
        run: list[tuple[str, bool]] = []
        for word in _WORD.findall(clause):
            n = normalise(word)
            if n in STOPWORDS or word.lower() in STOPWORDS or len(n) < 2 or not any(c.isalpha() for c in n):
                if run:
                    runs.append(run)
                run = []
            else:
                run.append((word, initial))
            initial = False
        if run:
            runs.append(run)
    return runs


@dataclass
class _Tally:
    weighted: float = 0.0
    occurrences: int = 0
    per_chunk: Counter = field(default_factory=Counter)
    sources: set = field(default_factory=set)
    surfaces: Counter = field(default_factory=Counter)
    first_seen: date = date.max
    last_seen: date = date.min


def extract_keyphrases(chunks: list[ContextChunk], as_of: date, *, limit: int = 12,
                       min_occurrences: int = 2) -> list[Keyphrase]:
    """The phrases that recur in `chunks`, best first; the same chunks always give the same list."""
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    for chunk in sorted(chunks, key=lambda c: (c.source_date, str(c.chunk_id))):
        age = max(0, (as_of - chunk.source_date).days)
        recency = 0.5 ** (age / HALF_LIFE_DAYS)
        text = plain_text(f"{chunk.heading or ''}\n{chunk.text}")
        for sentence in _SENTENCES.split(text):
            for run in _content_runs(sentence):
                for size in range(1, MAX_WORDS + 1):
                    for i in range(len(run) - size + 1):
                        gram = run[i:i + size]
                        key = " ".join(normalise(w) for w, _ in gram)
                        t = tallies[key]
                        t.weighted += recency
                        t.occurrences += 1
                        t.per_chunk[chunk.chunk_id] += 1
                        t.sources.add(chunk.source_id)
                        t.first_seen = min(t.first_seen, chunk.source_date)
                        t.last_seen = max(t.last_seen, chunk.source_date)
                        surface = " ".join(w for w, _ in gram)
                        # A capital at the start of a sentence says nothing about how the phrase is written.
                        t.surfaces[surface.lower() if gram[0][1] else surface] += 1
    scored = []
    for key, t in tallies.items():
        if t.occurrences < min_occurrences:
            continue
        words = key.count(" ") + 1
        score = t.weighted * (1 + LENGTH_WEIGHT * (words - 1)) * (1 + SPREAD_WEIGHT * (len(t.sources) - 1))
        sources = tuple(sorted(t.sources, key=str))
        phrase = sorted(t.surfaces.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        chunk_ids = tuple(c for c, _ in sorted(t.per_chunk.items(), key=lambda kv: (-kv[1], str(kv[0]))))
        scored.append(Keyphrase(phrase, key, round(score, 4), t.occurrences, chunk_ids, sources, t.first_seen,
                                t.last_seen))
    scored.sort(key=lambda k: (-k.score, k.key))
    return _distinct(scored, limit)


def _distinct(ranked: list[Keyphrase], limit: int) -> list[Keyphrase]:
    """Best first, leaving out a phrase whose words are all within a better one's, or the reverse."""
    chosen: list[Keyphrase] = []
    for kp in ranked:
        words = set(kp.key.split())
        if any(words <= set(c.key.split()) or set(c.key.split()) <= words for c in chosen):
            continue
        chosen.append(kp)
        if len(chosen) == limit:
            break
    return chosen
