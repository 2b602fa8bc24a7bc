-- Each open pull request's own gate decision at its head, before it is combined with the other
-- pull requests that share the commit: a commit status belongs to the commit, so `success` is
-- posted only when every open pull request with that head would post it.

CREATE TABLE pr_gates (
    pr_key      TEXT    PRIMARY KEY,
    repo_key    TEXT    NOT NULL,
    pr          TEXT    NOT NULL,   -- the pull request's address (JSON), to analyze it again
    sha         TEXT    NOT NULL,   -- its head when decided
    base        TEXT    NOT NULL,   -- its base branch when decided
    state       TEXT    NOT NULL,   -- pending | success | failure
    description TEXT    NOT NULL,
    at          INTEGER NOT NULL    -- Unix milliseconds
) STRICT;

CREATE INDEX pr_gates_by_commit ON pr_gates (repo_key, sha);
