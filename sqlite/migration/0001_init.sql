-- Initial schema: actors, builds, runs, logs, storages, key-value records,
-- settings. Times are unix milliseconds (UTC). JSON columns hold the domain
-- objects; the other columns are what queries filter and sort on.

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE actors (
	id         TEXT PRIMARY KEY,
	username   TEXT NOT NULL,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	data       TEXT NOT NULL,
	UNIQUE (username, name)
);
CREATE INDEX actors_created_at ON actors (created_at, id);

-- seq is the N of the build number MAJOR.MINOR.N within (act_id, version);
-- internal holds the fields the API never shows (command, env, dir, image).
CREATE TABLE builds (
	id           TEXT PRIMARY KEY,
	act_id       TEXT NOT NULL,
	version      TEXT NOT NULL,
	seq          INTEGER NOT NULL,
	build_number TEXT NOT NULL,
	status       TEXT NOT NULL,
	started_at   INTEGER NOT NULL,
	data         TEXT NOT NULL,
	internal     TEXT NOT NULL,
	UNIQUE (act_id, version, seq)
);
CREATE INDEX builds_act_started ON builds (act_id, started_at, id);
CREATE INDEX builds_act_number ON builds (act_id, build_number);

-- version is the compare-and-set counter of UpdateRun. The default storage
-- ids never change after CreateRun. Ids are random, so every index keyed by
-- one costs a random B-tree insert per run: storages.run_refs counts the runs
-- that use a storage instead of indexing the three default-storage columns.
CREATE TABLE runs (
	id                         TEXT PRIMARY KEY,
	act_id                     TEXT NOT NULL,
	status                     TEXT NOT NULL,
	started_at                 INTEGER NOT NULL,
	version                    INTEGER NOT NULL,
	default_dataset_id         TEXT NOT NULL,
	default_key_value_store_id TEXT NOT NULL,
	default_request_queue_id   TEXT NOT NULL,
	data                       TEXT NOT NULL,
	control                    TEXT NOT NULL
);
CREATE INDEX runs_act_started ON runs (act_id, started_at, id);
CREATE INDEX runs_started ON runs (started_at, id);
CREATE INDEX runs_status ON runs (status, started_at, id);
CREATE INDEX runs_act_status ON runs (act_id, status, started_at, id);

-- run_counts keeps the number of runs per (actor, status) up to date, so
-- that list totals do not have to count a million rows.
CREATE TABLE run_counts (
	act_id TEXT NOT NULL,
	status TEXT NOT NULL,
	n      INTEGER NOT NULL,
	PRIMARY KEY (act_id, status)
) WITHOUT ROWID;

CREATE TRIGGER runs_count_insert AFTER INSERT ON runs BEGIN
	INSERT INTO run_counts (act_id, status, n) VALUES (NEW.act_id, NEW.status, 1)
		ON CONFLICT (act_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER runs_count_delete AFTER DELETE ON runs BEGIN
	UPDATE run_counts SET n = n - 1 WHERE act_id = OLD.act_id AND status = OLD.status;
END;

CREATE TRIGGER runs_count_update AFTER UPDATE OF act_id, status ON runs
WHEN OLD.act_id IS NOT NEW.act_id OR OLD.status IS NOT NEW.status BEGIN
	UPDATE run_counts SET n = n - 1 WHERE act_id = OLD.act_id AND status = OLD.status;
	INSERT INTO run_counts (act_id, status, n) VALUES (NEW.act_id, NEW.status, 1)
		ON CONFLICT (act_id, status) DO UPDATE SET n = n + 1;
END;

-- Log chunks of runs and builds. seq only grows, even after deletes.
CREATE TABLE logs (
	seq    INTEGER PRIMARY KEY AUTOINCREMENT,
	job_id TEXT NOT NULL,
	data   BLOB NOT NULL
);
CREATE INDEX logs_job ON logs (job_id, seq);

-- Datasets, key-value stores and request queues. Names are unique per kind.
-- run_refs is the number of runs that have the storage as a default storage.
-- The counter columns belong to datasets and request queues; the tables
-- that hold their content (added by later migrations) should reference
-- storages (id) ON DELETE CASCADE like records do.
CREATE TABLE storages (
	id                    TEXT PRIMARY KEY,
	kind                  TEXT NOT NULL,
	name                  TEXT,
	title                 TEXT,
	user_id               TEXT NOT NULL DEFAULT '',
	username              TEXT NOT NULL DEFAULT '',
	created_at            INTEGER NOT NULL,
	modified_at           INTEGER NOT NULL,
	accessed_at           INTEGER NOT NULL,
	act_id                TEXT,
	act_run_id            TEXT,
	general_access        TEXT NOT NULL DEFAULT 'FOLLOW_USER_SETTING',
	item_count            INTEGER NOT NULL DEFAULT 0,
	clean_item_count      INTEGER NOT NULL DEFAULT 0,
	total_request_count   INTEGER NOT NULL DEFAULT 0,
	handled_request_count INTEGER NOT NULL DEFAULT 0,
	pending_request_count INTEGER NOT NULL DEFAULT 0,
	had_multiple_clients  INTEGER NOT NULL DEFAULT 0,
	run_refs              INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX storages_kind_name ON storages (kind, name) WHERE name IS NOT NULL;
CREATE INDEX storages_kind_created ON storages (kind, created_at, id);
CREATE INDEX storages_kind_named_created ON storages (kind, created_at, id) WHERE name IS NOT NULL;

-- storage_counts keeps the number of storages per (kind, named) for list
-- totals.
CREATE TABLE storage_counts (
	kind  TEXT NOT NULL,
	named INTEGER NOT NULL,
	n     INTEGER NOT NULL,
	PRIMARY KEY (kind, named)
) WITHOUT ROWID;

CREATE TRIGGER storages_count_insert AFTER INSERT ON storages BEGIN
	INSERT INTO storage_counts (kind, named, n) VALUES (NEW.kind, NEW.name IS NOT NULL, 1)
		ON CONFLICT (kind, named) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER storages_count_delete AFTER DELETE ON storages BEGIN
	UPDATE storage_counts SET n = n - 1 WHERE kind = OLD.kind AND named = (OLD.name IS NOT NULL);
END;

CREATE TRIGGER storages_count_update AFTER UPDATE OF kind, name ON storages
WHEN OLD.kind IS NOT NEW.kind OR (OLD.name IS NULL) IS NOT (NEW.name IS NULL) BEGIN
	UPDATE storage_counts SET n = n - 1 WHERE kind = OLD.kind AND named = (OLD.name IS NOT NULL);
	INSERT INTO storage_counts (kind, named, n) VALUES (NEW.kind, NEW.name IS NOT NULL, 1)
		ON CONFLICT (kind, named) DO UPDATE SET n = n + 1;
END;

-- Key-value records. key uses the BINARY collation, so keys sort in UTF-8
-- byte order.
CREATE TABLE records (
	store_id         TEXT NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	key              TEXT NOT NULL,
	value            BLOB NOT NULL,
	content_type     TEXT NOT NULL DEFAULT '',
	content_encoding TEXT NOT NULL DEFAULT '',
	size             INTEGER NOT NULL,
	PRIMARY KEY (store_id, key)
);
