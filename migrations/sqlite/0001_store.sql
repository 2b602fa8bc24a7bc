-- The durable store: webhook deliveries, the job queue, per-PR publishing state.
-- Times are Unix milliseconds (UTC). JSON columns hold serde_json text. No secret is ever stored.

CREATE TABLE deliveries (
    id          TEXT    PRIMARY KEY NOT NULL,  -- the forge's delivery id: the dedup key
    forge       TEXT    NOT NULL,
    event_name  TEXT    NOT NULL,
    event       TEXT    NOT NULL,              -- the decoded `Event` as JSON
    received_at INTEGER NOT NULL
) STRICT;

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,             -- `JobKind` as JSON
    coalesce_key TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'running', 'done', 'dead')),
    attempt      INTEGER NOT NULL DEFAULT 0,   -- claims so far
    run_at       INTEGER NOT NULL,             -- not claimable before
    lease        TEXT,                         -- random token of the current claim
    lease_until  INTEGER,
    worker       TEXT,                         -- who holds / last held the lease
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CHECK ((state = 'running') = (lease IS NOT NULL AND lease_until IS NOT NULL))
) STRICT;

-- Coalescing: at most one pending (unclaimed) job per key; enqueues upsert into it.
CREATE UNIQUE INDEX jobs_pending_key ON jobs (coalesce_key) WHERE state = 'pending';
-- Claiming: due pending jobs in order, and running jobs by lease expiry.
CREATE INDEX jobs_pending_due ON jobs (run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_running_lease ON jobs (lease_until) WHERE state = 'running';
-- One run per key at a time.
CREATE INDEX jobs_running_key ON jobs (coalesce_key) WHERE state = 'running';
CREATE INDEX jobs_state ON jobs (state);

-- Which jobs a delivery caused (several deliveries can share one coalesced job).
CREATE TABLE delivery_jobs (
    delivery_id TEXT    NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (delivery_id, job_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX delivery_jobs_job ON delivery_jobs (job_id);

CREATE TABLE pr_state (
    key        TEXT    PRIMARY KEY NOT NULL,   -- `PrRef::key()`
    state      TEXT    NOT NULL,               -- `PrState` as JSON
    updated_at INTEGER NOT NULL
) STRICT;
