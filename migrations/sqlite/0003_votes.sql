-- Approvals given by command (`/iamgate approve`, `unapprove`, `override`), each bound to the
-- head commit it was given on; and the IAM fingerprint of every head iamgate analyzed, so that
-- a vote given on one head can be judged against the current head's change (docs/commands.md).
-- Reviews are not copied here: they are read from the forge at every decision.

CREATE TABLE votes (
    id        INTEGER PRIMARY KEY,
    pr_key    TEXT    NOT NULL,               -- `PrRef::key()`
    source    TEXT    NOT NULL,               -- what gave it, e.g. `comment:123:0`: retries add nothing
    login     TEXT    NOT NULL,
    kind      TEXT    NOT NULL CHECK (kind IN ('approve', 'withdraw', 'override')),
    head      TEXT    NOT NULL,
    reason    TEXT,
    at        INTEGER NOT NULL,               -- Unix milliseconds
    UNIQUE (pr_key, source)
) STRICT;

CREATE TABLE head_fingerprints (
    pr_key      TEXT    NOT NULL,
    head        TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (pr_key, head)
) STRICT;
