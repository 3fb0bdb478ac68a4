"""The offline provider's platform writers: pieces assembled from the user's own sentences, citing their chunks.

Nothing here states a fact that is not in a source: the templates only frame (a hook, headings, a
closing question); every claim is a sentence from a retrieved chunk, attributed to it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from agents.pacing.answers import PieceDraft
from agents.providers.offline_keyphrases import normalise, plain_text
from agents.providers.offline_tables import strings, table
from streams.pacing_payloads import ContentSuggestion, ContentType, ContextChunk, ContextSource

LINKEDIN_MAX_CHARS = 3000
LINKEDIN_HOOK_MAX = 140      # what shows before "…see more"
SOCIAL_MAX_CHARS = 280
SENTENCE_MAX_CHARS = 320

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])|\n+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’+-]*")
_ACTION = re.compile(r"\b(will|next|plan|plans|should|must|decid\w*|agree\w*|try|trial|pilot|start|launch|goal)\b", re.I)

# Post templates, in offline_data/pacing.json.
_TEMPLATES = table("pacing")
HOOKS: tuple[str, ...] = strings(_TEMPLATES["hooks"])
BLOG_TITLES: tuple[str, ...] = strings(_TEMPLATES["blog_titles"])
QUESTIONS: tuple[str, ...] = strings(_TEMPLATES["questions"])


@dataclass(frozen=True)
class Sentence:
    text: str
    chunk_id: UUID
    on_topic: bool
    action: bool


def write_piece(suggestion: ContentSuggestion, sources: list[ContextChunk], local_date: date) -> PieceDraft:
    """The piece for the suggestion's platform from `sources` (best first)."""
    sentences = pick_sentences(suggestion.topic, sources)
    if not sentences:
        sentences = [Sentence(_clip(plain_text(sources[0].text).strip()), sources[0].chunk_id, False, False)]
    writer = {
        ContentType.LINKEDIN_POST: _linkedin, ContentType.BLOG_POST: _blog,
        ContentType.NEWSLETTER: _newsletter, ContentType.SOCIAL_POST: _social,
    }[suggestion.content_type]
    title, body, used = writer(suggestion.topic, sentences, sources, local_date)
    cited = list(dict.fromkeys(used))
    return PieceDraft(title=title, body=body, cited_chunk_ids=cited)


def pick_sentences(topic: str, sources: list[ContextChunk], limit: int = 12) -> list[Sentence]:
    """Sentences of the sources, those naming the topic first, each once, in source rank order."""
    words = {normalise(w) for w in _WORD.findall(topic)}
    seen: set[str] = set()
    on, off = [], []
    for chunk in sources:
        for raw in _SENTENCE.split(plain_text(chunk.text)):
            text = _clip(" ".join(raw.split()))
            if len(text) < 15 or text.lower() in seen:
                continue
            seen.add(text.lower())
            has = words <= {normalise(w) for w in _WORD.findall(text)}
            s = Sentence(_finish(text), chunk.chunk_id, has, bool(_ACTION.search(text)))
            (on if has else off).append(s)
    return (on + off)[:limit]


# ---------------------------------------------------------------- platforms


def _linkedin(topic: str, sentences: list[Sentence], _sources, _day) -> tuple[str, str, list[UUID]]:
    lead, rest = sentences[0], sentences[1:5]
    question = _fill(_choose(QUESTIONS, topic + "?"), topic)
    while True:
        hook = _hook(topic, count=len(rest) + 1)
        lines = [hook, "", lead.text, ""] + [f"→ {s.text}" for s in rest] + ["", question, "", _hashtag(topic)]
        body = "\n".join(lines)
        if len(body) <= LINKEDIN_MAX_CHARS or not rest:
            break
        rest = rest[:-1]
    return _title(topic), body[:LINKEDIN_MAX_CHARS], [lead.chunk_id] + [s.chunk_id for s in rest]


def _hook(topic: str, count: int) -> str:
    """A first line short enough to show whole before LinkedIn folds the post."""
    template = _choose(HOOKS, topic)
    if "{count}" in template and count < 2:
        template = HOOKS[0]
    hook = _fill(template, topic, count=count)
    return hook if len(hook) <= LINKEDIN_HOOK_MAX else _clip_to(f"On {topic}:", LINKEDIN_HOOK_MAX)


def _blog(topic: str, sentences: list[Sentence], sources, _day) -> tuple[str, str, list[UUID]]:
    refs = _References(sources)
    title = _fill(_choose(BLOG_TITLES, topic), topic)
    intro, rest = sentences[:2] if len(sentences) > 3 else sentences[:1], sentences[2 if len(sentences) > 3 else 1:]
    actions = [s for s in rest if s.action][:3]
    learned = [s for s in rest if s not in actions][:6]
    parts = [f"# {title}", "", " ".join(refs.cite(s) for s in intro)]
    if learned:  # a thin context gives a shorter post, never padding
        parts += ["", f"## What we have learned about {topic}", ""] + [f"- {refs.cite(s)}" for s in learned]
    parts += ["", "## What comes next", ""] + [f"- {refs.cite(s)}" for s in actions]
    parts += [f"- {_fill(q, topic)}" for q in QUESTIONS[:2]]
    parts += ["", "## Sources", ""] + refs.listing()
    return title, "\n".join(parts), refs.used


def _newsletter(topic: str, sentences: list[Sentence], sources, day: date) -> tuple[str, str, list[UUID]]:
    refs = _References(sources)
    kind = {c.chunk_id: c.source for c in sources}
    title = f"{_title(topic)}: Notes for {day.strftime('%B')} {day.day}"
    top = sentences[:2]
    meeting = [s for s in sentences[2:] if kind[s.chunk_id] is ContextSource.MEETING][:3]
    knowledge = [s for s in sentences[2:] if kind[s.chunk_id] is ContextSource.KNOWLEDGE][:3]
    action = next((s for s in sentences if s.action and s not in top), None)
    parts = [f"# {title}", "", f"This edition is about {topic}, in our own words from recent notes.", "",
             "## The big picture", "", " ".join(refs.cite(s) for s in top)]
    if meeting:
        parts += ["", "## From our meetings", ""] + [f"- {refs.cite(s)}" for s in meeting]
    if knowledge:
        parts += ["", "## From the knowledge base", ""] + [f"- {refs.cite(s)}" for s in knowledge]
    parts += ["", "## One thing to try", "", refs.cite(action) if action else _fill(QUESTIONS[1], topic)]
    parts += ["", "## Sources", ""] + refs.listing()
    return title, "\n".join(parts), refs.used


def _social(topic: str, sentences: list[Sentence], _sources, _day) -> tuple[str, str, list[UUID]]:
    tag = _hashtag(topic)
    room = SOCIAL_MAX_CHARS - len(tag) - 1
    # The best-ranked sentence naming the topic that fits whole; else the best one, clipped.
    on_topic = [s for s in sentences if s.on_topic] or sentences
    best = next((s for s in on_topic if len(s.text) <= room), on_topic[0])
    text = _clip_to(best.text, room)
    return _title(topic), f"{text} {tag}", [best.chunk_id]


# ---------------------------------------------------------------- pieces of pieces


class _References:
    """Numbers sources in order of first citation; `listing()` is the Sources section."""

    def __init__(self, sources: list[ContextChunk]) -> None:
        self.by_id = {c.chunk_id: c for c in sources}
        self.used: list[UUID] = []

    def cite(self, s: Sentence) -> str:
        if s.chunk_id not in self.used:
            self.used.append(s.chunk_id)
        return f"{s.text} [{self.used.index(s.chunk_id) + 1}]"

    def listing(self) -> list[str]:
        out = []
        for n, cid in enumerate(self.used, start=1):
            c = self.by_id[cid]
            where = f" — {c.heading}" if c.heading and c.heading != c.source_title else ""
            out.append(f"{n}. {c.source_title}{where} ({c.source.value}, {c.source_date.isoformat()})")
        return out


def _choose(options: tuple[str, ...], seed: str) -> str:
    digest = hashlib.sha256(seed.lower().encode()).digest()
    return options[digest[0] % len(options)]


def _fill(template: str, topic: str, **extra) -> str:
    """{topic} as written, {Topic} capitalised to start a sentence, {Title} title-cased for a title."""
    return template.format(topic=topic, Topic=topic[:1].upper() + topic[1:], Title=_title(topic), **extra)


def _title(topic: str) -> str:
    return " ".join(w if w.isupper() else w[:1].upper() + w[1:] for w in topic.split())


def _hashtag(topic: str) -> str:
    return "#" + "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", topic))


def _clip(text: str) -> str:
    return _clip_to(text, SENTENCE_MAX_CHARS)


def _clip_to(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _finish(text: str) -> str:
    return text if text[-1] in ".!?…" else text + "."
