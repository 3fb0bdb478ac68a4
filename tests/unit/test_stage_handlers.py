"""Stage handlers and the registry: measured QA, export formats, schema checks, and failures on bad input."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any, get_args

import pytest

from agents.context import StageContext, StageInput
from agents.errors import PermanentError
from agents.handlers import HANDLERS, run_stage
from agents.providers.offline import OfflineProvider
from agents.stages import complete, draft, export, markup, outline, qa, research, schema_qa
from streams.payloads import (
    PIPELINES,
    Brief,
    Draft,
    JobType,
    Outline,
    OutlineSection,
    ResearchNotes,
    SchemaMarkup,
    SchemaType,
    Stage,
    StageOutputs,
)

NOW = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
BRIEF = Brief(
    title="How to Plan Meals for a Busy Week",
    keywords=["meal planning", "batch cooking", "grocery list"],
    domain="greenkitchen.com",
    author="Ana Silva",
    url="https://greenkitchen.com/plan-meals",
    word_count=1200,
)


def context(provider: Any = None) -> StageContext:
    return StageContext(provider=provider or OfflineProvider(), clock=lambda: NOW)


def stage_input(stage: Stage, outputs: StageOutputs = StageOutputs(), *, brief: Brief = BRIEF,
                job_type: JobType = JobType.ARTICLE) -> StageInput:
    return StageInput(job_id=uuid.UUID(int=7), job_type=job_type, stage=stage, attempt=1, brief=brief,
                      outputs=outputs)


async def run_pipeline(job_type: JobType, brief: Brief = BRIEF) -> StageOutputs:
    outputs = StageOutputs()
    for stage in PIPELINES[job_type]:
        result = await run_stage(stage_input(stage, outputs, brief=brief, job_type=job_type), context())
        outputs = outputs.with_output(stage, result)
    return outputs


# ---------------------------------------------------------------- whole pipelines


async def test_article_pipeline_ends_with_passing_qa_and_a_completion() -> None:
    outputs = await run_pipeline(JobType.ARTICLE)
    assert outputs.qa is not None and outputs.qa.kind == "qa"
    assert outputs.qa.passed, outputs.qa.issues
    assert outputs.complete is not None and outputs.draft is not None and outputs.outline is not None
    assert outputs.complete.model_dump() == {
        "kind": "complete", "job_type": JobType.ARTICLE, "title": BRIEF.title, "slug": outputs.outline.slug,
        "word_count": outputs.draft.word_count, "qa_passed": True, "formats": ["markdown", "html", "json-ld"],
    }


@pytest.mark.parametrize("word_count", [150, 700, 2500])
async def test_article_pipeline_passes_qa_across_lengths(word_count: int) -> None:
    brief = BRIEF.model_copy(update={"word_count": word_count, "author": None, "url": None})
    report = (await run_pipeline(JobType.ARTICLE, brief)).qa
    assert report is not None
    assert report.passed, report.issues


@pytest.mark.parametrize("schema_type", get_args(SchemaType))
async def test_schema_pipeline_validates_markup_of_every_type(schema_type: str) -> None:
    outputs = await run_pipeline(JobType.SCHEMA, BRIEF.model_copy(update={"schema_type": schema_type}))
    report = outputs.qa
    assert report is not None and report.kind == "schema_qa"
    assert report.passed, report.issues
    assert report.valid_json and report.schema_type == schema_type and report.missing_properties == []
    assert report.required_properties == list(schema_qa.REQUIRED_PROPERTIES[schema_type])
    assert outputs.complete is not None
    assert outputs.complete.formats == ["json-ld"] and outputs.complete.word_count is None
    assert outputs.complete.slug == "how-to-plan-meals-for-a-busy-week"


async def test_schema_markup_without_domain_or_author_still_validates() -> None:
    bare = Brief(title="Acme Trail Runner 2", keywords=["trail running shoe"], word_count=300)
    for schema_type in get_args(SchemaType):
        report = (await run_pipeline(JobType.SCHEMA, bare.model_copy(update={"schema_type": schema_type}))).qa
        assert report is not None
        assert report.passed, (schema_type, report.issues)


async def test_markup_stage_dates_articles_from_the_clock() -> None:
    brief = BRIEF.model_copy(update={"schema_type": "BlogPosting"})
    notes = await research.handle(stage_input(Stage.RESEARCH, brief=brief), context())
    result = await markup.handle(stage_input(Stage.MARKUP, StageOutputs(research=notes), brief=brief), context())
    assert json.loads(result.json_ld)["datePublished"] == "2024-05-01T12:30:00+00:00"


# ---------------------------------------------------------------- registry


def test_registry_maps_exactly_the_declared_pipelines() -> None:
    declared = {(job_type, stage) for job_type, stages in PIPELINES.items() for stage in stages}
    assert set(HANDLERS) == declared
    assert HANDLERS[(JobType.ARTICLE, Stage.QA)] is qa.handle
    assert HANDLERS[(JobType.SCHEMA, Stage.QA)] is schema_qa.handle


async def test_run_stage_rejects_a_stage_outside_the_pipeline() -> None:
    with pytest.raises(PermanentError) as caught:
        await run_stage(stage_input(Stage.MARKUP), context())
    assert caught.value.code == "unknown_stage" and not caught.value.retryable


# ---------------------------------------------------------------- missing earlier output


@pytest.mark.parametrize(
    ("handle", "stage", "job_type", "needed"),
    [
        (outline.handle, Stage.OUTLINE, JobType.ARTICLE, "research"),
        (draft.handle, Stage.DRAFT, JobType.ARTICLE, "research"),
        (qa.handle, Stage.QA, JobType.ARTICLE, "outline"),
        (export.handle, Stage.EXPORT, JobType.ARTICLE, "outline"),
        (complete.handle, Stage.COMPLETE, JobType.ARTICLE, "qa"),
        (markup.handle, Stage.MARKUP, JobType.SCHEMA, "research"),
        (schema_qa.handle, Stage.QA, JobType.SCHEMA, "markup"),
        (complete.handle, Stage.COMPLETE, JobType.SCHEMA, "qa"),
    ],
)
async def test_missing_earlier_output_is_permanent(handle: Any, stage: Stage, job_type: JobType, needed: str) -> None:
    with pytest.raises(PermanentError, match=f"needs the output of the {needed} stage") as caught:
        await handle(stage_input(stage, job_type=job_type), context())
    assert caught.value.code == "missing_stage_output"


async def test_draft_needs_the_outline_too() -> None:
    notes = await research.handle(stage_input(Stage.RESEARCH), context())
    with pytest.raises(PermanentError, match="outline stage"):
        await draft.handle(stage_input(Stage.DRAFT, StageOutputs(research=notes)), context())


# ---------------------------------------------------------------- provider answers that make no sense


class Nonsense(OfflineProvider):
    """An offline provider with one answer spoiled, as a misbehaving LLM might."""

    name = "nonsense"

    def __init__(self, spoil: str) -> None:
        self.spoil = spoil

    async def research(self, brief: Brief) -> ResearchNotes:
        notes = await super().research(brief)
        return notes.model_copy(update={"keyword_insights": notes.keyword_insights[1:]}) if self.spoil == "research" \
            else notes

    async def outline(self, brief: Brief, research: ResearchNotes) -> Outline:
        result = await super().outline(brief, research)
        if self.spoil != "outline":
            return result
        return result.model_copy(update={"slug": "Not A Slug!", "sections": [
            OutlineSection(heading="Only one", keywords=[], points=[], target_words=100)]})

    async def draft(self, brief: Brief, research: ResearchNotes, outline: Outline) -> Draft:
        return Draft(markdown="   \n", word_count=1200) if self.spoil == "draft" else \
            await super().draft(brief, research, outline)

    async def markup(self, brief: Brief, research: ResearchNotes) -> SchemaMarkup:
        if self.spoil == "markup-json":
            return SchemaMarkup(schema_type=brief.schema_type, json_ld="{not json")
        if self.spoil == "markup-type":
            return SchemaMarkup(schema_type=brief.schema_type, json_ld='{"@type": "Recipe"}')
        return await super().markup(brief, research)


async def test_invalid_provider_answers_are_permanent_errors() -> None:
    notes = await research.handle(stage_input(Stage.RESEARCH), context())
    plan = await outline.handle(stage_input(Stage.OUTLINE, StageOutputs(research=notes)), context())
    cases = [
        ("research", research.handle, Stage.RESEARCH, StageOutputs(), "no keyword insight for 'meal planning'"),
        ("outline", outline.handle, Stage.OUTLINE, StageOutputs(research=notes), "not a URL slug"),
        ("outline", outline.handle, Stage.OUTLINE, StageOutputs(research=notes), "no section covers 'meal planning'"),
        ("draft", draft.handle, Stage.DRAFT, StageOutputs(research=notes, outline=plan), "the draft is empty"),
        ("markup-json", markup.handle, Stage.MARKUP, StageOutputs(research=notes), "does not parse"),
        ("markup-type", markup.handle, Stage.MARKUP, StageOutputs(research=notes), "@type 'Recipe'"),
    ]
    for spoil, handle, stage, outputs, message in cases:
        with pytest.raises(PermanentError, match=message) as caught:
            await handle(stage_input(stage, outputs), context(Nonsense(spoil)))
        assert caught.value.code == "invalid_provider_output"
        assert "nonsense provider" in str(caught.value)


async def test_draft_stage_records_the_measured_word_count() -> None:
    class Boastful(OfflineProvider):
        async def draft(self, brief: Brief, research: ResearchNotes, outline: Outline) -> Draft:
            return Draft(markdown="# Title\n\n## One\n\nFive words are right here.\n", word_count=9999)

    notes = await research.handle(stage_input(Stage.RESEARCH), context())
    plan = await outline.handle(stage_input(Stage.OUTLINE, StageOutputs(research=notes)), context())
    result = await draft.handle(stage_input(Stage.DRAFT, StageOutputs(research=notes, outline=plan)),
                                context(Boastful()))
    assert result.word_count == 7


# ---------------------------------------------------------------- article QA on a known draft

KNOWN_DRAFT = """# Meal Planning Basics

### Too early

Meal planning saves time. Batch cooking saves money.

## Start

Plan your meals on Sunday. Plan your meals on Sunday.
"""


def known_outline(meta_length: int = 130) -> Outline:
    return Outline(title="Meal Planning Basics", slug="meal-planning-basics", meta_description="x" * meta_length,
                   sections=[OutlineSection(heading="Start", keywords=["meal planning"], points=[], target_words=20)])


async def test_qa_reports_measured_figures_for_a_known_draft() -> None:
    brief = Brief(title="Meal Planning Basics", keywords=["meal planning", "batch cooking", "grocery list"],
                  word_count=150)
    outputs = StageOutputs(outline=known_outline(100), draft=Draft(markdown=KNOWN_DRAFT, word_count=150))
    report = await qa.handle(stage_input(Stage.QA, outputs, brief=brief), context())
    # 3 + 2 + 4 + 4 + 1 + 5 + 5 = 24 words
    assert report.word_count == 24
    assert report.target_word_count == 150
    assert report.word_count_deviation_pct == -84.0
    assert [(s.keyword, s.occurrences, s.density_pct) for s in report.keyword_stats] == [
        ("meal planning", 2, 8.33), ("batch cooking", 1, 4.17), ("grocery list", 0, 0.0)]
    assert report.missing_keywords == ["grocery list"]
    assert (report.h1_count, report.h2_count, report.h3_count) == (1, 1, 1)
    assert not report.heading_structure_ok
    assert report.title_length == 20 and report.meta_description_length == 100
    assert report.repeated_sentences == ["Plan your meals on Sunday."]
    assert report.flesch_reading_ease > 60
    assert not report.passed
    expected = [
        "Word count 24 is 84.0% below the target of 150 (allowed: 10%).",
        "Keyword 'grocery list' does not appear in the draft.",
        "Keyword 'meal planning' takes 8.33% of the words (over 3.0%): it reads as keyword stuffing.",
        "Keyword 'batch cooking' takes 4.17% of the words (over 3.0%): it reads as keyword stuffing.",
        "Expected at least two H2 headings, found 1.",
        "An H3 heading appears before the first H2.",
        "Meta description is 100 characters; it should be 120-160.",
        "Sentence repeated: 'Plan your meals on Sunday.'.",
    ]
    assert report.issues == expected
    # The offline provider has no verdict of its own and would write the same draft again: nothing goes back to it,
    # so the failing report completes QA (passed false) rather than returning the job to the draft for a copy.
    assert report.draft_findings == []
    assert qa.merge(qa.review(brief, outputs.outline, outputs.draft), None).draft_findings == []
    assert qa.review(brief, outputs.outline, outputs.draft).draft_findings  # a model's verdict would send these back


CLEAN_DRAFT = (
    "# Cooking at Home Every Week\n"
    "\n"
    "## Plan the Week\n"
    "\n"
    "Good food starts with a short list. Cooking at home is cheaper than eating out, and it is often "
    "faster too. Pick three dinners you already know and write them down on Friday. Check the fridge "
    "before you shop, so nothing goes to waste. Buy fresh vegetables for the first half of the week and "
    "frozen ones for the rest.\n"
    "\n"
    "## Cook Once, Eat Twice\n"
    "\n"
    "Make two big dishes on Sunday and eat them over several days. A pot of soup and a tray of roast "
    "vegetables will carry you to Wednesday. Store portions in clear boxes so you can see what is left. "
    "On busy nights, reheat one box and add a simple salad. Save the last evening for leftovers or an "
    "easy omelette. Small habits like these make the routine feel light instead of like a chore.\n"
)


async def test_qa_passes_a_clean_known_draft() -> None:
    brief = Brief(title="Cooking at Home Every Week", keywords=["cooking at home"], word_count=150)
    outputs = StageOutputs(outline=known_outline(), draft=Draft(markdown=CLEAN_DRAFT, word_count=0))
    report = await qa.handle(stage_input(Stage.QA, outputs, brief=brief), context())
    assert report.word_count == 146 and report.word_count_deviation_pct == -2.7
    assert [(s.occurrences, s.density_pct) for s in report.keyword_stats] == [(2, 1.37)]
    assert (report.h1_count, report.h2_count, report.h3_count) == (1, 2, 0) and report.heading_structure_ok
    assert report.flesch_reading_ease == pytest.approx(84.62, abs=0.01)
    assert report.issues == [] and report.passed


# ---------------------------------------------------------------- schema QA on known markup


@pytest.mark.parametrize(
    ("text", "schema_type", "issue"),
    [
        ("{oops", "Article", "not valid JSON"),
        ("[1, 2]", "Article", "not a JSON object"),
        ('{"@context": "https://example.org", "@type": "WebPage", "name": "n", "description": "d"}', "WebPage",
         "@context is 'https://example.org'"),
        ('{"@context": "https://schema.org", "@type": "Article", "name": "n"}', "WebPage", "@type is 'Article'"),
        ('{"@context": "https://schema.org", "@type": "Product", "name": "n", "description": ""}', "Product",
         "Required property 'description' is missing or empty."),
        ('{"@context": "https://schema.org", "@type": "FAQPage", "mainEntity": [{"@type": "Question", "name": "Q?"}]}',
         "FAQPage", "has no acceptedAnswer text"),
        ('{"@context": "https://schema.org", "@type": "HowTo", "name": "n", "step": [{"@type": "HowToStep"}]}',
         "HowTo", "step[0] has no text."),
    ],
)
def test_schema_qa_finds_problems(text: str, schema_type: str, issue: str) -> None:
    report = schema_qa.check_json_ld(text, schema_type)
    assert not report.passed
    assert any(issue in i for i in report.issues), report.issues


def test_schema_qa_lists_missing_required_properties() -> None:
    report = schema_qa.check_json_ld('{"@context": "https://schema.org", "@type": "Article", "headline": "h"}',
                                     "Article")
    assert report.valid_json and report.schema_type == "Article"
    assert report.missing_properties == ["description", "author", "datePublished"]


# ---------------------------------------------------------------- export


class PageParser(HTMLParser):
    """Collects what a browser would need from the exported page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.doctype = ""
        self.tags: list[str] = []
        self.attrs: dict[str, list[dict[str, str | None]]] = {}
        self.stack: list[str] = []
        self.text: dict[str, str] = {}

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.setdefault(tag, []).append(dict(attrs))
        if tag not in ("meta", "link"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.text[self.stack[-1]] = self.text.get(self.stack[-1], "") + data


async def exported(brief: Brief) -> tuple[StageOutputs, Any]:
    outputs = StageOutputs()
    for stage in PIPELINES[JobType.ARTICLE][:-1]:
        outputs = outputs.with_output(stage, await run_stage(stage_input(stage, outputs, brief=brief), context()))
    assert outputs.export is not None
    return outputs, outputs.export


async def test_export_html_is_a_complete_document_with_its_json_ld() -> None:
    outputs, bundle = await exported(BRIEF)
    assert outputs.outline is not None and outputs.draft is not None
    page = PageParser()
    page.feed(bundle.html)
    page.close()
    assert page.doctype.lower() == "doctype html"
    assert page.stack == []  # every element closed, in order
    assert page.tags[:2] == ["html", "head"] and "body" in page.tags and page.tags.count("h1") == 1
    assert page.attrs["html"][0]["lang"] == "en"
    assert page.text["title"] == outputs.outline.title
    descriptions = [a for a in page.attrs["meta"] if a.get("name") == "description"]
    assert descriptions == [{"name": "description", "content": outputs.outline.meta_description}]
    assert page.attrs["script"][0]["type"] == "application/ld+json"
    assert json.loads(page.text["script"]) == json.loads(bundle.json_ld)
    assert page.text["h1"] == outputs.outline.title
    assert bundle.markdown == outputs.draft.markdown and bundle.slug == outputs.outline.slug


async def test_export_json_ld_is_a_schema_org_article() -> None:
    outputs, bundle = await exported(BRIEF)
    assert outputs.draft is not None and outputs.outline is not None
    data = json.loads(bundle.json_ld)
    assert data == {
        "@context": "https://schema.org",
        "@type": "Article",
        "headline": outputs.outline.title,
        "description": outputs.outline.meta_description,
        "keywords": "meal planning, batch cooking, grocery list",
        "wordCount": outputs.draft.word_count,
        "author": {"@type": "Person", "name": "Ana Silva"},
        "datePublished": "2024-05-01T12:30:00+00:00",
        "url": "https://greenkitchen.com/plan-meals",
        "mainEntityOfPage": {"@type": "WebPage", "@id": "https://greenkitchen.com/plan-meals"},
        "inLanguage": "en",
    }
    assert schema_qa.check_json_ld(bundle.json_ld, "Article").passed


async def test_export_escapes_markup_from_the_brief_and_the_draft() -> None:
    brief = BRIEF.model_copy(update={"title": 'Cook </script><script>alert("x")</script> & Eat', "language": "fr"})
    _, bundle = await exported(brief)
    page = PageParser()
    page.feed(bundle.html)
    assert page.tags.count("script") == 1
    assert page.attrs["html"][0]["lang"] == "fr"
    assert json.loads(page.text["script"])["headline"] == brief.title
    rendered = export.render_markdown("# T\n\n<script>alert(1)</script>\n")
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
