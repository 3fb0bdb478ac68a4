"""The research stage: ask the provider for notes on the brief, and check they cover every keyword."""

from __future__ import annotations

from agents.context import StageContext, StageInput
from agents.stages.prerequisites import invalid
from streams.payloads import ResearchNotes


async def handle(inp: StageInput, ctx: StageContext) -> ResearchNotes:
    notes = await ctx.provider.research(inp.brief)
    problems = research_problems(notes, inp.brief.keywords)
    if problems:
        raise invalid(inp, ctx.provider.name, "; ".join(problems))
    return notes


def research_problems(notes: ResearchNotes, keywords: list[str]) -> list[str]:
    problems: list[str] = []
    if not notes.summary.strip():
        problems.append("the summary is empty")
    if not notes.angle.strip():
        problems.append("the angle is empty")
    if not [p for p in notes.key_points if p.strip()]:
        problems.append("there are no key points")
    covered = {i.keyword.strip().lower() for i in notes.keyword_insights}
    missing = [k for k in keywords if k.strip().lower() not in covered]
    if missing:
        problems.append(f"no keyword insight for {', '.join(repr(k) for k in missing)}")
    return problems
