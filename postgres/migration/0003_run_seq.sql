-- seq numbers runs in the order they were created, so that runs started in
-- the same millisecond list, and the last one is chosen, in creation order.
-- CreateRun takes the next number from runs_seq in its own transaction;
-- runs that exist already are numbered by start time, then by id.
ALTER TABLE runs ADD COLUMN seq bigint;
UPDATE runs SET seq = o.n
	FROM (SELECT id, row_number() OVER (ORDER BY started_at, id) AS n FROM runs) AS o
	WHERE runs.id = o.id;
CREATE SEQUENCE runs_seq OWNED BY runs.seq;
SELECT setval('runs_seq', COALESCE((SELECT MAX(seq) FROM runs), 0) + 1, false);
ALTER TABLE runs ALTER COLUMN seq SET DEFAULT nextval('runs_seq'),
	ALTER COLUMN seq SET NOT NULL;

DROP INDEX runs_act_started;
DROP INDEX runs_started;
DROP INDEX runs_status;
DROP INDEX runs_act_status;
CREATE INDEX runs_act_started ON runs (act_id, started_at, seq);
CREATE INDEX runs_started ON runs (started_at, seq);
CREATE INDEX runs_status ON runs (status, started_at, seq);
CREATE INDEX runs_act_status ON runs (act_id, status, started_at, seq);
