-- seq numbers runs in the order they were created, so that runs started in
-- the same millisecond list, and the last one is chosen, in creation order.
-- CreateRun gives a run the next number in its own write transaction; runs
-- that exist already are numbered by start time, then by insertion order.
ALTER TABLE runs ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET seq = o.n
	FROM (SELECT rowid AS rid, row_number() OVER (ORDER BY started_at, rowid) AS n FROM runs) AS o
	WHERE runs.rowid = o.rid;
CREATE UNIQUE INDEX runs_seq ON runs (seq);

DROP INDEX runs_act_started;
DROP INDEX runs_started;
DROP INDEX runs_status;
DROP INDEX runs_act_status;
CREATE INDEX runs_act_started ON runs (act_id, started_at, seq);
CREATE INDEX runs_started ON runs (started_at, seq);
CREATE INDEX runs_status ON runs (status, started_at, seq);
CREATE INDEX runs_act_status ON runs (act_id, status, started_at, seq);
