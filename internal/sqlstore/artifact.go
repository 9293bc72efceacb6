package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/artifact"
)

// PutArtifact implements troupe.ArtifactStore. Each chunk is written in a
// transaction of its own under a fresh upload key; the last transaction
// gives the chunks the content's digest, or drops them when an artifact
// of that digest is already kept (a lock on the digest makes concurrent
// puts of the same content take turns).
//
// An upload's key starts with its start time (upload:MILLIS:ID, MILLIS in
// 13 digits, so that keys sort by time), and each put first deletes the
// chunks of uploads begun more than staleUpload ago: those of a process
// that died while it wrote an archive.
func (s *Store) PutArtifact(ctx context.Context, r io.Reader) (string, int64, error) {
	now := s.now()
	if err := s.write(ctx, func(c conn, _ *sql.Tx) error {
		_, err := c.Exec(ctx, `DELETE FROM artifact_chunks WHERE artifact >= ? AND artifact < ?`,
			"upload:", uploadKey(now.Add(-staleUpload), ""))
		return err
	}); err != nil {
		return "", 0, fmt.Errorf("delete stale artifact uploads: %w", err)
	}
	upload := uploadKey(now, troupe.NewID())
	drop := func() {
		bg := context.WithoutCancel(ctx)
		_ = s.write(bg, func(c conn, _ *sql.Tx) error {
			_, err := c.Exec(bg, `DELETE FROM artifact_chunks WHERE artifact = ?`, upload)
			return err
		})
	}
	h := sha256.New()
	buf := make([]byte, troupe.ArtifactChunkBytes)
	var size int64
	seq := 0
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			h.Write(buf[:n])
			size += int64(n)
			err := s.write(ctx, func(c conn, _ *sql.Tx) error {
				_, err := c.Exec(ctx, `INSERT INTO artifact_chunks (artifact, seq, data) VALUES (?, ?, ?)`,
					upload, seq, buf[:n])
				return err
			})
			if err != nil {
				drop()
				return "", 0, fmt.Errorf("write artifact chunk: %w", err)
			}
			seq++
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			drop()
			return "", 0, fmt.Errorf("read artifact: %w", rerr)
		}
	}
	digest := hex.EncodeToString(h.Sum(nil))
	err := s.write(ctx, func(c conn, tx *sql.Tx) error {
		if err := s.d.Lock(ctx, tx, "artifact\x1f"+digest); err != nil {
			return fmt.Errorf("lock artifact: %w", err)
		}
		kept, err := c.exists(ctx, `SELECT 1 FROM artifacts WHERE digest = ?`, digest)
		if err != nil {
			return fmt.Errorf("look up artifact: %w", err)
		}
		if kept {
			_, err = c.Exec(ctx, `DELETE FROM artifact_chunks WHERE artifact = ?`, upload)
			return err
		}
		if _, err := c.Exec(ctx, `UPDATE artifact_chunks SET artifact = ? WHERE artifact = ?`, digest, upload); err != nil {
			return fmt.Errorf("complete artifact: %w", err)
		}
		_, err = c.Exec(ctx, `INSERT INTO artifacts (digest, size, chunks, created_at) VALUES (?, ?, ?, ?)`,
			digest, size, seq, s.t(s.now()))
		return err
	})
	if err != nil {
		drop()
		return "", 0, fmt.Errorf("store artifact: %w", err)
	}
	return digest, size, nil
}

// staleUpload is how long after its start an artifact upload that has not
// completed is taken for abandoned.
const staleUpload = 24 * time.Hour

// uploadKey is the key of the chunks of an upload begun at t.
func uploadKey(t time.Time, id string) string {
	return fmt.Sprintf("upload:%013d:%s", t.UnixMilli(), id)
}

// OpenArtifact implements troupe.ArtifactStore. The reader reads one chunk
// per query, with ctx, and checks the content (artifact.Verified).
func (s *Store) OpenArtifact(ctx context.Context, digest string) (io.ReadCloser, int64, error) {
	var size int64
	var chunks int
	err := s.reader().QueryRow(ctx, `SELECT size, chunks FROM artifacts WHERE digest = ?`, digest).Scan(&size, &chunks)
	if err != nil {
		return nil, 0, s.notFound(err, "Artifact")
	}
	return artifact.Verified(&artifactReader{s: s, ctx: ctx, digest: digest, chunks: chunks}, digest, size), size, nil
}

// artifactReader reads an artifact's chunks in order, one at a time.
type artifactReader struct {
	s      *Store
	ctx    context.Context
	digest string
	seq    int
	chunks int
	cur    []byte
	closed bool
}

func (a *artifactReader) Read(p []byte) (int, error) {
	if a.closed {
		return 0, errors.New("artifact reader closed")
	}
	for len(a.cur) == 0 {
		if a.seq >= a.chunks {
			return 0, io.EOF
		}
		err := a.s.reader().QueryRow(a.ctx, `SELECT data FROM artifact_chunks WHERE artifact = ? AND seq = ?`,
			a.digest, a.seq).Scan(&a.cur)
		if err != nil {
			return 0, fmt.Errorf("read artifact chunk %d: %w", a.seq, err)
		}
		a.seq++
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

func (a *artifactReader) Close() error {
	a.closed, a.cur = true, nil
	return nil
}
