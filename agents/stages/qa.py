"""The article qa stage: measure the draft against the brief and the outline, and say what falls short."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.context import StageContext, StageInput
from agents.stages import qa_metrics as m
from agents.stages.prerequisites import require
from streams.payloads import Brief, Draft, KeywordStat, Outline, QAReport, QAReview, Stage

WORD_COUNT_TOLERANCE_PCT = 10.0
MAX_KEYWORD_DENSITY_PCT = 3.0
TITLE_LENGTH = (10, 70)  # characters; search results cut titles past ~60-70
META_DESCRIPTION_LENGTH = (120, 160)
MIN_FLESCH = 30.0  # below this, text reads as academic prose


async def handle(inp: StageInput, ctx: StageContext) -> QAReport:
    outline = require(inp, inp.outputs.outline, Stage.OUTLINE)
    draft = require(inp, inp.outputs.draft, Stage.DRAFT)
    report = review(inp.brief, outline, draft)
    return merge(report, await ctx.provider.review(inp.brief, outline, draft, report))


class QAVerdict(BaseModel):
    """What a model answers when asked to review a draft (validated before it is merged)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    passed: bool
    findings: list[Annotated[str, Field(min_length=1, max_length=400)]] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _a_failure_says_why(self) -> "QAVerdict":
        if not self.passed and not self.findings:
            raise ValueError("a verdict that does not pass the draft names at least one finding")
        return self


def merge(report: QAReport, review: QAReview | None) -> QAReport:
    """The model's verdict joins the measured report: its findings become issues for the draft and it can fail the
    draft, but it cannot change a measured figure nor pass what the measures fail. Without a verdict the provider
    cannot redraft differently either, so the report carries no findings to send back to the draft."""
    if review is None:  # no judgement of its own (offline, simulated): its redraft would be the same text again,
        return report.model_copy(update=dict(draft_findings=[]))  # so nothing is sent back; the report stands
    findings = [] if review.passed else [f"Reviewer: {f}" for f in review.findings]
    return report.model_copy(update=dict(
        review=review, issues=[*report.issues, *findings], draft_findings=[*report.draft_findings, *findings],
        passed=report.passed and review.passed))


def review(brief: Brief, outline: Outline, draft: Draft) -> QAReport:
    """Every figure is measured on the Markdown itself; the provider's own word count is not trusted."""
    text = m.plain_text(draft.markdown)
    body = m.body_text(draft.markdown)
    total = m.count_words(text)
    stats = [
        KeywordStat(keyword=k, occurrences=n, density_pct=m.keyword_density(n, total))
        for k, n in ((k, m.keyword_occurrences(text, k)) for k in brief.keywords)
    ]
    counts = m.heading_counts(draft.markdown)
    heading_problems = m.heading_problems(draft.markdown)
    deviation = m.deviation_pct(total, brief.word_count)
    flesch = m.flesch_reading_ease(body)
    repeated = m.repeated_sentences(body)
    missing = [s.keyword for s in stats if s.occurrences == 0]
    content = [
        *_length_issues(total, brief.word_count, deviation),
        *(f"Keyword {k!r} does not appear in the draft." for k in missing),
        *(f"Keyword {s.keyword!r} takes {s.density_pct}% of the words (over {MAX_KEYWORD_DENSITY_PCT}%): "
          "it reads as keyword stuffing." for s in stats if s.density_pct > MAX_KEYWORD_DENSITY_PCT),
        *heading_problems,
    ]
    # The title and meta description are the outline's: a new draft cannot fix them, so they never send it back.
    metadata = [
        *_range_issue("Title", len(outline.title), TITLE_LENGTH),
        *_range_issue("Meta description", len(outline.meta_description), META_DESCRIPTION_LENGTH),
    ]
    prose = [
        *([f"Flesch reading ease is {flesch}, below {MIN_FLESCH}: the text is hard to read."]
          if flesch < MIN_FLESCH else []),
        *(f"Sentence repeated: {s!r}." for s in repeated),
    ]
    issues = [*content, *metadata, *prose]
    return QAReport(
        word_count=total,
        target_word_count=brief.word_count,
        word_count_deviation_pct=deviation,
        keyword_stats=stats,
        missing_keywords=missing,
        h1_count=counts.h1,
        h2_count=counts.h2,
        h3_count=counts.h3,
        heading_structure_ok=not heading_problems,
        title_length=len(outline.title),
        meta_description_length=len(outline.meta_description),
        flesch_reading_ease=flesch,
        repeated_sentences=repeated,
        issues=issues,
        passed=not issues,
        draft_findings=[*content, *prose],
    )


def _length_issues(total: int, target: int, deviation: float) -> list[str]:
    if abs(deviation) <= WORD_COUNT_TOLERANCE_PCT:
        return []
    direction = "above" if deviation > 0 else "below"
    return [f"Word count {total} is {abs(deviation)}% {direction} the target of {target} "
            f"(allowed: {WORD_COUNT_TOLERANCE_PCT:g}%)."]


def _range_issue(what: str, length: int, bounds: tuple[int, int]) -> list[str]:
    low, high = bounds
    if low <= length <= high:
        return []
    return [f"{what} is {length} characters; it should be {low}-{high}."]
