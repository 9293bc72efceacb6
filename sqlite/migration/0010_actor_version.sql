-- version changes at every write of an actor (a random number the store
-- picks), so a reader that keeps actors decoded can tell from it alone
-- whether its copy is current. The table is made again to put version
-- before data: a column after the JSON (source files of megabytes) is
-- reached only by walking the row's overflow pages, while one before it
-- sits on the row's own page.
CREATE TABLE actors_new (
	id         TEXT PRIMARY KEY,
	username   TEXT NOT NULL,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	version    INTEGER NOT NULL,
	data       TEXT NOT NULL,
	UNIQUE (username, name)
);
INSERT INTO actors_new (id, username, name, created_at, version, data)
	SELECT id, username, name, created_at, random(), data FROM actors;
DROP TABLE actors;
ALTER TABLE actors_new RENAME TO actors;
CREATE INDEX actors_created_at ON actors (created_at, id);
