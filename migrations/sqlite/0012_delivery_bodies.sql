-- The SHA-256 of each delivery's raw body: a signed body replayed under a new delivery id
-- (the id header is not signed) is recognized as the delivery it copies.

ALTER TABLE deliveries ADD COLUMN body_sha256 TEXT;

CREATE UNIQUE INDEX deliveries_by_body ON deliveries (body_sha256) WHERE body_sha256 IS NOT NULL;
