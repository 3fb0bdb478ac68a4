"""The fakes' "model": reads the pipeline's prompts and answers as a diligent model would, with the offline
provider's content for the brief it finds in them."""

from __future__ import annotations

import json
import re
from datetime import date

from agents.providers.offline import OfflineProvider
from streams.pacing_payloads import ContentSuggestion, ContextChunk, PacingBrief
from streams.payloads import Brief, Outline, ResearchNotes

_BLOCK = "<{0}>\n(.*?)\n</{0}>"
# The write stage's prompt names the date and the suggestion's id is the stage's to give, not the model's.
_TODAY = re.compile(r"Today is (\d{4}-\d{2}-\d{2})\.")
PASS = json.dumps({"passed": True, "findings": []})


def block(name: str, text: str) -> str:
    match = re.search(_BLOCK.format(name), text, re.DOTALL)
    if match is None:
        raise AssertionError(f"the prompt has no <{name}> block")
    return match.group(1)


def chunks_in(name: str, text: str) -> list[ContextChunk]:
    return [ContextChunk.model_validate(c) for c in json.loads(block(name, text))]


async def scripted_model(system: str, conversation: list[dict[str, str]]) -> str:
    first = conversation[0]["content"]
    offline = OfflineProvider()
    if "analysis stage of a pacing" in system:
        brief = PacingBrief.model_validate_json(block("brief", first))
        return (await offline.analyze_context(brief, chunks_in("chunks", first))).model_dump_json()
    if "writing stage of a pacing" in system:
        suggestion = json.loads(block("suggestion", first)) | {"suggestion_id": "00000000-0000-4000-8000-000000000000"}
        today = date.fromisoformat(_TODAY.search(first).group(1))
        piece = await offline.write_piece(ContentSuggestion.model_validate(suggestion), chunks_in("sources", first),
                                          today)
        return piece.model_dump_json()
    if "quality-assurance stage" in system:
        return PASS
    brief = Brief.model_validate_json(block("brief", first))
    if "research stage" in system:
        return (await offline.research(brief)).model_dump_json()
    research = ResearchNotes.model_validate_json(block("research", first))
    if "outline stage" in system:
        return (await offline.outline(brief, research)).model_dump_json(indent=2)
    if "drafting stage" in system:
        outline = Outline.model_validate_json(block("outline", first))
        return (await offline.draft(brief, research, outline)).markdown
    if "structured-data stage" in system:
        return (await offline.markup(brief, research)).json_ld
    raise AssertionError(f"no script for the system prompt {system[:80]!r}")
