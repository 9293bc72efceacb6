package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/troupehq/troupe"
)

// A marked append keeps its text and its mark together; the last mark is
// the one of the latest marked append, whatever unmarked appends follow.
func testLogMarks(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	if m, err := s.LastLogMark(ctx, "job"); err != nil || m != (troupe.LogMark{}) {
		t.Fatalf("LastLogMark of an empty log = %+v, %v; want zero", m, err)
	}
	must(t, s.AppendLog(ctx, "job", []byte("[troupe] starting\n")))
	if m, err := s.LastLogMark(ctx, "job"); err != nil || m != (troupe.LogMark{}) {
		t.Fatalf("LastLogMark without a marked append = %+v, %v; want zero", m, err)
	}
	must(t, s.AppendMarkedLog(ctx, "job", []byte("a\nb\n"), troupe.LogMark{Generation: 1, Lines: 2}))
	must(t, s.AppendMarkedLog(ctx, "other", []byte("x\n"), troupe.LogMark{Generation: 5, Lines: 9}))
	must(t, s.AppendMarkedLog(ctx, "job", []byte("c\n"), troupe.LogMark{Generation: 1, Lines: 3}))
	must(t, s.AppendLog(ctx, "job", []byte("[troupe] restarting\n")))
	if m, err := s.LastLogMark(ctx, "job"); err != nil || m != (troupe.LogMark{Generation: 1, Lines: 3}) {
		t.Fatalf("LastLogMark = %+v, %v; want generation 1, 3 lines", m, err)
	}
	must(t, s.AppendMarkedLog(ctx, "job", []byte("d\n"), troupe.LogMark{Generation: 2, Lines: 1}))
	if m, err := s.LastLogMark(ctx, "job"); err != nil || m != (troupe.LogMark{Generation: 2, Lines: 1}) {
		t.Fatalf("LastLogMark = %+v, %v; want generation 2, 1 line", m, err)
	}
	text, _, err := s.ReadLog(ctx, "job", 0)
	must(t, err)
	if string(text) != "[troupe] starting\na\nb\nc\n[troupe] restarting\nd\n" {
		t.Fatalf("log = %q", text)
	}
}

func testLogAppendRead(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	text, seq, err := s.ReadLog(ctx, "job", 0)
	must(t, err)
	if len(text) != 0 || seq != 0 {
		t.Fatalf("empty log read as %q, seq %d; want nothing, 0", text, seq)
	}

	must(t, s.AppendLog(ctx, "job", []byte("one\n")))
	must(t, s.AppendLog(ctx, "other", []byte("not mine\n")))
	must(t, s.AppendLog(ctx, "job", []byte("two\nthree\n")))
	text, seq1, err := s.ReadLog(ctx, "job", 0)
	must(t, err)
	if string(text) != "one\ntwo\nthree\n" || seq1 <= 0 {
		t.Fatalf("ReadLog = %q, seq %d", text, seq1)
	}

	text, seq2, err := s.ReadLog(ctx, "job", seq1)
	must(t, err)
	if len(text) != 0 || seq2 != seq1 {
		t.Fatalf("ReadLog after the end = %q, seq %d; want nothing, %d", text, seq2, seq1)
	}

	must(t, s.AppendLog(ctx, "job", []byte("four\n")))
	text, seq3, err := s.ReadLog(ctx, "job", seq1)
	must(t, err)
	if string(text) != "four\n" || seq3 <= seq1 {
		t.Fatalf("ReadLog after %d = %q, seq %d", seq1, text, seq3)
	}
	text, _, err = s.ReadLog(ctx, "job", 0)
	must(t, err)
	if string(text) != "one\ntwo\nthree\nfour\n" {
		t.Fatalf("whole log = %q", text)
	}
	text, _, err = s.ReadLog(ctx, "other", 0)
	must(t, err)
	if string(text) != "not mine\n" {
		t.Fatalf("other job's log = %q", text)
	}

	// Concurrent appenders: every line arrives exactly once, and a reader
	// that follows the sequence numbers sees each line once.
	const writers, lines = 4, 25
	ch, stop := s.WatchLog("busy")
	defer stop()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				if err := s.AppendLog(ctx, "busy", fmt.Appendf(nil, "w%d-%d\n", w, i)); err != nil {
					t.Errorf("AppendLog: %v", err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var followed strings.Builder
	var after int64
	follow := func() {
		text, next, err := s.ReadLog(ctx, "busy", after)
		must(t, err)
		followed.Write(text)
		after = next
	}
	for finished := false; !finished; {
		follow()
		select {
		case <-ch:
		case <-done:
			follow()
			finished = true
		}
	}
	got := strings.Split(strings.TrimSuffix(followed.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("followed %d lines, want %d", len(got), writers*lines)
	}
	seen := map[string]bool{}
	for _, l := range got {
		if seen[l] {
			t.Fatalf("line %q read twice", l)
		}
		seen[l] = true
	}
	// Each writer's lines are in its own order.
	next := make([]int, writers)
	for _, l := range got {
		var w, i int
		if _, err := fmt.Sscanf(l, "w%d-%d", &w, &i); err != nil {
			t.Fatalf("bad line %q", l)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d read before line %d", w, i, next[w])
		}
		next[w]++
	}
}

// testLogReadInParts: a log longer than troupe.LogReadBytes is read in
// several calls, each returning whole chunks, and nothing is lost.
func testLogReadInParts(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	chunk := troupe.LogReadBytes/2 + 1000
	var want strings.Builder
	for i := range 5 {
		line := strings.Repeat(string(rune('a'+i)), chunk-1) + "\n"
		must(t, s.AppendLog(ctx, "long", []byte(line)))
		want.WriteString(line)
	}
	var got strings.Builder
	var after int64
	calls := 0
	for {
		text, next, err := s.ReadLog(ctx, "long", after)
		must(t, err)
		if len(text) == 0 {
			break
		}
		calls++
		if len(text) > 2*chunk || len(text)%chunk != 0 {
			t.Fatalf("call %d read %d bytes; want whole chunks of %d, at most two", calls, len(text), chunk)
		}
		got.Write(text)
		after = next
	}
	if got.String() != want.String() {
		t.Fatalf("the log read in parts differs from what was written (%d bytes, want %d)", got.Len(), want.Len())
	}
	if calls != 3 {
		t.Fatalf("read the log in %d calls; want 3 (two chunks, two chunks, one)", calls)
	}
}
