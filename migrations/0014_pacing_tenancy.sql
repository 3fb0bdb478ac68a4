-- Tenancy of pacing users: each schedule, knowledge document and meeting keeps the tenant its fact carries (the
-- tenant of the API key that wrote it, or the user's tenant when a key bound to no tenant wrote it). A pacing
-- user belongs to the tenant of its rows; analyses and generations are confined through their user. Rows from
-- before this migration (and users made by keys bound to no tenant) have NULL: only unbound keys see them.

ALTER TABLE pacing_schedules ADD COLUMN IF NOT EXISTS tenant text;
ALTER TABLE pacing_knowledge_documents ADD COLUMN IF NOT EXISTS tenant text;
ALTER TABLE pacing_meetings ADD COLUMN IF NOT EXISTS tenant text;

-- A tenant's users (the confinement of analyses, generations and lists), and a user's owner (the write check).
CREATE INDEX IF NOT EXISTS pacing_schedules_tenant_idx ON pacing_schedules (tenant, user_id);
CREATE INDEX IF NOT EXISTS pacing_knowledge_documents_tenant_idx ON pacing_knowledge_documents (tenant, user_id);
CREATE INDEX IF NOT EXISTS pacing_meetings_tenant_idx ON pacing_meetings (tenant, user_id);
