-- Tenancy of jobs: the organisation a job was submitted for (the tenant of the submitting API key, if bound) and
-- the key that submitted it, so that a tenant's keys see only its jobs and a submitter only its own. Jobs from
-- before this migration (and from keys bound to no tenant) have NULL: only keys bound to no tenant see them.

ALTER TABLE content_jobs ADD COLUMN IF NOT EXISTS tenant text;
ALTER TABLE content_jobs ADD COLUMN IF NOT EXISTS submitted_by text;

-- A tenant's job list, newest first (as content_jobs_queued_idx orders the unscoped one).
CREATE INDEX IF NOT EXISTS content_jobs_tenant_idx ON content_jobs (tenant, queued_at DESC, job_id DESC);
CREATE INDEX IF NOT EXISTS content_jobs_submitted_by_idx ON content_jobs (submitted_by, queued_at DESC, job_id DESC);
