"""The outline stage: ask the provider for an outline and check it is one a draft can follow."""

from __future__ import annotations

from agents.context import StageContext, StageInput
from agents.slug import is_slug
from agents.stages.prerequisites import invalid, require
from streams.payloads import Outline, Stage

MIN_SECTIONS = 2


async def handle(inp: StageInput, ctx: StageContext) -> Outline:
    research = require(inp, inp.outputs.research, Stage.RESEARCH)
    outline = await ctx.provider.outline(inp.brief, research)
    problems = outline_problems(outline, inp.brief.keywords)
    if problems:
        raise invalid(inp, ctx.provider.name, "; ".join(problems))
    return outline


def uncovered_keywords(outline: Outline, keywords: list[str]) -> list[str]:
    """Keywords that no section lists among the ones it must cover."""
    covered = {k.strip().lower() for section in outline.sections for k in section.keywords}
    return [k for k in keywords if k.strip().lower() not in covered]


def outline_problems(outline: Outline, keywords: list[str]) -> list[str]:
    problems: list[str] = []
    if not outline.title.strip():
        problems.append("the title is empty")
    if not is_slug(outline.slug):
        problems.append(f"{outline.slug!r} is not a URL slug")
    if not outline.meta_description.strip():
        problems.append("the meta description is empty")
    if len(outline.sections) < MIN_SECTIONS:
        problems.append(f"{len(outline.sections)} section(s), at least {MIN_SECTIONS} are needed")
    if any(not s.heading.strip() for s in outline.sections):
        problems.append("a section has no heading")
    if any(s.target_words <= 0 for s in outline.sections):
        problems.append("a section has no word budget")
    missing = uncovered_keywords(outline, keywords)
    if missing:
        problems.append(f"no section covers {', '.join(repr(k) for k in missing)}")
    return problems
