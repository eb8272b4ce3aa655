-- What each job has in its repository, and how full each repository was, as of the last time
-- the daemon looked (after each run, rename and deletion). Lists, the job view's counts and
-- /metrics read these instead of reaching a share over the network on every request.
CREATE TABLE point_inventory (
    job_id      INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    points      INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,     -- what the points occupy in the repository
    newest      TEXT,                 -- the newest point's ID
    updated_at  INTEGER NOT NULL
);

CREATE TABLE repository_space (
    repository_id INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    size          INTEGER NOT NULL,
    free          INTEGER NOT NULL,
    checked_at    INTEGER NOT NULL
);
