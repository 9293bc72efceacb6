package logsink_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/logsink"
	"github.com/troupehq/troupe/sqlite"
)

// chunks is the real store, recording the size of each append.
type chunks struct {
	troupe.Store
	mu    sync.Mutex
	sizes []int
}

func (c *chunks) AppendLog(ctx context.Context, id string, text []byte) error {
	c.mu.Lock()
	c.sizes = append(c.sizes, len(text))
	c.mu.Unlock()
	return c.Store.AppendLog(ctx, id, text)
}

func open(t *testing.T) *chunks {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "troupe.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &chunks{Store: db}
}

// TestCapAndChunks: a flood keeps MaxBytes and a notice, every line whole
// and in order, written in appends of about 1 MB at most.
func TestCapAndChunks(t *testing.T) {
	t.Parallel()
	st := open(t)
	s := logsink.New(t.Context(), st, "job", nil, nil)
	const lines = 400_000 // 400,000 lines of 44 bytes: 17.6 MB
	for i := range lines {
		s.Line(fmt.Sprintf("line %09d", i))
	}
	if !s.Truncated() {
		t.Error("Truncated() = false after a flood")
	}
	s.Close()

	var log strings.Builder
	var after int64
	for {
		text, next, err := st.ReadLog(t.Context(), "job", after)
		if err != nil {
			t.Fatal(err)
		}
		if len(text) == 0 {
			break
		}
		log.Write(text)
		after = next
	}
	got := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
	if log.Len() > logsink.MaxBytes+200 || log.Len() < logsink.MaxBytes-100 {
		t.Errorf("log has %d bytes; want the cap, %d, and a notice", log.Len(), logsink.MaxBytes)
	}
	if last := got[len(got)-1]; !strings.HasSuffix(last, "[troupe] The log reached its size limit; further output is dropped.") {
		t.Errorf("last line = %q; want the notice", last)
	}
	for i, l := range got[:len(got)-1] {
		if want := fmt.Sprintf(" line %09d", i); !strings.HasSuffix(l, want) {
			t.Fatalf("line %d = %q; want it to end %q", i, l, want)
		}
	}
	for _, n := range st.sizes {
		if n > 1<<20 {
			t.Fatalf("an append wrote %d bytes; want at most 1 MB", n)
		}
	}
}
