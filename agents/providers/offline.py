"""`OfflineProvider`: deterministic, network-free content built from templates keyed on the brief's subject."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from agents.pacing.answers import ContextReading, PieceDraft
from agents.providers.offline_facets import FACET_ORDER, FACETS
from agents.providers.offline_pacing import read_context
from agents.providers.offline_posts import write_piece
from agents.providers.offline_markup import build_markup
from agents.providers.offline_phrases import (
    ANGLES,
    CONCLUSION_HEADINGS,
    INTRO_HEADINGS,
    META_FILLERS,
    META_LEADS,
    QUESTIONS,
    SUMMARIES,
)
from agents.providers.offline_profile import (
    TopicProfile,
    capitalize_first,
    keyword_intent,
    noun_core,
    profile_brief,
    render,
    title_case,
)
from agents.providers.offline_writer import count_words, write_draft
from agents.slug import slugify
from streams.pacing_payloads import ContentSuggestion, ContextChunk, PacingBrief
from streams.payloads import (
    Brief,
    Draft,
    KeywordInsight,
    Outline,
    OutlineSection,
    QAReport,
    QAReview,
    ResearchNotes,
    SchemaMarkup,
)

META_MIN, META_MAX = 120, 160
MAX_BODY_SECTIONS = len(FACETS)
WORDS_PER_SECTION = 260
# Headings without the topic keep short articles from over-using their main keyword.
_PLAIN_INTRO_HEADINGS = ("Why This Matters", "Before You Begin", "The Big Picture")
_SHORT_ARTICLE = 800
_TINY_ARTICLE = 400  # short enough that every heading word counts against the body


class OfflineProvider:
    """The default provider: same brief in, byte-identical content out; no network, no clock."""

    name = "offline"

    async def research(self, brief: Brief) -> ResearchNotes:
        return build_research(brief, profile_brief(brief))

    async def outline(self, brief: Brief, research: ResearchNotes) -> Outline:
        return build_outline(brief, research, profile_brief(brief))

    async def draft(self, brief: Brief, research: ResearchNotes, outline: Outline, *, previous: Draft | None = None,
                    findings: Sequence[str] = ()) -> Draft:
        # Deterministic: a draft returned by QA comes back the same (the measures that failed it fail it again).
        return write_draft(profile_brief(brief), research, outline, brief.word_count)

    async def review(self, brief: Brief, outline: Outline, draft: Draft, report: QAReport) -> QAReview | None:
        return None  # the measured report is the offline verdict

    async def markup(self, brief: Brief, research: ResearchNotes) -> SchemaMarkup:
        return SchemaMarkup(schema_type=brief.schema_type, json_ld=build_markup(brief, research, profile_brief(brief)))

    async def analyze_context(self, brief: PacingBrief, chunks: list[ContextChunk]) -> ContextReading:
        return read_context(brief, chunks)

    async def write_piece(self, suggestion: ContentSuggestion, sources: list[ContextChunk], local_date: date) -> PieceDraft:
        return write_piece(suggestion, sources, local_date)


def build_research(brief: Brief, profile: TopicProfile) -> ResearchNotes:
    rng = profile.rng("research")
    topic = profile.topic
    values = profile.slot_values(rng, topic)
    angle = render(ANGLES[profile.angle.value], values)
    if brief.tone:
        angle += f" The tone is {brief.tone.strip().lower()}."
    subjects = [noun_core(k) for k in profile.keywords] or [topic]
    facets = FACET_ORDER[profile.angle.value][: max(5, min(8, len(subjects) + 3))]
    key_points = [
        render(FACETS[name].key_point, profile.slot_values(rng, subjects[i % len(subjects)]))
        for i, name in enumerate(facets)
    ]
    insights = [
        KeywordInsight(keyword=k, intent=keyword_intent(k, profile.site), related_terms=related_terms(k, profile))
        for k in profile.keywords
    ]
    audience = brief.audience.strip() if brief.audience and brief.audience.strip() else (
        f"{capitalize_first(profile.audience)} looking for practical, jargon-free guidance on {topic}")
    return ResearchNotes(
        summary=render(rng.choice(SUMMARIES), values),
        audience=audience,
        angle=angle,
        key_points=key_points,
        keyword_insights=insights,
        questions=reader_questions(profile),
    )


def related_terms(keyword: str, profile: TopicProfile) -> list[str]:
    """Two variations on the keyword and two ideas from its field, e.g. "meal planning tips", "batch cooking"."""
    rng = profile.rng(f"terms:{keyword.lower()}")
    core = noun_core(keyword)
    variations = [f"{core} tips", f"{core} for beginners", f"{core} mistakes", f"{core} tools", f"{core} examples",
                  f"{core} checklist"]
    concepts = [c for c in profile.lexicon.concepts if c.lower() not in core.lower()]
    return rng.sample(variations, 2) + rng.sample(concepts, 2)


def reader_questions(profile: TopicProfile) -> list[str]:
    """Up to seven questions; a keyword that is itself a question comes first, in its own words."""
    questions: list[str] = []
    for keyword in profile.keywords:
        own = question_form(keyword)
        if own:
            questions.append(own)
    subjects = [noun_core(k) for k in profile.keywords] or [profile.topic]
    for i, (template, _) in enumerate(QUESTIONS):
        if len(questions) >= 7:
            break
        questions.append(render(template, {"kw": subjects[i % len(subjects)]}))
    return list(dict.fromkeys(questions))[:7]


def question_form(keyword: str) -> str | None:
    lowered = keyword.lower().strip()
    if lowered.startswith("how to "):
        return f"How do I {keyword.strip()[7:]}?"
    if lowered.split()[0] in ("what", "why", "when", "where", "which", "who", "can", "should", "is", "are", "does"):
        return capitalize_first(keyword.strip().rstrip("?")) + "?"
    return None


def build_outline(brief: Brief, research: ResearchNotes, profile: TopicProfile) -> Outline:
    rng = profile.rng("outline")
    title = brief.title.strip()
    keywords = list(profile.keywords)
    n_body = max(2, min(MAX_BODY_SECTIONS, round(brief.word_count / WORDS_PER_SECTION)))
    facet_names = FACET_ORDER[profile.angle.value][:n_body]
    assigned: list[list[str]] = [[] for _ in range(n_body)]
    for i, keyword in enumerate(keywords):
        assigned[i % n_body].append(keyword)

    available = brief.word_count - count_words(title)
    intro_words = max(40, min(250, round(brief.word_count * 0.10)))
    outro_words = max(35, min(200, round(brief.word_count * 0.08)))
    body_words = max(30, (available - intro_words - outro_words) // n_body)
    short = brief.word_count < _SHORT_ARTICLE
    topic_values = {"Topic": title_case(profile.topic), "topic": profile.topic}

    sections = [OutlineSection(
        heading=render(rng.choice(_PLAIN_INTRO_HEADINGS if short else INTRO_HEADINGS), topic_values),
        keywords=keywords[:1],
        points=[f"Why {profile.topic} matters to {profile.audience}", "What this guide covers"],
        target_words=intro_words,
    )]
    for name, section_keywords in zip(facet_names, assigned):
        facet = FACETS[name]
        subject = noun_core(section_keywords[0]) if section_keywords else profile.topic
        values = {"kw": subject, "Kw": title_case(subject)}
        points = rng.sample(facet.points, 3 if body_words >= 300 else 2)
        heading = min(facet.headings, key=len) if brief.word_count < _TINY_ARTICLE else rng.choice(facet.headings)
        sections.append(OutlineSection(
            heading=render(heading, values),
            keywords=section_keywords,
            points=[render(p, values) for p in points],
            target_words=body_words,
        ))
    sections.append(OutlineSection(
        heading=render(rng.choice(CONCLUSION_HEADINGS[1:] if short else CONCLUSION_HEADINGS), topic_values),
        keywords=[],
        points=["Recap the key ideas", "Choose a first step"],
        target_words=outro_words,
    ))
    return Outline(title=title, slug=slugify(title), meta_description=meta_description(profile, keywords),
                   sections=sections)


def meta_description(profile: TopicProfile, keywords: list[str]) -> str:
    """120-160 characters: a lead naming the topic, the next keywords, then short fillers as room allows."""
    rng = profile.rng("meta")
    values = {"topic": profile.topic, "audience": profile.audience}
    lead = render(rng.choice(META_LEADS), values)
    if len(lead) > META_MAX:  # a very long topic: keep it, cut at a word boundary
        return fit_length(lead, META_MIN, META_MAX)
    parts = [lead]
    others = [noun_core(k) for k in keywords[1:3]]
    if len(others) == 2:
        parts.append(f"Covers {others[0]} and {others[1]}.")
    elif others:
        parts.append(f"Covers {others[0]} and more.")
    parts += rng.sample(META_FILLERS, len(META_FILLERS))
    text = ""
    for part in parts:
        candidate = f"{text} {part}".strip()
        if len(candidate) <= META_MAX:
            text = candidate
        if len(text) >= META_MIN + 10:
            break
    return fit_length(text, META_MIN, META_MAX)


def fit_length(text: str, low: int, high: int) -> str:
    """Cut at a word boundary to at most `high` characters; pad short text with a neutral closing phrase."""
    while len(text) < low:
        text = f"{text} Practical advice, clear examples and simple next steps.".strip()
    if len(text) <= high:
        return text
    cut = text[: high - 1]
    cut = cut[: cut.rfind(" ")] if " " in cut and cut.rfind(" ") >= low - 1 else cut
    return cut.rstrip(" ,;:-") + "."
