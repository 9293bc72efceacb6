-- The servers sharing this store and when each last said it was alive.
CREATE TABLE instances (
	name         TEXT PRIMARY KEY,
	heartbeat_at INTEGER NOT NULL
);
