-- Initial schema. Migrations are append-only: never edit a released file, add a new one.
-- Times are UTC seconds since the epoch; rendering in the appliance's zone happens at the edge.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- This appliance is center 1 (decision D6).
CREATE TABLE centers (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    host_name   TEXT NOT NULL,
    install_id  TEXT NOT NULL,
    machine_id  TEXT NOT NULL,
    os_version  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- This host is server 1 of center 1.
CREATE TABLE servers (
    id          INTEGER PRIMARY KEY,
    center_id   INTEGER NOT NULL REFERENCES centers(id),
    name        TEXT NOT NULL,
    os_version  TEXT NOT NULL,
    kernel      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE repositories (
    id               INTEGER PRIMARY KEY,
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

-- One row per schedule half (spec §3.3 bitmaps; role = basic/advanced, decision §6 #17).
CREATE TABLE schedules (
    id              INTEGER PRIMARY KEY,
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

CREATE TABLE jobs (
    id                    INTEGER PRIMARY KEY,
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
    exclude_dir           TEXT NOT NULL DEFAULT '[]',  -- JSON array of absolute paths
    mail_event            TEXT,
    network_limit         INTEGER NOT NULL DEFAULT 0,  -- MiB/s, 0 = unlimited
    auto_start            INTEGER NOT NULL DEFAULT 0,
    script_path           TEXT,
    script_run            TEXT CHECK (script_run IN ('before', 'after')),
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

CREATE INDEX jobs_repository ON jobs(repository_id);
CREATE INDEX jobs_schedule_basic ON jobs(schedule_basic_id);
CREATE INDEX jobs_schedule_advanced ON jobs(schedule_advanced_id);
