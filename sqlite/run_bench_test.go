package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/sqlite"
)

// BenchmarkCreateRun measures storing a new run with its three default
// storages and its INPUT record in one transaction, the store's share of
// every run start.
func BenchmarkCreateRun(b *testing.B) {
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "troupe.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ctx := context.Background()
	input := &troupe.Record{Key: "INPUT", Value: []byte(`{"startUrls":[{"url":"https://example.com"}]}`),
		ContentType: "application/json; charset=utf-8"}
	for b.Loop() {
		r := &troupe.Run{ActID: "ACTOR000000000001", Status: troupe.StatusReady,
			Options: troupe.RunOptions{Build: "0.0.1", TimeoutSecs: 3600, MemoryMbytes: 1024}}
		if err := db.CreateRun(ctx, r, input); err != nil {
			b.Fatal(err)
		}
	}
}
