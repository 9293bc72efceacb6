-- Request queues: their requests, and the little state a queue needs beyond
-- its storages row (whose counter columns the store keeps up to date).

-- order_no orders a queue's requests: forefront requests take numbers below
-- front_seq (0, -1, -2, ...), the others numbers above back_seq (1, 2, ...),
-- so the head is simply the smallest order_no. first_client is the first
-- clientKey that used the queue ('' for an anonymous client); NULL until one
-- did. The row is made the first time a client uses the queue.
CREATE TABLE request_queue_state (
	queue_id     TEXT PRIMARY KEY REFERENCES storages (id) ON DELETE CASCADE,
	front_seq    INTEGER NOT NULL DEFAULT 1,
	back_seq     INTEGER NOT NULL DEFAULT 0,
	first_client TEXT
) WITHOUT ROWID;

-- id is derived from unique_key (troupe.RequestID), so the primary key also
-- keeps uniqueKeys unique per queue. data is the request as the API shows
-- it (without lockExpiresAt); url, method, retry_count and handled_at repeat
-- what the head and the filters read. A handled request never holds a lock:
-- lock_expires_at and lock_client are NULL then.
CREATE TABLE requests (
	queue_id        TEXT NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	id              TEXT NOT NULL,
	unique_key      TEXT NOT NULL,
	order_no        INTEGER NOT NULL,
	url             TEXT NOT NULL,
	method          TEXT NOT NULL,
	retry_count     INTEGER NOT NULL DEFAULT 0,
	handled_at      INTEGER,
	lock_expires_at INTEGER,
	lock_client     TEXT,
	data            TEXT NOT NULL,
	PRIMARY KEY (queue_id, id)
);

-- The head: unhandled requests in queue order. Handled requests leave the
-- index, so it stays as small as the pending part of the queue.
CREATE INDEX requests_head ON requests (queue_id, order_no) WHERE handled_at IS NULL;

-- Locks, for "does the queue have locked requests" and unlock-all.
CREATE INDEX requests_locks ON requests (queue_id, lock_expires_at) WHERE lock_expires_at IS NOT NULL;
