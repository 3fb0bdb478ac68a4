"""The fakes' "model": reads the pipeline's prompts and answers as a diligent model would, with the offline
provider's content for the brief it finds in them."""

from __future__ import annotations

import re

from agents.providers.offline import OfflineProvider
from streams.payloads import Brief, Outline, ResearchNotes

_BLOCK = "<{0}>\n(.*?)\n</{0}>"


def block(name: str, text: str) -> str:
    match = re.search(_BLOCK.format(name), text, re.DOTALL)
    if match is None:
        raise AssertionError(f"the prompt has no <{name}> block")
    return match.group(1)


async def scripted_model(system: str, conversation: list[dict[str, str]]) -> str:
    first = conversation[0]["content"]
    offline = OfflineProvider()
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
