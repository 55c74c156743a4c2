-- The contact an e-mail went to (contact pressure: how many e-mails a contact got).
-- depends: 0001.hub-state

ALTER TABLE actions ADD COLUMN contact_id TEXT;
