-- Previews submitted by CI jobs (`preview: ci`, `POST /api/v1/previews`): the newest submission
-- per repository, commit and stack (a resubmission replaces it), with which run submitted it.
-- The body is the preview as received (gunzipped), masked of nothing: it comes from the
-- repository's own CI, which holds the cloud credentials iamgate does not.

CREATE TABLE ci_previews (
    repo_key    TEXT NOT NULL,     -- RepoRef::key: forge and repository
    commit_sha  TEXT NOT NULL,
    stack       TEXT NOT NULL,     -- the stack's name in .iamgate.yml
    failed      INTEGER NOT NULL,  -- 1: the body is the text of a failed preview
    body        BLOB NOT NULL,
    source      TEXT NOT NULL,     -- which workflow run or pipeline job submitted it
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (repo_key, commit_sha, stack)
) STRICT;

-- The ids (`jti`) of the ID tokens submissions were accepted with: a token is accepted once.
-- Kept until the token expires (plus the allowed skew); pruned after.
CREATE TABLE ci_token_ids (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
) STRICT;
