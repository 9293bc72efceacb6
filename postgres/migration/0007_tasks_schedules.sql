-- Actor tasks: an actor with saved input and run options. data is the
-- task as the API shows it (without stats, counted from runs).
CREATE TABLE tasks (
	id         text COLLATE "C" PRIMARY KEY,
	username   text COLLATE "C" NOT NULL,
	name       text COLLATE "C" NOT NULL,
	act_id     text COLLATE "C" NOT NULL,
	created_at timestamptz NOT NULL,
	data       json NOT NULL,
	CONSTRAINT tasks_username_name UNIQUE (username, name)
);
CREATE INDEX tasks_created_at ON tasks (created_at, id);

-- A run started from a task names it, so a task's runs list and count.
ALTER TABLE runs ADD COLUMN actor_task_id text COLLATE "C";
CREATE INDEX runs_task_started ON runs (actor_task_id, started_at, id) WHERE actor_task_id IS NOT NULL;

-- Schedules. next_run_at is the next firing time of an enabled schedule
-- (NULL when disabled); a firing is a compare-and-set on it. action_runs
-- maps each action to the last run it started.
CREATE TABLE schedules (
	id          text COLLATE "C" PRIMARY KEY,
	username    text COLLATE "C" NOT NULL,
	name        text COLLATE "C" NOT NULL,
	created_at  timestamptz NOT NULL,
	next_run_at timestamptz,
	data        json NOT NULL,
	action_runs json NOT NULL,
	CONSTRAINT schedules_username_name UNIQUE (username, name)
);
CREATE INDEX schedules_created_at ON schedules (created_at, id);
CREATE INDEX schedules_next_run_at ON schedules (next_run_at) WHERE next_run_at IS NOT NULL;

CREATE TABLE schedule_log (
	id          bigserial PRIMARY KEY,
	schedule_id text COLLATE "C" NOT NULL,
	created_at  timestamptz NOT NULL,
	level       text NOT NULL,
	message     text NOT NULL
);
CREATE INDEX schedule_log_schedule ON schedule_log (schedule_id, id);
