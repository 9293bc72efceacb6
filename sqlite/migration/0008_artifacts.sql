-- Build archives, kept once per sha256 digest of their content, in chunks.
-- A chunk belongs to "upload:ID" while its archive is being written and to
-- the archive's digest once the archive is complete.
CREATE TABLE artifacts (
	digest     TEXT PRIMARY KEY,
	size       INTEGER NOT NULL,
	chunks     INTEGER NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE TABLE artifact_chunks (
	artifact TEXT NOT NULL,
	seq      INTEGER NOT NULL,
	data     BLOB NOT NULL,
	PRIMARY KEY (artifact, seq)
);
