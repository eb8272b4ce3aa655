-- IDs are never handed out twice (issue 12): without AUTOINCREMENT SQLite gives a new row the
-- highest ID + 1, so deleting the newest job and creating another reused its ID, and a client
-- retrying a DELETE removed the wrong object. Each table is rebuilt with AUTOINCREMENT, keeping
-- every existing ID; runs apply this file with foreign keys off (the tables are swapped) and
-- check them before committing. New tables declare AUTOINCREMENT from the start.

CREATE TABLE users_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    email            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash    TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    token_generation INTEGER NOT NULL DEFAULT 0
);
INSERT INTO users_new SELECT * FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

CREATE TABLE centers_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    host_name   TEXT NOT NULL,
    install_id  TEXT NOT NULL,
    machine_id  TEXT NOT NULL,
    os_version  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
INSERT INTO centers_new SELECT * FROM centers;
DROP TABLE centers;
ALTER TABLE centers_new RENAME TO centers;

CREATE TABLE servers_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    center_id   INTEGER NOT NULL REFERENCES centers(id),
    name        TEXT NOT NULL,
    os_version  TEXT NOT NULL,
    kernel      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
INSERT INTO servers_new SELECT * FROM servers;
DROP TABLE servers;
ALTER TABLE servers_new RENAME TO servers;

CREATE TABLE repositories_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    center_id        INTEGER NOT NULL REFERENCES centers(id),
    kind             TEXT NOT NULL CHECK (kind IN ('nfs', 'smb')),
    path             TEXT NOT NULL,
    local_path       TEXT,
    ip               TEXT,
    port             INTEGER,
    remote_user      TEXT,
    credentials_file TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (kind, path)
);
INSERT INTO repositories_new SELECT * FROM repositories;
DROP TABLE repositories;
ALTER TABLE repositories_new RENAME TO repositories;

CREATE TABLE schedules_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    center_id       INTEGER NOT NULL REFERENCES centers(id),
    user_id         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    job_name        TEXT NOT NULL DEFAULT '',
    kind            INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 11),
    role            TEXT CHECK (role IN ('basic', 'advanced')),
    state           INTEGER NOT NULL DEFAULT 1,
    once_date       TEXT,
    time            TEXT NOT NULL,
    interval_minute INTEGER,
    interval_hour   INTEGER,
    dayweek         TEXT,
    week            TEXT,
    date            TEXT,
    months          TEXT,
    last_run_at     INTEGER,
    created_at      INTEGER NOT NULL
);
INSERT INTO schedules_new SELECT * FROM schedules;
DROP TABLE schedules;
ALTER TABLE schedules_new RENAME TO schedules;

CREATE TABLE jobs_new (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    name                  TEXT NOT NULL UNIQUE,
    center_id             INTEGER NOT NULL REFERENCES centers(id),
    server_id             INTEGER NOT NULL REFERENCES servers(id),
    user_id               INTEGER REFERENCES users(id) ON DELETE SET NULL,
    partition             TEXT NOT NULL,
    mode                  TEXT NOT NULL CHECK (mode IN ('full', 'increment', 'smart')),
    repository_id         INTEGER NOT NULL REFERENCES repositories(id),
    schedule_basic_id     INTEGER REFERENCES schedules(id),
    schedule_advanced_id  INTEGER REFERENCES schedules(id),
    rotation              INTEGER NOT NULL CHECK (rotation BETWEEN 1 AND 30),
    compression           INTEGER NOT NULL,
    encryption            INTEGER NOT NULL,
    exclude_dir           TEXT NOT NULL DEFAULT '[]',
    mail_event            TEXT,
    network_limit         INTEGER NOT NULL DEFAULT 0,
    auto_start            INTEGER NOT NULL DEFAULT 0,
    script_path           TEXT,
    script_run            TEXT CHECK (script_run IN ('before', 'after')),
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    stopped               INTEGER NOT NULL DEFAULT 0,
    dir_id                TEXT
);
INSERT INTO jobs_new SELECT * FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_repository ON jobs(repository_id);
CREATE INDEX jobs_schedule_basic ON jobs(schedule_basic_id);
CREATE INDEX jobs_schedule_advanced ON jobs(schedule_advanced_id);

CREATE TABLE runs_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id          INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    job_name        TEXT NOT NULL,
    partition       TEXT NOT NULL,
    mode            TEXT NOT NULL,
    repository_path TEXT NOT NULL,
    trigger         TEXT NOT NULL CHECK (trigger IN ('basic', 'advanced', 'autostart', 'manual', 'catch-up')),
    kind            TEXT CHECK (kind IN ('full', 'incremental')),
    state           TEXT NOT NULL CHECK (state IN ('queued', 'running', 'canceling', 'complete', 'warning',
                                                   'error', 'canceled', 'interrupted', 'missed', 'skipped')),
    due_at          INTEGER,
    queued_at       INTEGER NOT NULL,
    started_at      INTEGER,
    ended_at        INTEGER,
    bytes           INTEGER,
    stored_bytes    INTEGER,
    files           INTEGER,
    point_id        TEXT,
    warnings        TEXT NOT NULL DEFAULT '[]',
    error           TEXT,
    script          TEXT,
    mail            TEXT,
    log             TEXT NOT NULL DEFAULT ''
);
INSERT INTO runs_new SELECT * FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_job ON runs(job_id, id);
CREATE INDEX runs_state ON runs(state);
