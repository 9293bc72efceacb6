-- Build archives, kept once per sha256 digest of their content, in chunks.
-- A chunk belongs to "upload:ID" while its archive is being written and to
-- the archive's digest once the archive is complete.
CREATE TABLE artifacts (
	digest     text COLLATE "C" PRIMARY KEY,
	size       bigint NOT NULL,
	chunks     integer NOT NULL,
	created_at timestamptz NOT NULL
);

CREATE TABLE artifact_chunks (
	artifact text COLLATE "C" NOT NULL,
	seq      integer NOT NULL,
	data     bytea NOT NULL,
	PRIMARY KEY (artifact, seq)
);
