"""The model provider: every article stage as prompts to a vendor's model, checked, repaired once, and costed."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol, TypeVar

from pydantic import ValidationError

from agents.errors import TransientError
from agents.pacing.analyze import reading_problems
from agents.pacing.answers import ContextReading, PieceDraft
from agents.pacing.write import piece_problems
from agents.providers.chat import Chat, ChatReply, ChatRequest, Message
from agents.providers.limiter import Limiter, Limits
from agents.providers.prompts import Prompt, prompt
from agents.providers.usage import CallUsage, PriceTable, default_prices, record_call
from agents.providers.vendor_errors import classify, redact
from agents.stages import qa_metrics
from agents.stages.outline import outline_problems
from agents.stages.qa import QAVerdict
from agents.stages.research import research_problems
from streams.pacing_payloads import ContentSuggestion, ContextChunk, PacingBrief
from streams.payloads import Brief, Draft, Outline, QAReport, QAReview, ResearchNotes, SchemaMarkup

if TYPE_CHECKING:
    from agents.sources.fetch import SourceText

log = logging.getLogger("planperfect.provider")

T = TypeVar("T")
WORD_TOLERANCE = 0.10  # the draft's length may differ from the brief's by this fraction
STRUCTURED_MAX_TOKENS = 2500
PIECE_MAX_TOKENS = 6000  # a blog post as a JSON string: its Markdown, escaped
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


@dataclass(frozen=True)
class StageModels:
    """Which model each stage asks: a cheap one for research, markup, QA and pacing analysis, a strong one for the
    outline, the draft and the pacing pieces."""

    research: str
    outline: str
    draft: str
    markup: str
    qa: str
    analyze: str
    write: str


class SourceReader(Protocol):
    """What research needs from the source fetcher (agents.sources.fetch.SourceFetcher is the real one)."""

    async def read(self, urls: Sequence[str]) -> list["SourceText"]: ...


class ModelProvider:
    """A ContentProvider on a real model: every stage's prompt, its answer checked, one repair, and the cost."""

    def __init__(self, chat: Chat, models: StageModels, *, limiter: Limiter | None = None,
                 prices: PriceTable | None = None, secrets: Sequence[str] = (), sources: SourceReader | None = None
                 ) -> None:
        self.chat = chat
        self.name = chat.vendor
        self.models = models
        self.limiter = limiter or Limiter(Limits())
        self.prices = prices or default_prices()
        self._secrets = tuple(s for s in secrets if s)
        self._sources = sources

    # ------------------------------------------------------------ the article stages

    async def research(self, brief: Brief) -> ResearchNotes:
        texts = await self._sources.read(brief.sources) if (brief.sources and self._sources) else []
        # A page must not be able to close its own <source> element and speak as the prompt.
        sources = "".join(f'<source id="{s.id}" url="{s.url}">\n{s.text.replace("</source", "< /source")}\n'
                          "</source>\n" for s in texts)

        def parse(text: str) -> ResearchNotes:
            notes = ResearchNotes.model_validate_json(text)
            problems = research_problems(notes, brief.keywords)
            if problems:
                raise ValueError("; ".join(problems))
            return notes

        return await self._structured(
            prompt("research"), self.models.research, parse,
            schema=_schema(ResearchNotes), brief=_brief_json(brief), sources=sources)

    async def outline(self, brief: Brief, research: ResearchNotes) -> Outline:
        def parse(text: str) -> Outline:
            outline = Outline.model_validate_json(text)
            problems = outline_problems(outline, brief.keywords)
            if problems:
                raise ValueError("; ".join(problems))
            return outline

        return await self._structured(
            prompt("outline"), self.models.outline, parse,
            schema=_schema(Outline), brief=_brief_json(brief), research=research.model_dump_json())

    async def draft(self, brief: Brief, research: ResearchNotes, outline: Outline, *, previous: Draft | None = None,
                    findings: Sequence[str] = ()) -> Draft:
        system, user = prompt("draft").render(
            word_count=brief.word_count, brief=_brief_json(brief), research=research.model_dump_json(),
            outline=outline.model_dump_json())
        max_tokens = min(16000, brief.word_count * 2 + 800)
        keywords = ", ".join(brief.keywords) or "(none)"
        template, conversation = prompt("draft"), (Message("user", user),)
        if previous is not None and findings:  # QA returned the job: the earlier draft and what QA found in it
            template = prompt("redraft")
            _, ask = template.render(findings="\n".join(f"- {f}" for f in findings), word_count=brief.word_count,
                                     keywords=keywords)
            conversation = (*conversation, Message("assistant", previous.markdown), Message("user", ask))
        markdown = _unfence((await self._ask(template, self.models.draft, system, conversation, max_tokens)).text)
        problems = draft_problems(markdown, brief)
        if problems:  # one bounded revision; whatever it gives, the qa stage measures and reports
            revise = prompt("revise")
            _, ask = revise.render(problems="; ".join(problems), word_count=brief.word_count, keywords=keywords)
            conversation = (*conversation, Message("assistant", markdown), Message("user", ask))
            markdown = _unfence((await self._ask(revise, self.models.draft, system, conversation, max_tokens)).text)
        return Draft(markdown=markdown, word_count=qa_metrics.count_words(qa_metrics.plain_text(markdown)))

    async def markup(self, brief: Brief, research: ResearchNotes) -> SchemaMarkup:
        def parse(text: str) -> dict[str, object]:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("the answer is not a JSON object")
            if data.get("@type") != brief.schema_type:
                raise ValueError(f'"@type" must be "{brief.schema_type}", not {data.get("@type")!r}')
            return data

        data = await self._structured(
            prompt("markup"), self.models.markup, parse,
            schema_type=brief.schema_type, brief=_brief_json(brief), research=research.model_dump_json())
        return SchemaMarkup(schema_type=brief.schema_type, json_ld=json.dumps(data, ensure_ascii=False, indent=2))

    async def review(self, brief: Brief, outline: Outline, draft: Draft, report: QAReport) -> QAReview:
        """The model's verdict, told the measured figures (which stay as measured: qa.merge keeps them)."""
        verdict = await self._structured(
            prompt("qa"), self.models.qa, QAVerdict.model_validate_json, schema=_schema(QAVerdict),
            brief=_brief_json(brief), outline=outline.model_dump_json(),
            measures=report.model_dump_json(exclude={"review", "draft_findings"}), draft=draft.markdown)
        return QAReview(reviewer=f"{self.name}/{self.models.qa}", passed=verdict.passed, findings=verdict.findings)

    # ------------------------------------------------------------ pacing

    async def analyze_context(self, brief: PacingBrief, chunks: list[ContextChunk]) -> ContextReading:
        """Topics and suggestions from the chunks read for the window; every chunk id cited must be one of them."""
        def parse(text: str) -> ContextReading:
            reading = ContextReading.model_validate_json(text)
            problems = reading_problems(reading, brief, chunks)
            if problems:
                raise ValueError("; ".join(problems))
            return reading

        return await self._structured(
            prompt("analyze"), self.models.analyze, parse, schema=_schema(ContextReading),
            content_types=", ".join(t.value for t in brief.content_types), brief=brief.model_dump_json(indent=1),
            chunks=_chunks_json(chunks))

    async def write_piece(self, suggestion: ContentSuggestion, sources: list[ContextChunk],
                          local_date: date) -> PieceDraft:
        """The piece from the chunks full-text search retrieved for it; a citation of any other chunk is refused."""
        retrieved = {c.chunk_id for c in sources}

        def parse(text: str) -> PieceDraft:
            piece = PieceDraft.model_validate_json(text)
            problems = piece_problems(suggestion.content_type, piece, retrieved)
            if problems:
                raise ValueError("; ".join(problems))
            return piece

        return await self._structured(
            prompt("write"), self.models.write, parse, max_tokens=PIECE_MAX_TOKENS, schema=_schema(PieceDraft),
            content_type=suggestion.content_type.value, local_date=local_date.isoformat(),
            suggestion=suggestion.model_dump_json(exclude={"suggestion_id"}), sources=_chunks_json(sources))

    async def close(self) -> None:
        await self.chat.close()

    # ------------------------------------------------------------ calls

    async def _structured(self, template: Prompt, model: str, parse: Callable[[str], T], *,
                          max_tokens: int = STRUCTURED_MAX_TOKENS, **values: object) -> T:
        """Ask for JSON; an answer that does not parse or validate gets one repair call with the error, then the
        attempt fails as retryable (another attempt, another sample)."""
        system, user = template.render(**values)
        first = (Message("user", user),)
        reply = await self._ask(template, model, system, first, max_tokens, json_output=True)
        try:
            return parse(_json_block(reply.text))
        except (ValueError, ValidationError) as exc:
            error = _describe(exc)
        repair = prompt("repair")
        _, ask = repair.render(error=error)
        conversation = (*first, Message("assistant", reply.text), Message("user", ask))
        reply = await self._ask(repair, model, system, conversation, max_tokens, json_output=True)
        try:
            return parse(_json_block(reply.text))
        except (ValueError, ValidationError) as exc:
            raise TransientError(f"{self.name} model {model} answered {template.name} with invalid JSON twice: "
                                 f"{_describe(exc)}", code="invalid_model_output") from None

    async def _ask(self, template: Prompt, model: str, system: str, messages: tuple[Message, ...],
                   max_tokens: int, *, json_output: bool = False) -> ChatReply:
        request = ChatRequest(model=model, system=system, messages=messages, max_tokens=max_tokens,
                              json_output=json_output)
        estimate = (len(system) + sum(len(m.text) for m in messages)) // 4 + max_tokens
        async with self.limiter.permit(estimate) as permit:
            try:
                reply = await self.chat.complete(request)
            except Exception as exc:
                error = classify(self.name, exc, self._secrets)
                if error is None:
                    raise
                log.warning("%s %s %s failed: %s", self.name, model, template.label, error)
                raise error from None  # the SDK's exception stays out of the chain: its repr is not ours to vet
            permit.settle(reply.input_tokens + reply.output_tokens)
        call = CallUsage(provider=self.name, model=model, prompt=template.label, input_tokens=reply.input_tokens,
                         output_tokens=reply.output_tokens, cached_tokens=reply.cached_tokens,
                         cost_usd=self.prices.cost(model, reply.input_tokens, reply.output_tokens,
                                                   reply.cached_tokens))
        record_call(call)
        log.info("%s %s %s: %d input (%d cached), %d output tokens, $%.6f", self.name, model, template.label,
                 call.input_tokens, call.cached_tokens, call.output_tokens, call.cost_usd)
        if reply.truncated:
            raise TransientError(redact(f"{self.name} model {model} stopped at its {max_tokens}-token limit "
                                        f"during {template.name}", self._secrets), code="model_output_truncated")
        return reply


def draft_problems(markdown: str, brief: Brief) -> list[str]:
    """What keeps a draft from the brief: its length outside ±10% of the target, keywords it never uses."""
    text = qa_metrics.plain_text(markdown)
    words = qa_metrics.count_words(text)
    problems: list[str] = []
    if abs(words - brief.word_count) > brief.word_count * WORD_TOLERANCE:
        problems.append(f"it has {words} words, the brief asks for {brief.word_count}")
    missing = [k for k in brief.keywords if qa_metrics.keyword_occurrences(text, k) == 0]
    if missing:
        problems.append(f"it never uses {', '.join(repr(k) for k in missing)}")
    return problems


def _unfence(text: str) -> str:
    match = _FENCE.match(text)
    return (match.group(1) if match else text).strip()


def _json_block(text: str) -> str:
    """The JSON object in an answer: models sometimes fence it or say a sentence around it despite the prompt."""
    text = _unfence(text)
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if 0 <= start < end else text


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in exc.errors()[:10])
    return str(exc)


def _brief_json(brief: Brief) -> str:
    # Sources reach the prompt as their text; who writes the job is no part of what to write.
    return brief.model_dump_json(exclude={"sources", "provider", "model"}, indent=1)


def _chunks_json(chunks: Sequence[ContextChunk]) -> str:
    """The chunks as a JSON array, one a line; `<` escaped so that no text can close the prompt's block."""
    return "[\n" + ",\n".join(c.model_dump_json().replace("<", "\\u003c") for c in chunks) + "\n]"


def _schema(model: type) -> str:
    return json.dumps(model.model_json_schema())  # type: ignore[attr-defined]
