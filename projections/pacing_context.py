"""pacing_knowledge_documents, pacing_meetings and their pacing_context_chunks (full-text indexed)."""

from __future__ import annotations

import asyncpg

from projections.base import Record
from projections.pacing_chunking import CHUNKER_VERSION, chunk_id_for, chunk_text
from streams.pacing_events import KnowledgeDocumentAdded, MeetingNotesAdded
from streams.topics import PACING_EVENTS

DOCUMENT = """
INSERT INTO pacing_knowledge_documents (document_id, user_id, title, format, body, char_count, chunk_count,
                                        chunker_version, created_at, tenant, added_by, request_fingerprint)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT DO NOTHING
"""
MEETING = """
INSERT INTO pacing_meetings (meeting_id, user_id, title, held_on, participants, kind, notes, char_count, chunk_count,
                             chunker_version, created_at, tenant, added_by, request_fingerprint)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT DO NOTHING
"""
CHUNK = """
INSERT INTO pacing_context_chunks (chunk_id, user_id, source, source_id, source_title, position, heading, body,
                                   source_date, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT DO NOTHING
"""


class PacingContextProjection:
    name = "pacing_context"
    sources = (PACING_EVENTS,)
    tables = ("pacing_knowledge_documents", "pacing_meetings", "pacing_context_chunks")

    def wants(self, record: Record) -> bool:
        return isinstance(record.message, (KnowledgeDocumentAdded, MeetingNotesAdded))

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        documents, meetings, chunks = [], [], []
        for r in records:
            e = r.message
            if isinstance(e, KnowledgeDocumentAdded):
                cut = chunk_text(e.body, markdown=e.format == "markdown", default_heading=e.title)
                documents.append((e.document_id, e.user_id, e.title, e.format, e.body, len(e.body), len(cut),
                                  CHUNKER_VERSION, e.occurred_at, e.tenant, e.by, e.request_fingerprint))
                source, source_id, day = "knowledge", e.document_id, e.occurred_at.date()
            else:
                cut = chunk_text(e.notes, markdown=True, default_heading=e.title)
                meetings.append((e.meeting_id, e.user_id, e.title, e.held_on, e.participants, e.kind, e.notes,
                                 len(e.notes), len(cut), CHUNKER_VERSION, e.occurred_at, e.tenant, e.by,
                                 e.request_fingerprint))
                source, source_id, day = "meeting", e.meeting_id, e.held_on
            chunks += [(chunk_id_for(source_id, c.position), e.user_id, source, source_id, e.title, c.position,
                        c.heading, c.text, day, e.occurred_at) for c in cut]
        if documents:
            await conn.executemany(DOCUMENT, documents)
        if meetings:
            await conn.executemany(MEETING, meetings)
        if chunks:
            await conn.executemany(CHUNK, chunks)
