"""The offline provider: deterministic, on target length, covering every keyword, readable, fast."""

from __future__ import annotations

import json
import re
from typing import get_args

import pytest

from agents.providers.base import ContentProvider
from agents.providers.offline import OfflineProvider
from agents.slug import is_slug
from agents.stages import qa_metrics as m
from streams.payloads import Brief, Draft, Outline, ResearchNotes, SchemaType

MEALS = Brief(
    title="How to Plan Meals for a Busy Week",
    keywords=["meal planning", "batch cooking", "grocery list"],
    domain="greenkitchen.com",
    word_count=1200,
)
KUBERNETES = Brief(
    title="Kubernetes Autoscaling Explained",
    keywords=["kubernetes autoscaling", "horizontal pod autoscaler", "cluster autoscaler", "resource requests"],
    audience="Platform engineers at growing startups",
    word_count=1500,
)
SHOES = Brief(
    title="The Best Running Shoes for Beginners",
    keywords=["best running shoes", "how to choose running shoes", "buy running shoes online", "cushioning"],
    word_count=900,
)
SLEEP = Brief(title="Why Sleep Matters", word_count=600)
SAVINGS = Brief(
    title="10 Ways to Save Money on Groceries",
    keywords=["save money", "grocery budget", "coupons", "meal prep", "bulk buying", "store brands", "cashback apps"],
    audience="Families on a tight budget",
    tone="Friendly",
    word_count=1000,
)
BRIEFS = [MEALS, KUBERNETES, SHOES, SLEEP, SAVINGS]


async def generate(brief: Brief) -> tuple[ResearchNotes, Outline, Draft]:
    provider: ContentProvider = OfflineProvider()
    research = await provider.research(brief)
    outline = await provider.outline(brief, research)
    return research, outline, await provider.draft(brief, research, outline)


async def test_same_brief_gives_byte_identical_output() -> None:
    first, second = await generate(KUBERNETES), await generate(KUBERNETES)
    assert [o.model_dump_json() for o in first] == [o.model_dump_json() for o in second]
    for schema_type in get_args(SchemaType):
        brief = MEALS.model_copy(update={"schema_type": schema_type})
        a = await OfflineProvider().markup(brief, first[0])
        b = await OfflineProvider().markup(brief, first[0])
        assert a.json_ld == b.json_ld


async def test_different_briefs_read_differently() -> None:
    drafts = [(await generate(b))[2].markdown for b in (MEALS, KUBERNETES, SHOES)]
    sentence_sets = [set(m.sentences(m.body_text(d))) for d in drafts]
    for i in range(len(sentence_sets)):
        for j in range(i + 1, len(sentence_sets)):
            shared = sentence_sets[i] & sentence_sets[j]
            assert len(shared) < 0.2 * min(len(sentence_sets[i]), len(sentence_sets[j]))


@pytest.mark.parametrize("word_count", [150, 250, 400, 800, 1500, 3000, 6000, 10000])
@pytest.mark.parametrize("brief", [MEALS, KUBERNETES, SLEEP], ids=["meals", "kubernetes", "no-keywords"])
async def test_draft_lands_within_ten_percent_of_target(brief: Brief, word_count: int) -> None:
    brief = brief.model_copy(update={"word_count": word_count})
    _, _, draft = await generate(brief)
    measured = m.count_words(m.plain_text(draft.markdown))
    assert abs(measured - word_count) <= 0.1 * word_count
    assert draft.word_count == measured


@pytest.mark.parametrize("brief", BRIEFS, ids=lambda b: b.title[:20])
async def test_outline_and_draft_cover_every_keyword(brief: Brief) -> None:
    research, outline, draft = await generate(brief)
    covered = {k.lower() for section in outline.sections for k in section.keywords}
    assert covered == {k.lower() for k in brief.keywords}
    assert {i.keyword for i in research.keyword_insights} == set(brief.keywords)
    text = m.plain_text(draft.markdown)
    total = m.count_words(text)
    for keyword in brief.keywords:
        occurrences = m.keyword_occurrences(text, keyword)
        assert occurrences >= 1, keyword
        assert m.keyword_density(occurrences, total) <= 3.0, keyword


@pytest.mark.parametrize("brief", BRIEFS, ids=lambda b: b.title[:20])
async def test_draft_follows_the_outline(brief: Brief) -> None:
    _, outline, draft = await generate(brief)
    found = m.headings(draft.markdown)
    assert draft.markdown.startswith(f"# {outline.title}\n")
    assert [text for level, text in found if level == 2] == [s.heading for s in outline.sections]
    assert m.heading_structure_ok(draft.markdown)
    assert m.repeated_sentences(m.body_text(draft.markdown)) == []


@pytest.mark.parametrize("brief", BRIEFS, ids=lambda b: b.title[:20])
async def test_text_is_english_prose_without_template_residue(brief: Brief) -> None:
    research, outline, draft = await generate(brief)
    everything = research.model_dump_json() + outline.model_dump_json() + draft.markdown
    assert not re.search(r"\{\w+\}", everything)
    assert "lorem" not in everything.lower()
    body = m.body_text(draft.markdown)
    assert m.flesch_reading_ease(body) >= 50
    for sentence in m.sentences(body):
        assert sentence[0].isupper() or sentence[0] in "\"'0123456789", sentence


@pytest.mark.parametrize("brief", [*BRIEFS, Brief(title="A" * 5 + " " + "very long title " * 10, word_count=500)],
                         ids=lambda b: b.title[:20])
async def test_outline_metadata(brief: Brief) -> None:
    _, outline, _ = await generate(brief)
    assert 120 <= len(outline.meta_description) <= 160, outline.meta_description
    assert is_slug(outline.slug)
    assert outline.title == brief.title.strip()
    assert sum(s.target_words for s in outline.sections) <= brief.word_count


async def test_research_notes_are_derived_from_the_brief() -> None:
    research, _, _ = await generate(SHOES)
    intents = {i.keyword: i.intent for i in research.keyword_insights}
    assert intents == {
        "best running shoes": "commercial",
        "how to choose running shoes": "informational",
        "buy running shoes online": "transactional",
        "cushioning": "informational",
    }
    assert "How do I choose running shoes?" in research.questions
    assert all(len(i.related_terms) >= 3 for i in research.keyword_insights)
    assert len(research.key_points) >= 5 and len(research.questions) >= 5
    assert "running shoes" in research.summary
    savings, _, _ = await generate(SAVINGS)
    assert savings.audience == "Families on a tight budget"
    assert "friendly" in savings.angle


@pytest.mark.parametrize("schema_type", get_args(SchemaType))
async def test_markup_is_schema_org_json_ld_of_the_requested_type(schema_type: str) -> None:
    brief = MEALS.model_copy(update={"schema_type": schema_type, "author": "Ana Silva"})
    research, _, _ = await generate(brief)
    markup = await OfflineProvider().markup(brief, research)
    data = json.loads(markup.json_ld)
    assert markup.schema_type == schema_type
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == schema_type


async def test_faq_markup_answers_every_research_question() -> None:
    brief = MEALS.model_copy(update={"schema_type": "FAQPage"})
    research, _, _ = await generate(brief)
    data = json.loads((await OfflineProvider().markup(brief, research)).json_ld)
    assert [q["name"] for q in data["mainEntity"]] == research.questions
    answers = [q["acceptedAnswer"]["text"] for q in data["mainEntity"]]
    assert all(len(a.split()) >= 10 for a in answers)
    assert len(set(answers)) == len(answers)
