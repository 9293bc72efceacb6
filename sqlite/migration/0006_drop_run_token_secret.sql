-- Run tokens are no longer signed with a secret kept here (a run could read
-- the database file); the old secret is removed.
DELETE FROM settings WHERE key = 'run_token_secret';
