-- Who pushed commits to a pull request (the sender of GitHub's `synchronize`, the user of
-- GitLab's merge request `update` with new commits). With the opener and the commits' authors
-- and committers they are the pull request's authors: their approvals do not count unless
-- `allow_author_approval`, and nobody overrides a pull request they are an author of.

CREATE TABLE pr_authors (
    pr_key TEXT NOT NULL,
    login  TEXT NOT NULL,   -- lower-cased
    at     INTEGER NOT NULL,  -- Unix milliseconds, first seen
    PRIMARY KEY (pr_key, login)
) STRICT;
