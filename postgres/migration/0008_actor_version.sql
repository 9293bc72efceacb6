-- version changes at every write of an actor (a random number the store
-- picks), so a reader that keeps actors decoded can tell from it alone
-- whether its copy is current, without fetching the JSON (source files of
-- megabytes, kept out of line by TOAST).
ALTER TABLE actors ADD COLUMN version bigint NOT NULL DEFAULT 0;
UPDATE actors SET version = (random() * 9.2e18)::bigint;
