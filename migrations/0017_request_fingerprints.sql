-- The fingerprint (SHA-256 of the validated request) a write with an Idempotency-Key first came with, kept beside the
-- row it made (JobSubmitted.request_fingerprint, ScheduleCreated/KnowledgeDocumentAdded/MeetingNotesAdded's), so that
-- the same key sent again with another body is refused (422 idempotency_key_reused) rather than answered with the
-- first write. NULL for writes without a key and for rows projected from older facts: those are answered as before.

ALTER TABLE content_jobs ADD COLUMN IF NOT EXISTS request_fingerprint text;
ALTER TABLE pacing_schedules ADD COLUMN IF NOT EXISTS request_fingerprint text;
ALTER TABLE pacing_knowledge_documents ADD COLUMN IF NOT EXISTS request_fingerprint text;
ALTER TABLE pacing_meetings ADD COLUMN IF NOT EXISTS request_fingerprint text;
