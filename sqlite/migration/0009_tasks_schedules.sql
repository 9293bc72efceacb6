-- Actor tasks: an actor with saved input and run options. data is the
-- task as the API shows it (without stats, counted from runs).
CREATE TABLE tasks (
	id         TEXT PRIMARY KEY,
	username   TEXT NOT NULL,
	name       TEXT NOT NULL,
	act_id     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	data       TEXT NOT NULL,
	UNIQUE (username, name)
);
CREATE INDEX tasks_created_at ON tasks (created_at, id);

-- A run started from a task names it, so a task's runs list and count.
ALTER TABLE runs ADD COLUMN actor_task_id TEXT;
CREATE INDEX runs_task_started ON runs (actor_task_id, started_at, id) WHERE actor_task_id IS NOT NULL;

-- Schedules. next_run_at is the next firing time of an enabled schedule
-- (NULL when disabled); a firing is a compare-and-set on it. action_runs
-- maps each action to the last run it started.
CREATE TABLE schedules (
	id          TEXT PRIMARY KEY,
	username    TEXT NOT NULL,
	name        TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	next_run_at INTEGER,
	data        TEXT NOT NULL,
	action_runs TEXT NOT NULL,
	UNIQUE (username, name)
);
CREATE INDEX schedules_created_at ON schedules (created_at, id);
CREATE INDEX schedules_next_run_at ON schedules (next_run_at) WHERE next_run_at IS NOT NULL;

CREATE TABLE schedule_log (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	schedule_id TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	level       TEXT NOT NULL,
	message     TEXT NOT NULL
);
CREATE INDEX schedule_log_schedule ON schedule_log (schedule_id, id);
