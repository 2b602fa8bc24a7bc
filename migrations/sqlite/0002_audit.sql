-- The audit trail: an append-only hash chain (docs/audit.md). Each row's `record` is the
-- canonical JSON of one audit entry with its `seq`; `hash` = hex SHA-256(prev_hash || record).
-- `time`, `kind`, `repo` and `pr` repeat what `record` says, for filtering; verification checks
-- that they agree. The triggers make history read-only through SQL: rewriting it takes dropping
-- them first (which `iamgate audit --verify` then detects by the broken chain or head).

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    seq       INTEGER NOT NULL UNIQUE,        -- position in the chain, from 1
    time      INTEGER NOT NULL,               -- the entry's time, Unix milliseconds (UTC)
    kind      TEXT    NOT NULL,               -- `analysis`, `approval`, ...
    repo      TEXT    NOT NULL,
    pr        INTEGER NOT NULL,
    record    TEXT    NOT NULL,               -- canonical JSON: what is hashed
    prev_hash TEXT    NOT NULL,               -- the previous row's hash (64 zeros for the first)
    hash      TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_log_repo_time ON audit_log (repo COLLATE NOCASE, time);
CREATE INDEX audit_log_time ON audit_log (time);

-- The end of the chain, advanced by the trigger below in the transaction of each append, so
-- that deleting the newest records shows.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    count INTEGER NOT NULL,
    hash  TEXT    NOT NULL
) STRICT;

INSERT INTO audit_head (id, count, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: records cannot be changed');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: records cannot be deleted');
END;

-- A new record must extend the chain where its head ends.
CREATE TRIGGER audit_log_extends_head BEFORE INSERT ON audit_log
WHEN NEW.seq IS NOT (SELECT count + 1 FROM audit_head WHERE id = 1)
  OR NEW.prev_hash IS NOT (SELECT hash FROM audit_head WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit_log: a record must extend the chain head (seq = count + 1, prev_hash = head hash)');
END;

CREATE TRIGGER audit_log_advance_head AFTER INSERT ON audit_log
BEGIN
    UPDATE audit_head SET count = NEW.seq, hash = NEW.hash WHERE id = 1;
END;

-- The head only ever moves forward by one, onto a stored record.
CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
WHEN NEW.id IS NOT OLD.id
  OR NEW.count IS NOT OLD.count + 1
  OR NEW.hash IS NOT (SELECT hash FROM audit_log WHERE seq = NEW.count)
BEGIN
    SELECT RAISE(ABORT, 'audit_head only moves forward, onto the newest record');
END;

CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit_head cannot be deleted');
END;

CREATE TRIGGER audit_head_no_insert BEFORE INSERT ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit_head has exactly one row');
END;
