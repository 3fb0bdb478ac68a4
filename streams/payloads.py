"""Typed payloads carried by jobs: the intake briefs and each stage's output."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from streams.pacing_payloads import ContextAnalysis, Generations, PacingBrief


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JobType(StrEnum):
    ARTICLE = "article"
    SCHEMA = "schema"
    PACING = "pacing"


class Stage(StrEnum):
    RESEARCH = "research"
    OUTLINE = "outline"
    DRAFT = "draft"
    QA = "qa"
    EXPORT = "export"
    MARKUP = "markup"
    COMPLETE = "complete"
    ANALYZE = "analyze"
    WRITE = "write"


# The one place pipelines are declared: the ordered stages of each job type.
PIPELINES: dict[JobType, tuple[Stage, ...]] = {
    JobType.ARTICLE: (Stage.RESEARCH, Stage.OUTLINE, Stage.DRAFT, Stage.QA, Stage.EXPORT, Stage.COMPLETE),
    JobType.SCHEMA: (Stage.RESEARCH, Stage.MARKUP, Stage.QA, Stage.COMPLETE),
    JobType.PACING: (Stage.ANALYZE, Stage.WRITE, Stage.COMPLETE),
}


def next_stage(job_type: JobType, stage: Stage) -> Stage | None:
    """The stage after `stage` in the job type's pipeline, or None after the last one."""
    stages = PIPELINES[job_type]
    i = stages.index(stage)
    return stages[i + 1] if i + 1 < len(stages) else None


SchemaType = Literal["Article", "BlogPosting", "FAQPage", "HowTo", "Product", "Organization", "WebPage"]


class Brief(Frozen):
    """What the requester asked for (the intake's `payload`), shared by both job types."""

    title: str = Field(min_length=3, max_length=200)
    keywords: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(default_factory=list, max_length=25)
    domain: str | None = Field(None, max_length=253, description="Site the content is for, e.g. example.com.")
    word_count: int = Field(1200, ge=150, le=10000, description="Target length of an article.")
    audience: str | None = Field(None, max_length=200)
    tone: str | None = Field(None, max_length=60)
    language: str = Field("en", min_length=2, max_length=10)
    author: str | None = Field(None, max_length=120)
    url: str | None = Field(None, max_length=2000, description="Canonical URL of the page, for JSON-LD.")
    schema_type: SchemaType = Field("Article", description="schema.org type produced by a schema job.")
    description: str | None = Field(None, max_length=500)
    sources: list[Annotated[str, Field(max_length=2000, pattern=r"^https?://\S+$")]] = Field(
        default_factory=list, max_length=10, description="Pages the research stage reads and cites (http/https).")
    # Who writes it: both or neither; the pair must be one the deployment allows (PLANPERFECT_PROVIDER_ALLOW).
    provider: str | None = Field(None, max_length=40, description="With `model`: the model provider that writes "
                                 "this job instead of the configured one, e.g. openai; one of the allowed pairs.")
    model: str | None = Field(None, max_length=200, description="With `provider`: the model every stage of this "
                              "job asks, e.g. gpt-4o-mini; the pair must be allowed (PLANPERFECT_PROVIDER_ALLOW).")


# What a job's brief may be: both models forbid extra fields, so a brief validates as exactly one of them.
AnyBrief = Brief | PacingBrief


# ---------------------------------------------------------------- stage outputs


class KeywordInsight(Frozen):
    keyword: str
    intent: Literal["informational", "commercial", "transactional", "navigational"]
    related_terms: list[str]


class ResearchNotes(Frozen):
    kind: Literal["research"] = "research"
    summary: str
    audience: str
    angle: str
    key_points: list[str]
    keyword_insights: list[KeywordInsight]
    questions: list[str] = Field(description="Questions a reader will want answered.")


class OutlineSection(Frozen):
    heading: str
    keywords: list[str] = Field(description="Keywords this section must cover.")
    points: list[str]
    target_words: int


class Outline(Frozen):
    kind: Literal["outline"] = "outline"
    title: str
    slug: str
    meta_description: str
    sections: list[OutlineSection]


class Draft(Frozen):
    kind: Literal["draft"] = "draft"
    markdown: str
    word_count: int


class KeywordStat(Frozen):
    keyword: str
    occurrences: int
    density_pct: float


class QAReview(Frozen):
    """A model's verdict on a draft, kept beside the measured figures (which it cannot change)."""

    reviewer: str = Field(description='The provider and model that reviewed, e.g. "anthropic/claude-haiku-4-5".')
    passed: bool
    findings: list[str] = Field(description="What keeps the draft from publication, one sentence each.")


class QAReport(Frozen):
    kind: Literal["qa"] = "qa"
    word_count: int
    target_word_count: int
    word_count_deviation_pct: float
    keyword_stats: list[KeywordStat]
    missing_keywords: list[str]
    h1_count: int
    h2_count: int
    h3_count: int
    heading_structure_ok: bool
    title_length: int
    meta_description_length: int
    flesch_reading_ease: float
    repeated_sentences: list[str]
    issues: list[str]
    passed: bool
    # Additive: reports from before these fields have neither a review nor findings for the draft.
    draft_findings: list[str] = Field(default_factory=list, description="The issues a new draft can fix (not the "
                                      "outline's title or meta description): any sends the job back to the draft once.")
    review: QAReview | None = Field(None, description="The model's verdict, when a model reviewed the draft.")


class ExportBundle(Frozen):
    kind: Literal["export"] = "export"
    slug: str
    markdown: str
    html: str
    json_ld: str = Field(description="schema.org Article as JSON text.")


class SchemaMarkup(Frozen):
    kind: Literal["markup"] = "markup"
    schema_type: SchemaType
    json_ld: str = Field(description="schema.org markup as JSON text.")


class SchemaQAReport(Frozen):
    kind: Literal["schema_qa"] = "schema_qa"
    valid_json: bool
    schema_type: str
    required_properties: list[str]
    missing_properties: list[str]
    issues: list[str]
    passed: bool


class Completion(Frozen):
    kind: Literal["complete"] = "complete"
    job_type: JobType
    title: str
    slug: str
    word_count: int | None
    qa_passed: bool
    formats: list[str] = Field(description="Formats available from GET /v1/jobs/{id}/result.")


StageOutput = Annotated[
    Union[ResearchNotes, Outline, Draft, QAReport, ExportBundle, SchemaMarkup, SchemaQAReport, Completion,
          ContextAnalysis, Generations],
    Field(discriminator="kind"),
]


class StageOutputs(Frozen):
    """What earlier stages produced, carried forward with each stage request."""

    research: ResearchNotes | None = None
    outline: Outline | None = None
    draft: Draft | None = None
    qa: QAReport | SchemaQAReport | None = None
    export: ExportBundle | None = None
    markup: SchemaMarkup | None = None
    complete: Completion | None = None
    analyze: ContextAnalysis | None = None
    write: Generations | None = None

    def with_output(self, stage: Stage, output: BaseModel) -> "StageOutputs":
        return self.model_copy(update={stage.value: output})
