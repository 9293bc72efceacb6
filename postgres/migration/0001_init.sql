-- Initial schema: settings, actors, builds, runs, logs, storages, key-value
-- records, dataset items and request queues. It follows the SQLite store's
-- schema: JSON columns hold the domain objects, the other columns are what
-- queries filter and sort on. Every text column uses the "C" collation, so
-- ids and names sort by their UTF-8 bytes as they do in SQLite, whatever the
-- database's locale. JSON columns have the json type: the text is kept as
-- written.

CREATE TABLE settings (
	key   text COLLATE "C" PRIMARY KEY,
	value text COLLATE "C" NOT NULL
);

CREATE TABLE actors (
	id         text COLLATE "C" PRIMARY KEY,
	username   text COLLATE "C" NOT NULL,
	name       text COLLATE "C" NOT NULL,
	created_at timestamptz NOT NULL,
	data       json NOT NULL,
	CONSTRAINT actors_username_name UNIQUE (username, name)
);
CREATE INDEX actors_created_at ON actors (created_at, id);

-- seq is the N of the build number MAJOR.MINOR.N within (act_id, version);
-- internal holds the fields the API never shows (command, env, dir, image).
CREATE TABLE builds (
	id           text COLLATE "C" PRIMARY KEY,
	act_id       text COLLATE "C" NOT NULL,
	version      text COLLATE "C" NOT NULL,
	seq          integer NOT NULL,
	build_number text COLLATE "C" NOT NULL,
	status       text COLLATE "C" NOT NULL,
	started_at   timestamptz NOT NULL,
	data         json NOT NULL,
	internal     json NOT NULL,
	UNIQUE (act_id, version, seq)
);
CREATE INDEX builds_act_started ON builds (act_id, started_at, id);
CREATE INDEX builds_act_number ON builds (act_id, build_number);

-- version is the compare-and-set counter of UpdateRun. The default storage
-- ids never change after CreateRun; storages.run_refs counts the runs that
-- use a storage.
CREATE TABLE runs (
	id                         text COLLATE "C" PRIMARY KEY,
	act_id                     text COLLATE "C" NOT NULL,
	status                     text COLLATE "C" NOT NULL,
	started_at                 timestamptz NOT NULL,
	version                    bigint NOT NULL,
	default_dataset_id         text COLLATE "C" NOT NULL,
	default_key_value_store_id text COLLATE "C" NOT NULL,
	default_request_queue_id   text COLLATE "C" NOT NULL,
	data                       json NOT NULL,
	control                    json NOT NULL
);
CREATE INDEX runs_act_started ON runs (act_id, started_at, id);
CREATE INDEX runs_started ON runs (started_at, id);
CREATE INDEX runs_status ON runs (status, started_at, id);
CREATE INDEX runs_act_status ON runs (act_id, status, started_at, id);

-- run_counts keeps the number of runs per (actor, status), so that list
-- totals do not have to count a million rows. A count is the sum of the
-- shards of its (actor, status): each connection updates its own shard
-- (picked by backend pid), so concurrent transactions do not queue up on
-- one hot row. A transaction locks at most two counter rows, in key order,
-- so two of them can never deadlock on counters.
CREATE TABLE run_counts (
	act_id text COLLATE "C" NOT NULL,
	status text COLLATE "C" NOT NULL,
	shard  smallint NOT NULL,
	n      bigint NOT NULL,
	PRIMARY KEY (act_id, status, shard)
);

CREATE FUNCTION troupe_add_run_count(a text, s text, d bigint) RETURNS void LANGUAGE sql AS $$
	INSERT INTO run_counts (act_id, status, shard, n) VALUES (a, s, pg_backend_pid() % 16, d)
	ON CONFLICT (act_id, status, shard) DO UPDATE SET n = run_counts.n + excluded.n
$$;

CREATE FUNCTION troupe_count_runs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		PERFORM troupe_add_run_count(NEW.act_id, NEW.status, 1);
	ELSIF TG_OP = 'DELETE' THEN
		PERFORM troupe_add_run_count(OLD.act_id, OLD.status, -1);
	ELSIF OLD.act_id IS DISTINCT FROM NEW.act_id OR OLD.status IS DISTINCT FROM NEW.status THEN
		IF (OLD.act_id, OLD.status) < (NEW.act_id, NEW.status) THEN
			PERFORM troupe_add_run_count(OLD.act_id, OLD.status, -1);
			PERFORM troupe_add_run_count(NEW.act_id, NEW.status, 1);
		ELSE
			PERFORM troupe_add_run_count(NEW.act_id, NEW.status, 1);
			PERFORM troupe_add_run_count(OLD.act_id, OLD.status, -1);
		END IF;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER runs_count AFTER INSERT OR DELETE OR UPDATE OF act_id, status ON runs
	FOR EACH ROW EXECUTE FUNCTION troupe_count_runs();

-- Log chunks of runs and builds. Appends to one job's log are serialised
-- (a transaction-scoped advisory lock on the job id), so within a job seq
-- grows in commit order and a reader that follows seq never skips a chunk
-- that commits late.
CREATE TABLE logs (
	seq    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	job_id text COLLATE "C" NOT NULL,
	data   bytea NOT NULL
);
CREATE INDEX logs_job ON logs (job_id, seq);

-- Datasets, key-value stores and request queues. Names are unique per kind.
-- run_refs is the number of runs that have the storage as a default storage.
-- The counter columns belong to datasets and request queues.
CREATE TABLE storages (
	id                    text COLLATE "C" PRIMARY KEY,
	kind                  text COLLATE "C" NOT NULL,
	name                  text COLLATE "C",
	title                 text COLLATE "C",
	user_id               text COLLATE "C" NOT NULL DEFAULT '',
	username              text COLLATE "C" NOT NULL DEFAULT '',
	created_at            timestamptz NOT NULL,
	modified_at           timestamptz NOT NULL,
	accessed_at           timestamptz NOT NULL,
	act_id                text COLLATE "C",
	act_run_id            text COLLATE "C",
	general_access        text COLLATE "C" NOT NULL DEFAULT 'FOLLOW_USER_SETTING',
	item_count            bigint NOT NULL DEFAULT 0,
	clean_item_count      bigint NOT NULL DEFAULT 0,
	total_request_count   bigint NOT NULL DEFAULT 0,
	handled_request_count bigint NOT NULL DEFAULT 0,
	pending_request_count bigint NOT NULL DEFAULT 0,
	had_multiple_clients  boolean NOT NULL DEFAULT false,
	run_refs              integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX storages_kind_name ON storages (kind, name) WHERE name IS NOT NULL;
CREATE INDEX storages_kind_created ON storages (kind, created_at, id);
CREATE INDEX storages_kind_named_created ON storages (kind, created_at, id) WHERE name IS NOT NULL;

-- storage_counts keeps the number of storages per (kind, named) for list
-- totals, sharded like run_counts.
CREATE TABLE storage_counts (
	kind  text COLLATE "C" NOT NULL,
	named boolean NOT NULL,
	shard smallint NOT NULL,
	n     bigint NOT NULL,
	PRIMARY KEY (kind, named, shard)
);

CREATE FUNCTION troupe_add_storage_count(k text, named boolean, d bigint) RETURNS void LANGUAGE sql AS $$
	INSERT INTO storage_counts (kind, named, shard, n) VALUES (k, named, pg_backend_pid() % 16, d)
	ON CONFLICT (kind, named, shard) DO UPDATE SET n = storage_counts.n + excluded.n
$$;

CREATE FUNCTION troupe_count_storages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		PERFORM troupe_add_storage_count(NEW.kind, NEW.name IS NOT NULL, 1);
	ELSIF TG_OP = 'DELETE' THEN
		PERFORM troupe_add_storage_count(OLD.kind, OLD.name IS NOT NULL, -1);
	ELSIF OLD.kind IS DISTINCT FROM NEW.kind OR (OLD.name IS NULL) <> (NEW.name IS NULL) THEN
		IF (OLD.kind, OLD.name IS NOT NULL) < (NEW.kind, NEW.name IS NOT NULL) THEN
			PERFORM troupe_add_storage_count(OLD.kind, OLD.name IS NOT NULL, -1);
			PERFORM troupe_add_storage_count(NEW.kind, NEW.name IS NOT NULL, 1);
		ELSE
			PERFORM troupe_add_storage_count(NEW.kind, NEW.name IS NOT NULL, 1);
			PERFORM troupe_add_storage_count(OLD.kind, OLD.name IS NOT NULL, -1);
		END IF;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER storages_count AFTER INSERT OR DELETE OR UPDATE OF kind, name ON storages
	FOR EACH ROW EXECUTE FUNCTION troupe_count_storages();

-- Key-value records. Keys are bytea so that they compare, and list, in
-- UTF-8 byte order whatever bytes a caller sends; the primary key carries
-- each record's size so that key listings read only the index.
CREATE TABLE records (
	store_id         text COLLATE "C" NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	key              bytea NOT NULL,
	value            bytea NOT NULL,
	content_type     text COLLATE "C" NOT NULL DEFAULT '',
	content_encoding text COLLATE "C" NOT NULL DEFAULT '',
	size             integer NOT NULL,
	PRIMARY KEY (store_id, key) INCLUDE (size)
);

-- Dataset items. seq numbers a dataset's items from 0 in push order, with no
-- gaps, so a window of items is a range of seq. storages.item_count is the
-- next seq; a push locks the dataset's storages row, so pushes to one
-- dataset are serialised and keep their items together and in order.
CREATE TABLE dataset_items (
	dataset_id text COLLATE "C" NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	seq        bigint NOT NULL,
	data       bytea NOT NULL,
	PRIMARY KEY (dataset_id, seq)
);

-- Request queues: their requests, and the little state a queue needs beyond
-- its storages row. order_no orders a queue's requests: forefront requests
-- take numbers below front_seq (0, -1, -2, ...), the others numbers above
-- back_seq (1, 2, ...), so the head is the smallest order_no. first_client
-- is the first clientKey that used the queue ('' for an anonymous client);
-- NULL until one did.
CREATE TABLE request_queue_state (
	queue_id     text COLLATE "C" PRIMARY KEY REFERENCES storages (id) ON DELETE CASCADE,
	front_seq    bigint NOT NULL DEFAULT 1,
	back_seq     bigint NOT NULL DEFAULT 0,
	first_client text COLLATE "C"
);

-- id is derived from unique_key (troupe.RequestID). data is the request as
-- the API shows it (without lockExpiresAt); the other columns repeat what
-- the head and the filters read. A handled request never holds a lock.
CREATE TABLE requests (
	queue_id        text COLLATE "C" NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	id              text COLLATE "C" NOT NULL,
	unique_key      text COLLATE "C" NOT NULL,
	order_no        bigint NOT NULL,
	url             text COLLATE "C" NOT NULL,
	method          text COLLATE "C" NOT NULL,
	retry_count     integer NOT NULL DEFAULT 0,
	handled_at      timestamptz,
	lock_expires_at timestamptz,
	lock_client     text COLLATE "C",
	data            json NOT NULL,
	PRIMARY KEY (queue_id, id)
);

-- The head: unhandled requests in queue order.
CREATE INDEX requests_head ON requests (queue_id, order_no) WHERE handled_at IS NULL;

-- Locks, for "does the queue have locked requests" and unlock-all.
CREATE INDEX requests_locks ON requests (queue_id, lock_expires_at) WHERE lock_expires_at IS NOT NULL;
