"""The offline provider's draft writer: turns an outline into Markdown of a target length from templates."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from agents.providers.offline_facets import FACETS, STEP_ITEMS, Facet, ListKind
from agents.providers.offline_phrases import (
    CLAUSE_STARTS,
    COMBINED_MENTIONS,
    CONCLUSION_LEADS,
    CONCLUSION_SENTENCES,
    GENERAL_SENTENCES,
    GENERIC_REFS,
    HOW_TO_MENTIONS,
    IMPERATIVE_OPENERS,
    IMPERATIVE_VERBS,
    INTRO_LEADS,
    INTRO_SENTENCES,
    OPENERS,
    PHRASE_MENTIONS,
    SITE_SENTENCES,
    VERB_MENTIONS,
)
from agents.providers.offline_profile import (
    KeywordForm,
    TopicProfile,
    capitalize_first,
    is_phrase_keyword,
    keyword_form,
    noun_core,
    render,
)
from streams.payloads import Draft, Outline, OutlineSection, ResearchNotes

# The qa stage measures the draft again, independently; these only steer the writer towards its targets.
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
MAX_DENSITY = 0.02  # share of the words one keyword may take, once it has been mentioned where required
SUBSECTION_MIN_WORDS = 380  # a section this long gets its points as ### subsections
TIGHT_WORDS_PER_KEYWORD = 18  # below this budget per keyword, a section names its keywords in one sentence
ENDGAME_WORDS = 30  # below this many words left, pick the best-fitting of several candidate sentences


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def mentions(text: str, phrase: str) -> int:
    words = phrase.split()
    if not words:
        return 0
    pattern = r"(?<![\w-])" + r"\s+".join(re.escape(w) for w in words) + r"(?![\w-])"
    return len(re.findall(pattern, text, flags=re.IGNORECASE))


_SLOT = re.compile(r"\{(\w+)\}")
_VARIED_SLOTS = frozenset({"pros", "resource", "resource2", "metric", "benefit", "pitfall", "pitfall2", "concept",
                           "time", "period", "ref", "term"})


@dataclass(frozen=True)
class _Candidate:
    sentence: str
    core: str  # the sentence without its opener
    template: str
    phrases: tuple[str, ...]


@dataclass
class _Ledger:
    """What has been written so far: words, keyword mentions, sentences already used."""

    words: int = 0
    mentions: Counter[str] = field(default_factory=Counter)
    seen: set[str] = field(default_factory=set)
    template_uses: Counter[str] = field(default_factory=Counter)
    phrases: set[str] = field(default_factory=set)


class DraftWriter:
    """Writes one article; an instance is used once, for one (brief, research, outline)."""

    def __init__(self, profile: TopicProfile, research: ResearchNotes, outline: Outline, word_count: int) -> None:
        self.profile = profile
        self.outline = outline
        self.target = word_count
        self.rng = profile.rng("draft")
        self.ledger = _Ledger()
        self.cap = max(2, int(word_count * MAX_DENSITY))
        self.terms: dict[str, list[str]] = {i.keyword.lower(): list(i.related_terms) for i in research.keyword_insights}
        self.facet_of = _facet_names(outline)

    def write(self) -> str:
        blocks = [self._heading("#", self.outline.title)]
        sections = self.outline.sections
        for i, section in enumerate(sections):
            left = self.target - self.ledger.words
            planned = sum(max(s.target_words, 1) for s in sections[i:])
            budget = left if i == len(sections) - 1 else round(max(section.target_words, 1) * left / planned)
            blocks.extend(self._section(section, i, budget))
        return "\n\n".join(blocks) + "\n"

    # ------------------------------------------------------------------ structure

    def _section(self, section: OutlineSection, index: int, budget: int) -> list[str]:
        start = self.ledger.words
        blocks = [self._heading("##", section.heading)]
        last = index == len(self.outline.sections) - 1
        facet = FACETS.get(self.facet_of[index]) if 0 < index and not last else None
        leads, bank = _banks(index, last, facet)
        if self.profile.site and (index == 0 or last):
            bank = (*bank, *SITE_SENTENCES)
        subjects = [noun_core(k) if is_phrase_keyword(k) else k for k in section.keywords] or [self.profile.topic]
        musts = [k for k in section.keywords if mentions(section.heading, k) == 0]

        # Intro and conclusion points describe the section; only a body section's points are advice to write out.
        points = [p for p in section.points if p.strip()] if facet is not None else []

        def remaining() -> int:
            return budget - (self.ledger.words - start)

        lead_keyword = next((k for k in musts if keyword_form(k) is KeywordForm.NOUN), None)
        lead = self._lead(leads, lead_keyword or self._subject(subjects), lead_keyword)
        opening = [lead]
        musts = [k for k in musts if k != lead_keyword or lead is None]
        nouns = [k for k in musts if keyword_form(k) is KeywordForm.NOUN]
        if len(nouns) >= 2 and remaining() < TIGHT_WORDS_PER_KEYWORD * len(musts):
            opening.append(self._combined(nouns))
            musts = [k for k in musts if k not in nouns]
        opening += [self._must(keyword, bank) for keyword in musts]
        blocks += self._paragraphs(opening, bank, subjects, remaining() // (len(points) + 1))
        self._maybe_list(blocks, facet, subjects, remaining())
        as_subsections = budget >= SUBSECTION_MIN_WORDS and len(points) >= 2
        for j, point in enumerate(points):
            if as_subsections:
                blocks.append(self._heading("###", capitalize_first(point)))
                first = []
            elif remaining() < 20:
                break
            else:  # a short section opens a paragraph with each point, as advice
                advice = capitalize_first(point.rstrip(".")) + "."
                first = [self._accept(advice)] if self._fits_caps(advice) else []
            blocks += self._paragraphs(first, bank, subjects, remaining() // (len(points) - j))
        blocks += self._paragraphs([], bank, subjects, remaining())
        return blocks

    def _paragraphs(self, first: list[str | None], bank: Sequence[str], subjects: list[str], budget: int) -> list[str]:
        """Paragraphs of 3-5 sentences until `budget` words are spent; `first` opens the first one."""
        start = self.ledger.words
        out: list[str] = []
        pending = [s for s in first if s]
        while pending or budget - (self.ledger.words - start) >= 4:
            sentences, pending = pending, []
            size = self.rng.randint(3, 5)
            while len(sentences) < size:
                sentence = self._filler(bank, subjects, budget - (self.ledger.words - start))
                if sentence is None:
                    break
                sentences.append(sentence)
            if not sentences:
                break
            out.append(" ".join(sentences))
        return out

    def _maybe_list(self, blocks: list[str], facet: Facet | None, subjects: list[str], remaining: int) -> None:
        if facet is None or facet.list_source is None or remaining < 60:
            return
        picked: list[str] = []
        if facet.list_source == "steps":
            items = [self._fill(t, subjects[0])[0] for t in STEP_ITEMS]
        else:
            pool: list[str] = list(getattr(self.profile.lexicon, facet.list_source))
            fresh = [p for p in pool if p not in self.ledger.phrases]
            source = fresh if len(fresh) >= 3 else pool
            picked = self.rng.sample(source, k=min(4, len(source)))
            items = [capitalize_first(p) + "." for p in picked]
        items = [i for i in items if self._fresh(i) and self._fits_caps(i)]
        intro = self.rng.choice(facet.list_intros)
        if len(items) < 3 or not self._fresh(intro):
            return
        blocks.append(str(self._accept(intro)))
        numbered = facet.list_kind is ListKind.NUMBERED
        lines = [f"{n}. {item}" if numbered else f"- {item}" for n, item in enumerate(items, start=1)]
        for item in items:
            self._accept(item)
        self.ledger.phrases.update(picked)
        blocks.append("\n".join(lines))

    # ------------------------------------------------------------------ sentences

    def _heading(self, marks: str, text: str) -> str:
        self.ledger.words += count_words(text)
        self._count_mentions(text)
        return f"{marks} {text}"

    def _lead(self, leads: Sequence[str], subject: str, keyword: str | None) -> str | None:
        exempt = frozenset({keyword}) if keyword else frozenset()
        return self._commit(self._compose(leads, subject, exempt=exempt, tries=12))

    def _must(self, keyword: str, bank: Sequence[str]) -> str | None:
        form = keyword_form(keyword)
        if form is not KeywordForm.NOUN:
            templates = _MENTIONS[form]
            return self._commit(self._compose(templates, keyword, exempt=frozenset({keyword}), tries=20))
        with_kw = [t for t in (*bank, *GENERAL_SENTENCES) if "{kw}" in t]
        return self._commit(self._compose(with_kw, keyword, exempt=frozenset({keyword}), tries=30))

    def _combined(self, keywords: list[str]) -> str | None:
        joined = ", ".join(keywords[:-1]) + " and " + keywords[-1]
        templates = [t.replace("{kws}", joined) for t in COMBINED_MENTIONS]
        return self._commit(self._compose(templates, joined, exempt=frozenset(keywords), tries=10))

    def _filler(self, bank: Sequence[str], subjects: list[str], left: int) -> str | None:
        """One more sentence; near the end of a budget, the candidate whose length fits best."""
        if left < 4:
            return None
        tries = 6 if left <= ENDGAME_WORDS else 1
        everything = (*bank, *GENERAL_SENTENCES)
        candidates: list[_Candidate] = []
        for _ in range(tries):
            unused = [t for t in bank if self.ledger.template_uses[t] == 0]
            pool = unused if unused and self.rng.random() < 0.6 else everything
            subject = self._subject(subjects)
            candidate = self._compose(pool, subject, tries=25) or self._compose(
                everything, subject, tries=40, force_opener=True)
            if candidate:
                candidates.append(candidate)
        if not candidates:
            return None
        best = min(candidates, key=lambda c: abs(left - count_words(c.sentence)))
        if left <= ENDGAME_WORDS and count_words(best.sentence) - left > left:
            return None  # adding it would overshoot by more than stopping short
        return self._commit(best)

    def _subject(self, subjects: list[str]) -> str:
        open_ = [s for s in subjects if self._within_cap(s)]
        return self.rng.choice(open_) if open_ else self.rng.choice(GENERIC_REFS)

    def _compose(self, templates: Sequence[str], subject: str, *, exempt: frozenset[str] = frozenset(),
                 tries: int = 20, force_opener: bool = False) -> _Candidate | None:
        """A new sentence from the least-used templates; None if every attempt repeats or over-uses a keyword
        (other than the `exempt` ones, which the sentence is there to mention)."""
        if not templates:
            return None
        uses = self.ledger.template_uses
        # A template without slots reads the same every time: once is all it gets.
        usable = [t for t in templates if not uses[t] or _has_slots(t)]
        if not usable:
            return None
        least = min(uses[t] for t in usable)
        fresh = [t for t in usable if uses[t] == least]
        for attempt in range(tries):
            template = self.rng.choice(fresh if attempt < tries // 2 else usable)
            core, phrases = self._fill(template, subject)
            sentence = core
            if (force_opener or self.rng.random() < 0.2) and _takes_opener(template):
                openers = IMPERATIVE_OPENERS if _is_imperative(template) else OPENERS
                sentence = f"{self.rng.choice(openers)} {core[0].lower()}{core[1:]}"
            if force_opener and sentence == core:
                continue
            if not self._fresh(sentence) or (not force_opener and not self._fresh(core)):
                continue
            if not self._fits_caps(sentence, exempt):
                continue
            return _Candidate(sentence, core, template, phrases)
        return None

    def _commit(self, candidate: _Candidate | None) -> str | None:
        if candidate is None:
            return None
        accepted = self._accept(candidate.sentence)
        if accepted is not None:
            self.ledger.seen.add(_norm(candidate.core))  # the bare template may not come back without its opener
            self.ledger.template_uses[candidate.template] += 1
            self.ledger.phrases.update(candidate.phrases)
        return accepted

    def _fill(self, template: str, subject: str) -> tuple[str, tuple[str, ...]]:
        """The filled template and the field phrases it used (to be avoided by the next sentences)."""
        values = self.profile.slot_values(self.rng, subject, self.terms.get(subject.lower(), ()),
                                          avoid=self.ledger.phrases)
        text = render(template, values)
        return text, tuple(values[name] for name in _SLOT.findall(template) if name in _VARIED_SLOTS)

    def _fresh(self, sentence: str) -> bool:
        return _norm(sentence) not in self.ledger.seen

    def _within_cap(self, keyword: str) -> bool:
        return self.ledger.mentions[keyword.lower()] < self.cap

    def _fits_caps(self, sentence: str, exempt: frozenset[str] = frozenset()) -> bool:
        for keyword in self.profile.keywords:
            found = mentions(sentence, keyword)
            if found and keyword not in exempt and self.ledger.mentions[keyword.lower()] + found > self.cap:
                return False
        return True

    def _accept(self, sentence: str) -> str | None:
        if not self._fresh(sentence):
            return None
        self.ledger.seen.add(_norm(sentence))
        self.ledger.words += count_words(sentence)
        self._count_mentions(sentence)
        return sentence

    def _count_mentions(self, text: str) -> None:
        for keyword in self.profile.keywords:
            self.ledger.mentions[keyword.lower()] += mentions(text, keyword)


@lru_cache(maxsize=None)
def _has_slots(template: str) -> bool:
    return _SLOT.search(template) is not None


# Intro, conclusion and mention sentences talk about the article itself; "In practice," would not fit them.
_PLAIN = frozenset((*INTRO_LEADS, *INTRO_SENTENCES, *CONCLUSION_LEADS, *CONCLUSION_SENTENCES, *SITE_SENTENCES,
                    *PHRASE_MENTIONS, *VERB_MENTIONS, *HOW_TO_MENTIONS, *COMBINED_MENTIONS))
_MENTIONS: dict[KeywordForm, tuple[str, ...]] = {
    KeywordForm.VERB: VERB_MENTIONS,
    KeywordForm.HOW_TO: HOW_TO_MENTIONS,
    KeywordForm.QUERY: PHRASE_MENTIONS,
}


def _takes_opener(template: str) -> bool:
    """Whether "In practice, ..." can go in front: not before a slot or a sentence that opens with its own clause."""
    first = template.split(" ", 1)[0]
    return (template[0] != "{" and not first.endswith(",") and first.lower() not in CLAUSE_STARTS
            and template not in _PLAIN)


def _is_imperative(template: str) -> bool:
    return template.split(" ", 1)[0].lower() in IMPERATIVE_VERBS


def _norm(sentence: str) -> str:
    return " ".join(_WORD.findall(sentence.lower()))


def _banks(index: int, last: bool, facet: Facet | None) -> tuple[Sequence[str], Sequence[str]]:
    if index == 0:
        return INTRO_LEADS, INTRO_SENTENCES
    if last:
        return CONCLUSION_LEADS, CONCLUSION_SENTENCES
    assert facet is not None
    return facet.leads, facet.sentences


def _facet_names(outline: Outline) -> list[str]:
    """The facet each section was planned with, recognised from its heading; any other outline gets a rotation."""
    names: list[str] = []
    rotation = [name for name in FACETS]
    for i, section in enumerate(outline.sections):
        match = next((f.name for f in FACETS.values() if any(_heading_matches(h, section.heading) for h in f.headings)),
                     None)
        names.append(match or rotation[i % len(rotation)])
    return names


def _heading_matches(template: str, heading: str) -> bool:
    pattern = "^" + re.escape(template).replace(re.escape("{Kw}"), ".+") + "$"
    return re.match(pattern, heading) is not None


def write_draft(profile: TopicProfile, research: ResearchNotes, outline: Outline, word_count: int) -> Draft:
    writer = DraftWriter(profile, research, outline, word_count)
    markdown = writer.write()
    return Draft(markdown=markdown, word_count=writer.ledger.words)
