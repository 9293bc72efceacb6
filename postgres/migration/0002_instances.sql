-- The servers sharing this store and when each last said it was alive.
CREATE TABLE instances (
	name         text COLLATE "C" PRIMARY KEY,
	heartbeat_at timestamptz NOT NULL
);
