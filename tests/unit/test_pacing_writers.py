"""Platform writers: each piece follows its platform's conventions and says only what its cited chunks say."""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest

from agents.pacing.conventions import (
    LINKEDIN_HOOK_MAX,
    LINKEDIN_MAX_CHARS,
    SOCIAL_MAX_CHARS,
    convention_problems,
)
from agents.providers.offline_keyphrases import plain_text
from agents.providers.offline_posts import write_piece
from streams.pacing_payloads import ContentSuggestion, ContentType, ContextSource
from tests.pacing_support import MemoryContextStore, sample_chunks, source_chunks

TODAY = date(2026, 3, 10)
_MARK = re.compile(r"\s\[\d+\]")


def suggestion(kind: ContentType, topic: str = "demand response") -> ContentSuggestion:
    return ContentSuggestion(suggestion_id=uuid.UUID(int=1), topic=topic, content_type=kind, confidence=0.8,
                             reasoning="because", chunk_ids=[uuid.UUID(int=2)])


async def sources(topic: str):
    return [h.chunk for h in await MemoryContextStore(sample_chunks(TODAY)).search("maya", topic, 6)]


def claims(body: str) -> list[str]:
    """The sentences of a piece that come from sources: list items and cited paragraphs."""
    out = []
    for line in body.splitlines():
        line = line.strip()
        if line.startswith(("- ", "→ ")) and not line.endswith("?"):
            out.append(_MARK.sub("", line[2:]))
        elif _MARK.search(line):
            out += [s.strip() for s in _MARK.split(line) if s.strip()]
    return out


@pytest.mark.parametrize("kind", list(ContentType))
async def test_every_platform_meets_its_conventions_and_cites_what_it_uses(kind):
    found = await sources("demand response")
    draft = write_piece(suggestion(kind), found, TODAY)
    assert convention_problems(kind, draft.title, draft.body) == []
    assert draft.cited_chunk_ids and set(draft.cited_chunk_ids) <= {c.chunk_id for c in found}
    cited_text = " ".join(" ".join(plain_text(c.text).split()) for c in found if c.chunk_id in draft.cited_chunk_ids)
    assert claims(draft.body) or kind is ContentType.SOCIAL_POST
    for claim in claims(draft.body):
        assert claim.rstrip(".") in cited_text, claim
    assert write_piece(suggestion(kind), found, TODAY) == draft  # deterministic


async def test_platform_shapes():
    found = await sources("demand response")
    linkedin = write_piece(suggestion(ContentType.LINKEDIN_POST), found, TODAY).body
    hook = linkedin.splitlines()[0]
    assert len(hook) <= LINKEDIN_HOOK_MAX and linkedin.splitlines()[1] == "" and linkedin.endswith("#DemandResponse")
    blog = write_piece(suggestion(ContentType.BLOG_POST), found, TODAY).body
    assert blog.startswith("# ") and blog.count("\n## ") >= 2 and "\n## Sources\n" in blog
    newsletter = write_piece(suggestion(ContentType.NEWSLETTER), found, TODAY).body
    assert "\n## The big picture\n" in newsletter and "\n## From our meetings\n" in newsletter
    social = write_piece(suggestion(ContentType.SOCIAL_POST), found, TODAY).body
    assert len(social) <= SOCIAL_MAX_CHARS and "\n" not in social and "demand response" in social.lower()


async def test_long_sources_are_cut_to_the_platform_limits():
    long = " ".join(["Demand response shifts heating load out of the evening peak and " + "very " * 60 + "well."] * 30)
    found = source_chunks(ContextSource.KNOWLEDGE, uuid.UUID(int=9), "long", long, TODAY, markdown=False)
    for kind in ContentType:
        body = write_piece(suggestion(kind), found, TODAY).body
        assert convention_problems(kind, "t", body) == [], kind
    assert len(write_piece(suggestion(ContentType.LINKEDIN_POST), found, TODAY).body) <= LINKEDIN_MAX_CHARS


async def test_a_thin_context_gives_a_short_piece_not_padding():
    found = source_chunks(ContextSource.KNOWLEDGE, uuid.UUID(int=9), "one", "Solar panels pay back in eight years.",
                          TODAY, markdown=False)
    blog = write_piece(suggestion(ContentType.BLOG_POST, "solar panels"), found, TODAY).body
    assert blog.count("Solar panels pay back in eight years.") == 1
    assert convention_problems(ContentType.BLOG_POST, "t", blog) == []


def test_conventions_name_what_is_wrong():
    assert convention_problems(ContentType.SOCIAL_POST, "t", "x" * 281)[0].startswith("a social post is at most 280")
    assert "hook" in convention_problems(ContentType.LINKEDIN_POST, "t", "h" * 200 + "\n\nmore\n\nmore")[0]
    assert convention_problems(ContentType.BLOG_POST, "t", "no heading\n## one") == [
        "a blog post opens with its title as a level-1 heading",
        "a blog post needs at least two level-2 section headings",
    ]
    assert convention_problems(ContentType.NEWSLETTER, "t", "# N\n## only one")
    assert convention_problems(ContentType.NEWSLETTER, "", "# N\n## a\n## b") == ["the title is empty"]
