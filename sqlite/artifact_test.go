package sqlite_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/troupehq/troupe/sqlite"
)

// TestArtifactStaleUploads: a put deletes the chunks of uploads begun more
// than a day earlier (a process that died while it wrote an archive) and
// keeps those of recent ones, which may still be under way.
func TestArtifactStaleUploads(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	db := openDB(t, sqlite.WithClock(func() time.Time { return now }))
	ctx := t.Context()
	key := func(age time.Duration, id string) string {
		return fmt.Sprintf("upload:%013d:%s", now.Add(-age).UnixMilli(), id)
	}
	for _, k := range []string{key(25*time.Hour, "dead"), key(time.Hour, "busy")} {
		must(t, db.Exec(ctx, `INSERT INTO artifact_chunks (artifact, seq, data) VALUES (?, 0, x'00')`, k))
	}
	digest, _, err := db.PutArtifact(ctx, bytes.NewReader([]byte("archive")))
	must(t, err)
	rows, err := db.Driver().ReadDB().QueryContext(ctx, `SELECT artifact FROM artifact_chunks ORDER BY artifact`)
	must(t, err)
	defer rows.Close()
	var got []string
	for rows.Next() {
		var k string
		must(t, rows.Scan(&k))
		got = append(got, k)
	}
	must(t, rows.Err())
	if want := []string{digest, key(time.Hour, "busy")}; !slices.Equal(got, want) {
		t.Fatalf("chunks of %v, want %v", got, want)
	}
}
