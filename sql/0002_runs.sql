-- Runs of backup jobs and the slots that did not run (history, spec §4.7), and the job's
-- start/stop flag (spec §4.9: stop keeps a scheduled job from firing until it is started again).

ALTER TABLE jobs ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0;

CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    job_id          INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    job_name        TEXT NOT NULL,
    partition       TEXT NOT NULL,
    mode            TEXT NOT NULL,                 -- the job's mode when the run was queued
    repository_path TEXT NOT NULL,
    trigger         TEXT NOT NULL CHECK (trigger IN ('basic', 'advanced', 'autostart', 'manual', 'catch-up')),
    kind            TEXT CHECK (kind IN ('full', 'incremental')),
    state           TEXT NOT NULL CHECK (state IN ('queued', 'running', 'canceling', 'complete', 'warning',
                                                   'error', 'canceled', 'interrupted', 'missed', 'skipped')),
    due_at          INTEGER,                       -- the schedule slot, when a schedule caused it
    queued_at       INTEGER NOT NULL,
    started_at      INTEGER,
    ended_at        INTEGER,
    bytes           INTEGER,                       -- source bytes of the restore point
    stored_bytes    INTEGER,                       -- bytes written to the repository
    files           INTEGER,
    point_id        TEXT,
    warnings        TEXT NOT NULL DEFAULT '[]',    -- JSON array
    error           TEXT,
    script          TEXT,                          -- script outcome
    mail            TEXT,                          -- mail outcome
    log             TEXT NOT NULL DEFAULT ''
);

CREATE INDEX runs_job ON runs(job_id, id);
CREATE INDEX runs_state ON runs(state);
