-- Webhooks and their dispatches. A dispatch is an outbox row: run and build
-- changes insert it in their own transaction; next_at is when it is due
-- (NULL once it ended), claim numbers the claims of the dispatchers; seq orders
-- dispatches made in the same millisecond.
CREATE TABLE webhooks (
	id              TEXT PRIMARY KEY,
	user_id         TEXT NOT NULL,
	act_id          TEXT,
	task_id         TEXT,
	run_id          TEXT,
	idempotency_key TEXT,
	created_at      INTEGER NOT NULL,
	data            BLOB NOT NULL
);
CREATE INDEX webhooks_created ON webhooks (created_at, id);
CREATE INDEX webhooks_act ON webhooks (act_id);
CREATE INDEX webhooks_task ON webhooks (task_id);
CREATE INDEX webhooks_run ON webhooks (run_id);
CREATE UNIQUE INDEX webhooks_idempotency ON webhooks (user_id, idempotency_key);

CREATE TABLE webhook_dispatches (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	id          TEXT NOT NULL UNIQUE,
	webhook_id  TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	status      TEXT NOT NULL,
	next_at     INTEGER,
	claim       INTEGER NOT NULL DEFAULT 0,
	finished_at INTEGER,
	data        BLOB NOT NULL,
	request     BLOB NOT NULL
);
CREATE INDEX webhook_dispatches_created ON webhook_dispatches (created_at, seq);
CREATE INDEX webhook_dispatches_webhook ON webhook_dispatches (webhook_id, created_at, seq);
CREATE INDEX webhook_dispatches_due ON webhook_dispatches (next_at) WHERE next_at IS NOT NULL;
