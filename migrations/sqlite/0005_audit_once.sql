-- Audit records written at most once per key (e.g. the refusal of command line 0 of comment 123
-- on a pull request): a retried job does not record the same refusal twice. The key is
-- inserted in the same transaction as the audit record.

CREATE TABLE audit_once (
    key TEXT    PRIMARY KEY,
    at  INTEGER NOT NULL            -- Unix milliseconds
) STRICT;
