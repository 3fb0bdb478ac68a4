"""Splits a document or meeting notes into retrievable chunks: by heading, then paragraphs packed to a size.

Pure and deterministic: a replay of the log cuts the same chunks with the same ids, so the chunk ids
cited by generations stay valid after a rebuild. Changing the cut changes ids: bump CHUNKER_VERSION.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID, uuid5

CHUNKER_VERSION = 1
TARGET_CHARS = 900     # pack paragraphs up to about this much text
MAX_CHARS = 1500       # a paragraph longer than this is cut at lines, then sentences

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class ChunkText:
    position: int
    heading: str | None
    text: str


def chunk_id_for(source_id: UUID, position: int) -> UUID:
    return uuid5(source_id, f"chunk:v{CHUNKER_VERSION}:{position}")


def chunk_text(body: str, *, markdown: bool, default_heading: str | None = None) -> list[ChunkText]:
    """The chunks of `body`, in order; Markdown headings start a new chunk and name the chunks under them."""
    chunks: list[ChunkText] = []
    for heading, section in _sections(body, markdown, default_heading):
        for text in _pack(_pieces(section)):
            chunks.append(ChunkText(len(chunks), heading, text))
    return chunks


def _sections(body: str, markdown: bool, default_heading: str | None) -> list[tuple[str | None, str]]:
    if not markdown:
        return [(default_heading, body)]
    out: list[tuple[str | None, list[str]]] = [(default_heading, [])]
    fenced = False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        m = None if fenced else _HEADING.match(line)
        if m:
            out.append((m.group(2).strip(), []))
        else:
            out[-1][1].append(line)
    return [(h, "\n".join(lines)) for h, lines in out if "\n".join(lines).strip()]


def _pieces(section: str) -> list[str]:
    """Paragraphs, each cut further when longer than MAX_CHARS."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", section):
        para = para.strip()
        if not para:
            continue
        if len(para) <= MAX_CHARS:
            out.append(para)
            continue
        for line in para.splitlines():
            line = line.strip()
            if len(line) <= MAX_CHARS:
                if line:
                    out.append(line)
                continue
            out.extend(s.strip() for s in _SENTENCE.split(line) if s.strip())
    return [p for piece in out for p in _split_long(piece)]


def _split_long(text: str) -> list[str]:
    return [text[i:i + MAX_CHARS] for i in range(0, len(text), MAX_CHARS)] if len(text) > MAX_CHARS else [text]


def _pack(pieces: list[str]) -> list[str]:
    """Consecutive pieces joined while the chunk stays near TARGET_CHARS."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        if current and size + len(piece) > TARGET_CHARS:
            chunks.append("\n\n".join(current))
            current, size = [], 0
        current.append(piece)
        size += len(piece) + 2
    if current:
        chunks.append("\n\n".join(current))
    return chunks
