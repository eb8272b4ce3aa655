-- Tokens carry the user's generation: a password change or reset bumps it, so older tokens stop
-- working. Jobs remember which job directory in the repository they own (its JOB.json id), so a
-- new job with an old name never adopts another job's restore points.
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN dir_id TEXT;
