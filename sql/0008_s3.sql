-- S3 repositories (issue 15): the kind 's3', and where the bucket is served. The keys are kept
-- like SMB passwords, in the 0600 credentials file. The table is rebuilt (SQLite cannot change
-- a CHECK), keeping every row and ID, and the ID counter: a deleted newest ID is never handed
-- out again.

CREATE TEMP TABLE keep_seq AS SELECT seq FROM sqlite_sequence WHERE name = 'repositories';

CREATE TABLE repositories_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    center_id        INTEGER NOT NULL REFERENCES centers(id),
    kind             TEXT NOT NULL CHECK (kind IN ('nfs', 'smb', 's3')),
    path             TEXT NOT NULL,
    local_path       TEXT,
    ip               TEXT,
    port             INTEGER,
    remote_user      TEXT,
    credentials_file TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    s3_endpoint      TEXT,
    s3_region        TEXT,
    s3_path_style    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (kind, path)
);
INSERT INTO repositories_new (id, center_id, kind, path, local_path, ip, port, remote_user,
                              credentials_file, created_at, updated_at)
    SELECT id, center_id, kind, path, local_path, ip, port, remote_user, credentials_file,
           created_at, updated_at
    FROM repositories;
DROP TABLE repositories;
ALTER TABLE repositories_new RENAME TO repositories;
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'repositories', 0
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'repositories');
UPDATE sqlite_sequence
    SET seq = max(seq, coalesce((SELECT max(seq) FROM temp.keep_seq), 0))
    WHERE name = 'repositories';
DROP TABLE temp.keep_seq;
