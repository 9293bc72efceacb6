package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/troupehq/troupe/sqlite"
)

type ckptResult struct {
	mode             string
	logPages, copied int
	err              error
}

// TestCheckpointsInBackground: the write connection never checkpoints;
// the background checkpointer copies the WAL back after commits, restarts
// a WAL that a long reader let grow past its limit once the reader is
// done, and so keeps the WAL small.
func TestCheckpointsInBackground(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	results := make(chan ckptResult, 1024)
	const limit = 200
	db := openPath(t, filepath.Join(t.TempDir(), "troupe.db"), sqlite.WithWALLimit(limit),
		sqlite.WithCheckpointHook(func(mode string, logPages, copied int, err error) {
			select {
			case results <- ckptResult{mode, logPages, copied, err}:
			default:
			}
		}))
	if n, err := db.AutoCheckpoint(ctx); err != nil || n != 0 {
		t.Fatalf("write connection wal_autocheckpoint = %d, %v; want 0", n, err)
	}
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB: 4+ pages
	write := func(n int) {
		t.Helper()
		for i := range n {
			must(t, db.AppendLog(ctx, fmt.Sprintf("job%d", i%7), chunk))
		}
	}
	// await reads checkpoint results until ok accepts one.
	await := func(what string, ok func(ckptResult) bool) ckptResult {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			select {
			case r := <-results:
				if r.err != nil {
					t.Fatalf("%s checkpoint: %v", r.mode, r.err)
				}
				if ok(r) {
					return r
				}
			case <-deadline:
				t.Fatalf("no checkpoint %s within 60s", what)
			}
		}
	}

	write(20)
	await("copying everything", func(r ckptResult) bool { return r.logPages > 0 && r.copied == r.logPages })

	// A reader holds its snapshot while the WAL grows past the limit: the
	// checkpoints cannot copy the newer pages, and try a RESTART.
	release, err := db.ReadTx(ctx)
	must(t, err)
	write(2 * limit / 4)
	r := await("RESTART past the limit", func(r ckptResult) bool { return r.mode == "RESTART" })
	if r.logPages <= limit {
		t.Errorf("RESTART with %d pages in the WAL, limit %d", r.logPages, limit)
	}
	release()

	// Once the reader is done, a checkpoint copies all, and the next
	// writes start the WAL over: it is small again.
	write(1)
	await("copying the grown WAL", func(r ckptResult) bool { return r.logPages > limit && r.copied == r.logPages })
	write(1)
	await("of a restarted WAL", func(r ckptResult) bool { return r.logPages > 0 && r.logPages < limit/4 && r.copied == r.logPages })
}
