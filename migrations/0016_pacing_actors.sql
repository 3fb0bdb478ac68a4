-- Who wrote each pacing fact (ScheduleCreated.by, KnowledgeDocumentAdded.by, ...: the API key, `key:<id> (<name>)`),
-- kept where people look: a document's and a meeting's `added_by`, a schedule's `created_by` and `updated_by` (the
-- last change or deletion). Facts from before this release carry no actor: their rows have NULL.

ALTER TABLE pacing_knowledge_documents ADD COLUMN IF NOT EXISTS added_by text;
ALTER TABLE pacing_meetings ADD COLUMN IF NOT EXISTS added_by text;
ALTER TABLE pacing_schedules ADD COLUMN IF NOT EXISTS created_by text;
ALTER TABLE pacing_schedules ADD COLUMN IF NOT EXISTS updated_by text;

-- The API key that triggered an analysis (its JobSubmitted.submitted_by, the key id as content_jobs keeps it); NULL
-- for the scheduler's analyses, and for those projected before this migration until `projections rebuild`.
ALTER TABLE pacing_context_analysis ADD COLUMN IF NOT EXISTS submitted_by text;
