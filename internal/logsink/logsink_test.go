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

// marked is the real store, checking that each marked chunk's mark counts
// the process lines ("out …") of the log up to and including it.
type marked struct {
	troupe.Store
	t      *testing.T
	mu     sync.Mutex
	lines  int64 // process lines appended so far
	marked int   // marked appends
}

func (m *marked) AppendLog(ctx context.Context, id string, text []byte) error {
	m.count(text)
	return m.Store.AppendLog(ctx, id, text)
}

func (m *marked) AppendMarkedLog(ctx context.Context, id string, text []byte, mark troupe.LogMark) error {
	n := m.count(text)
	m.mu.Lock()
	m.marked++
	m.mu.Unlock()
	if want := (troupe.LogMark{Generation: 2, Lines: 10 + n}); mark != want {
		m.t.Errorf("chunk ending with process line %d marked %+v, want %+v", n, mark, want)
	}
	return m.Store.AppendMarkedLog(ctx, id, text, mark)
}

func (m *marked) count(text []byte) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	for line := range strings.Lines(string(text)) {
		if strings.Contains(line, " out ") {
			m.lines++
		}
	}
	return m.lines
}

// TestMarks: every chunk holding process lines records how many of them the
// log holds, counted on from Resume, whatever the chunking and the lines of
// troupe in between.
func TestMarks(t *testing.T) {
	t.Parallel()
	st := &marked{Store: open(t).Store, t: t}
	s := logsink.New(t.Context(), st, "run", nil, nil)
	s.Resume(troupe.LogMark{Generation: 2, Lines: 10})
	const lines = 60_000 // about 2.6 MB: several chunks
	for i := range lines {
		s.ProcessLine(2, fmt.Sprintf("out %09d", i))
		if i%1000 == 0 {
			s.System("note")
		}
	}
	s.System("last")
	s.Close()
	if st.marked < 3 {
		t.Errorf("%d marked appends, want one per chunk of about 1 MB", st.marked)
	}
	m, err := st.LastLogMark(t.Context(), "run")
	if err != nil || m != (troupe.LogMark{Generation: 2, Lines: 10 + lines}) {
		t.Errorf("LastLogMark = %+v, %v; want generation 2, %d lines", m, err, 10+lines)
	}
}
