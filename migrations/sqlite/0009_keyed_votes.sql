-- What makes a stored vote count (docs/audit.md, "Votes"): a command vote counts as its audit
-- record says (keyed with the audit key), and its row names that record (`audit_seq`, the
-- record's `seq`); a row that binds a forge approval to a commit (`review-hook:`,
-- `review-sighting:`) carries a MAC under the audit key (`key_id`, `mac`). A row with neither
-- (written by hand, or recorded before the audit key) counts for nothing.

ALTER TABLE votes ADD COLUMN audit_seq INTEGER;
ALTER TABLE votes ADD COLUMN key_id TEXT;
ALTER TABLE votes ADD COLUMN mac TEXT;

-- The gate reads a pull request's votes from their audit records (docs/audit.md, "Votes").
CREATE INDEX audit_log_pr ON audit_log (repo, pr);
