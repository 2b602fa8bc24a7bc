-- Lanes, fairness and command tickets.
--
-- Each job runs in a lane with its own workers: `fast` (commands, gate decisions, rechecks: forge
-- calls only) or `preview` (a pull request whose head still needs a `pulumi preview`). Every job
-- is enqueued `fast`; a pull request job that finds a preview missing moves itself to `preview`.
-- An enqueue that coalesces into a pending `preview` job keeps it there.
ALTER TABLE jobs ADD COLUMN lane TEXT NOT NULL DEFAULT 'fast' CHECK (lane IN ('fast', 'preview'));
-- The repository a job is about (`RepoRef::key()`), for fairness between repositories: a claim
-- takes the repository with the fewest jobs running in the lane, then the one served least
-- recently. Jobs queued before this migration get theirs from their kind.
ALTER TABLE jobs ADD COLUMN repo_key TEXT;
UPDATE jobs SET repo_key =
    COALESCE(kind ->> '$.pr.forge', kind ->> '$.repo.forge') || ':' ||
    COALESCE(kind ->> '$.pr.repo', kind ->> '$.repo.repo')
WHERE state IN ('pending', 'running');

-- When each repository last had a job claimed in each lane (the round robin between them).
CREATE TABLE lane_turns (
    lane      TEXT    NOT NULL,
    repo_key  TEXT    NOT NULL,
    served_at INTEGER NOT NULL,   -- Unix milliseconds
    PRIMARY KEY (lane, repo_key)
) STRICT, WITHOUT ROWID;

-- One row per comment whose commands ran: whether its author was within the command rate
-- (`[worker] command_rate_per_minute`), whether it is the one over-the-rate comment of its window
-- that gets a reply saying so, and how far iamgate's reply got (`posting` is written before the
-- reply is posted, `posted` after: only a comment left `posting` needs the forge's comments
-- listed to know whether it was answered).
CREATE TABLE command_tickets (
    comment_key TEXT    PRIMARY KEY NOT NULL,   -- `PrRef::key()` ':' comment id
    repo_key    TEXT    NOT NULL,
    author      TEXT    NOT NULL,               -- login, lower case
    at          INTEGER NOT NULL,               -- when the comment was made (Unix milliseconds)
    admitted    INTEGER NOT NULL CHECK (admitted IN (0, 1)),
    told        INTEGER NOT NULL CHECK (told IN (0, 1)),
    reply       TEXT    NOT NULL DEFAULT 'none' CHECK (reply IN ('none', 'posting', 'posted')),
    created_at  INTEGER NOT NULL                -- Unix milliseconds, for pruning
) STRICT;

CREATE INDEX command_tickets_rate ON command_tickets (repo_key, author, at);
