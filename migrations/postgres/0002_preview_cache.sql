-- The preview cache, shared by every replica (with SQLite it is files in `[store] data_dir`):
-- each stack's preview outcome per pull request and head, so that an event that does not change
-- the code recomputes the gate from the preview already run, whichever replica gets it, and a
-- `/iamgate rerun` on any replica forgets it for all. `key` is the entry's hash (pull request,
-- stack directory, stack, head); exactly one of `failed` (the reason) and `output` (the preview's
-- JSON, gzipped) is set.

CREATE TABLE preview_cache (
    key    TEXT   PRIMARY KEY,
    failed TEXT,
    output BYTEA,
    at     BIGINT NOT NULL,     -- Unix milliseconds, for pruning
    CHECK ((failed IS NULL) <> (output IS NULL))
);
CREATE INDEX preview_cache_at ON preview_cache (at);
