-- Indexes the web monitor's reads need: the last hour of stage events (sparklines, every ~2 s), and the jobs
-- list filtered by type or requester, newest first, keyset-paged like the status and stage filters.

CREATE INDEX IF NOT EXISTS content_events_time_idx ON content_events (occurred_at);
CREATE INDEX IF NOT EXISTS content_jobs_type_idx ON content_jobs (job_type, queued_at DESC, job_id);
CREATE INDEX IF NOT EXISTS content_jobs_requester_idx ON content_jobs (requester_email, queued_at DESC, job_id);
