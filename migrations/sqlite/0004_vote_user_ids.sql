-- The voter's account id (GitHub and GitLab `user.id`), when the event carried it: membership
-- checks ask about the account by id, so that a rename cannot make a vote count as another
-- account's. NULL for votes recorded before, and for older GitLab payloads without `user.id`.

ALTER TABLE votes ADD COLUMN user_id INTEGER;
