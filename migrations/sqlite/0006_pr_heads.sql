-- When iamgate first saw each head of a pull request. A `/iamgate approve` comment binds to the
-- newest head seen before the comment was made (the head its author could see), never to a head
-- pushed after it.

CREATE TABLE pr_heads (
    pr_key     TEXT    NOT NULL,
    head       TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,   -- Unix milliseconds
    PRIMARY KEY (pr_key, head)
) STRICT;
