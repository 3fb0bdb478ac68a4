"""Each platform's conventions, checked on every generated piece before it is accepted."""

from __future__ import annotations

import re

from streams.pacing_payloads import ContentType

LINKEDIN_MAX_CHARS = 3000   # LinkedIn's limit for a post
LINKEDIN_HOOK_MAX = 140     # the first line must show whole before "…see more"
SOCIAL_MAX_CHARS = 280      # the short-post limit shared by X, Threads and Bluesky (300)
_H2 = re.compile(r"(?m)^## \S")


def convention_problems(content_type: ContentType, title: str, body: str) -> list[str]:
    """What is wrong with `body` for its platform; empty when it may be published as is."""
    problems: list[str] = []
    text = body.strip()
    if not text:
        return ["the body is empty"]
    match content_type:
        case ContentType.LINKEDIN_POST:
            hook = text.split("\n", 1)[0]
            if len(text) > LINKEDIN_MAX_CHARS:
                problems.append(f"a LinkedIn post is at most {LINKEDIN_MAX_CHARS} characters, not {len(text)}")
            if len(hook) > LINKEDIN_HOOK_MAX:
                problems.append(f"the hook (first line) is {len(hook)} characters; at most {LINKEDIN_HOOK_MAX}")
            if len([line for line in text.splitlines() if line.strip()]) < 3:
                problems.append("a LinkedIn post needs a hook and at least two more lines")
        case ContentType.BLOG_POST:
            if not text.startswith("# "):
                problems.append("a blog post opens with its title as a level-1 heading")
            if len(_H2.findall(text)) < 2:
                problems.append("a blog post needs at least two level-2 section headings")
        case ContentType.NEWSLETTER:
            if len(_H2.findall(text)) < 2:
                problems.append("a newsletter needs at least two sections (level-2 headings)")
        case ContentType.SOCIAL_POST:
            if len(text) > SOCIAL_MAX_CHARS:
                problems.append(f"a social post is at most {SOCIAL_MAX_CHARS} characters, not {len(text)}")
            if "\n\n" in text:
                problems.append("a social post is a single paragraph")
    if not title.strip():
        problems.append("the title is empty")
    return problems
