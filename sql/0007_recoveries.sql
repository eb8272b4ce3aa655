-- Recovery jobs (RECOVERIES.md §4.4-4.6): what to restore where, their runs, and the restore
-- proofs each backup job shows as `lastRestoreTest`. A job's partitions and options are one
-- JSON document (`spec`): they are read and written whole, never queried piecewise. Runs keep
-- the job's name and a copy of what they restored, so deleting the job keeps its history
-- (R11). IDs are never reused (R12).

CREATE TABLE recoveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL UNIQUE,
    user_id      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    schedule_id  INTEGER REFERENCES schedules(id),
    -- The schedule record was created for this job (inline), not attached by ID.
    owns_schedule INTEGER NOT NULL DEFAULT 0,
    stopped      INTEGER NOT NULL DEFAULT 0,
    spec         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE recovery_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    recovery_id  INTEGER REFERENCES recoveries(id) ON DELETE SET NULL,
    job_name     TEXT NOT NULL,
    source       TEXT NOT NULL,
    target       TEXT NOT NULL,
    trigger      TEXT NOT NULL CHECK (trigger IN ('schedule', 'autostart', 'manual', 'catch-up')),
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'canceling', 'complete',
                                                'error', 'canceled', 'interrupted', 'skipped')),
    queued_at    INTEGER NOT NULL,
    started_at   INTEGER,
    ended_at     INTEGER,
    -- JSON: per partition, what was restored from which point and how it went.
    parts        TEXT NOT NULL DEFAULT '[]',
    files        INTEGER NOT NULL DEFAULT 0,
    bytes        INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    errors       INTEGER NOT NULL DEFAULT 0,
    verify       TEXT,                          -- 'ok', 'mismatch' or NULL (not asked)
    mismatches   INTEGER,
    description  TEXT NOT NULL DEFAULT '',
    log          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX recovery_runs_job ON recovery_runs(recovery_id, id);

-- One row per backup job a verifying recovery run restored: the proof of restorability.
CREATE TABLE restore_tests (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        INTEGER NOT NULL REFERENCES recovery_runs(id) ON DELETE CASCADE,
    backup_job_id INTEGER,
    backup_job    TEXT NOT NULL,
    point_id      TEXT,
    ok            INTEGER NOT NULL,
    at            INTEGER NOT NULL,
    recovery_job  TEXT NOT NULL
);
CREATE INDEX restore_tests_job ON restore_tests(backup_job, id);
