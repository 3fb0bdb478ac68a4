"""Text PostgreSQL cannot hold (NUL, lone surrogates) is refused at the edge, before it can reach the log."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, model_validator

# PostgreSQL's text type has no NUL character, and UTF-8 (its encoding here) has no lone surrogate:
# an event holding either is written to Kafka fine, then cannot be projected. Refuse it at intake.
_SURROGATES = range(0xD800, 0xE000)


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored as PostgreSQL text, or None when it can."""
    if "\x00" in text:
        return f"contains a NUL character (\\u0000) at position {text.index(chr(0))}, which text cannot hold"
    for i, ch in enumerate(text):
        if ord(ch) in _SURROGATES:
            return f"contains a lone surrogate (\\u{ord(ch):04x}) at position {i}, which is not a character"
    return None


def find_unstorable(value: Any, path: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """The first string anywhere in decoded JSON that cannot be stored, as (dotted path, reason)."""
    if isinstance(value, str):
        reason = unstorable(value)
        return None if reason is None else (".".join(path) or "body", reason)
    if isinstance(value, dict):
        for key, item in value.items():
            reason = unstorable(key)
            if reason is not None:
                return ".".join((*path, repr(key))), f"field name {reason}"
            found = find_unstorable(item, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = find_unstorable(item, (*path, str(i)))
            if found is not None:
                return found
    return None


class StorableRequest(BaseModel):
    """Base of every request model whose content reaches the log: no string in it, at any depth, is unstorable.

    Walks the validated model rather than annotating each field, so nested models declared in streams/
    (the intake's Brief) and any field added later are covered without being listed. After validation,
    not before: a model-level "before" validator would turn strict JSON validation into strict Python
    validation, which refuses a date or a UUID given as a string.
    """

    @model_validator(mode="after")
    def _refuse_unstorable(self) -> Self:
        found = find_unstorable(self.model_dump())
        if found is not None:
            raise ValueError(f"{found[0]}: {found[1]}")
        return self
