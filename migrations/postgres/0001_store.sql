-- The durable store on PostgreSQL, shared by every replica: the same tables as the SQLite store
-- (migrations/sqlite/, whose comments say what each column means) in one migration. Times are
-- Unix milliseconds (UTC); JSON columns hold serde_json text. No secret is ever stored.

CREATE TABLE deliveries (
    id          TEXT   PRIMARY KEY,            -- the forge's delivery id: the dedup key
    forge       TEXT   NOT NULL,
    event_name  TEXT   NOT NULL,
    event       TEXT   NOT NULL,               -- the decoded `Event` as JSON
    received_at BIGINT NOT NULL,
    body_sha256 TEXT                           -- a replay under another id is the same delivery
);
CREATE UNIQUE INDEX deliveries_by_body ON deliveries (body_sha256) WHERE body_sha256 IS NOT NULL;

CREATE TABLE jobs (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT    NOT NULL,             -- `JobKind` as JSON
    coalesce_key TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'running', 'done', 'dead')),
    attempt      BIGINT  NOT NULL DEFAULT 0,   -- claims so far
    run_at       BIGINT  NOT NULL,             -- not claimable before
    lease        TEXT,                         -- random token of the current claim
    lease_until  BIGINT,
    worker       TEXT,                         -- who holds / last held the lease
    last_error   TEXT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    lane         TEXT    NOT NULL DEFAULT 'fast' CHECK (lane IN ('fast', 'preview')),
    repo_key     TEXT,
    CHECK ((state = 'running') = (lease IS NOT NULL AND lease_until IS NOT NULL))
);
-- Coalescing: at most one pending (unclaimed) job per key; enqueues upsert into it.
CREATE UNIQUE INDEX jobs_pending_key ON jobs (coalesce_key) WHERE state = 'pending';
CREATE INDEX jobs_pending_due ON jobs (run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_running_lease ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_running_key ON jobs (coalesce_key) WHERE state = 'running';
CREATE INDEX jobs_state ON jobs (state);

CREATE TABLE delivery_jobs (
    delivery_id TEXT   NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    job_id      BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (delivery_id, job_id)
);
CREATE INDEX delivery_jobs_job ON delivery_jobs (job_id);

CREATE TABLE lane_turns (
    lane      TEXT   NOT NULL,
    repo_key  TEXT   NOT NULL,
    served_at BIGINT NOT NULL,
    PRIMARY KEY (lane, repo_key)
);

CREATE TABLE pr_state (
    key        TEXT   PRIMARY KEY,             -- `PrRef::key()`
    state      TEXT   NOT NULL,                -- `PrState` as JSON
    updated_at BIGINT NOT NULL
);

-- The audit trail: an append-only hash chain (docs/audit.md). `audit_head` is the end of the
-- chain; every append locks its row first, so appends from every replica form one chain. The
-- triggers make history read-only through SQL, as in SQLite.
CREATE TABLE audit_log (
    id        BIGSERIAL PRIMARY KEY,
    seq       BIGINT NOT NULL UNIQUE,
    time      BIGINT NOT NULL,
    kind      TEXT   NOT NULL,
    repo      TEXT   NOT NULL,
    pr        BIGINT NOT NULL,
    record    TEXT   NOT NULL,
    prev_hash TEXT   NOT NULL,
    hash      TEXT   NOT NULL
);
CREATE INDEX audit_log_repo_time ON audit_log (lower(repo), time);
CREATE INDEX audit_log_time ON audit_log (time);
CREATE INDEX audit_log_pr ON audit_log (repo, pr);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    count BIGINT  NOT NULL,
    hash  TEXT    NOT NULL
);
INSERT INTO audit_head (id, count, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_log_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit_log is append-only: records cannot be changed';
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: records cannot be deleted';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_read_only();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_read_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_read_only();

-- A new record must extend the chain where its head ends; the head then moves onto it.
CREATE FUNCTION audit_log_extends_head() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head audit_head%ROWTYPE;
BEGIN
    SELECT * INTO head FROM audit_head WHERE id = 1;
    IF NOT FOUND OR NEW.seq IS DISTINCT FROM head.count + 1
        OR NEW.prev_hash IS DISTINCT FROM head.hash THEN
        RAISE EXCEPTION 'audit_log: a record must extend the chain head (seq = count + 1, prev_hash = head hash)';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_log_extends_head BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_extends_head();

CREATE FUNCTION audit_log_advance_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_head SET count = NEW.seq, hash = NEW.hash WHERE id = 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER audit_log_advance_head AFTER INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_advance_head();

-- The head only ever moves forward by one, onto a stored record; it is never deleted or added.
CREATE FUNCTION audit_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.id IS DISTINCT FROM OLD.id OR NEW.count IS DISTINCT FROM OLD.count + 1
            OR NEW.hash IS DISTINCT FROM (SELECT hash FROM audit_log WHERE seq = NEW.count) THEN
            RAISE EXCEPTION 'audit_head only moves forward, onto the newest record';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit_head cannot be deleted';
    ELSIF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'audit_head cannot be deleted';
    END IF;
    RAISE EXCEPTION 'audit_head has exactly one row';
END;
$$;
CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_guard();
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_guard();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_head_guard();
CREATE TRIGGER audit_head_no_insert BEFORE INSERT ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_guard();

CREATE TABLE audit_once (
    key TEXT   PRIMARY KEY,
    at  BIGINT NOT NULL
);

CREATE TABLE votes (
    id        BIGSERIAL PRIMARY KEY,
    pr_key    TEXT   NOT NULL,
    source    TEXT   NOT NULL,
    login     TEXT   NOT NULL,
    kind      TEXT   NOT NULL CHECK (kind IN ('approve', 'withdraw', 'override')),
    head      TEXT   NOT NULL,
    reason    TEXT,
    at        BIGINT NOT NULL,
    user_id   BIGINT,
    audit_seq BIGINT,
    key_id    TEXT,
    mac       TEXT,
    UNIQUE (pr_key, source)
);

CREATE TABLE head_fingerprints (
    pr_key      TEXT   NOT NULL,
    head        TEXT   NOT NULL,
    fingerprint TEXT   NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (pr_key, head)
);

CREATE TABLE pr_heads (
    pr_key     TEXT   NOT NULL,
    head       TEXT   NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (pr_key, head)
);

CREATE TABLE pr_gates (
    pr_key      TEXT   PRIMARY KEY,
    repo_key    TEXT   NOT NULL,
    pr          TEXT   NOT NULL,
    sha         TEXT   NOT NULL,
    base        TEXT   NOT NULL,
    state       TEXT   NOT NULL,
    description TEXT   NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX pr_gates_by_commit ON pr_gates (repo_key, sha);

CREATE TABLE pr_authors (
    pr_key TEXT   NOT NULL,
    login  TEXT   NOT NULL,
    at     BIGINT NOT NULL,
    PRIMARY KEY (pr_key, login)
);

CREATE TABLE command_tickets (
    comment_key TEXT     PRIMARY KEY,
    repo_key    TEXT     NOT NULL,
    author      TEXT     NOT NULL,
    at          BIGINT   NOT NULL,
    admitted    SMALLINT NOT NULL CHECK (admitted IN (0, 1)),
    told        SMALLINT NOT NULL CHECK (told IN (0, 1)),
    reply       TEXT     NOT NULL DEFAULT 'none' CHECK (reply IN ('none', 'posting', 'posted')),
    created_at  BIGINT   NOT NULL
);
CREATE INDEX command_tickets_rate ON command_tickets (repo_key, author, at);

CREATE TABLE ci_previews (
    repo_key    TEXT     NOT NULL,
    commit_sha  TEXT     NOT NULL,
    stack       TEXT     NOT NULL,
    failed      SMALLINT NOT NULL,
    body        BYTEA    NOT NULL,
    source      TEXT     NOT NULL,
    received_ms BIGINT   NOT NULL,
    PRIMARY KEY (repo_key, commit_sha, stack)
);

CREATE TABLE ci_token_ids (
    issuer     TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
