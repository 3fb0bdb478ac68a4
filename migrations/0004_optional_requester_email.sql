-- requester_email is optional at intake, as in the seed: a job may be submitted without one.

ALTER TABLE content_jobs ALTER COLUMN requester_email DROP NOT NULL;
