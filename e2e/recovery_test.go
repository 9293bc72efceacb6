package e2e_test

import (
	"bufio"
	"context"
	"github.com/troupehq/troupe/client"
	"strings"
	"testing"
	"time"
)

// TestCrashRecovery kills the server with SIGKILL while runs are live and
// starts it again on the same data: no run is lost. A RUNNING run is
// restarted with the same id and storages; one that was being aborted ends
// ABORTED; each says why in its status message.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := launch(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := s.waitExamples(ctx); err != nil {
		t.Fatal(err)
	}
	running := s.start(t, "sleeper", "", nil)
	s.waitLog(t, running.ID, "tick 1")
	aborting := s.start(t, "graceful", "", nil)
	s.waitLog(t, aborting.ID, "connected to the events websocket")
	// The graceful actor's handler is slow enough that the abort is still in
	// progress when the server dies: block it by crashing at once.
	if _, err := s.c.Run(aborting.ID).Abort(ctx, true); err != nil {
		t.Fatal(err)
	}
	s.crash()

	s2, err := launch(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.stop()
	got, err := s2.c.Run(running.ID).Get(ctx)
	if err != nil || got == nil {
		t.Fatalf("run lost after the crash: %v %v", got, err)
	}
	wantStatus(t, got, client.StatusRunning)
	if got.Stats.MigrationCount != 1 || !strings.Contains(message(got), "restarted") ||
		got.DefaultKeyValueStoreID != running.DefaultKeyValueStoreID {
		t.Errorf("after restart: migrationCount %d, message %q, kvs %s", got.Stats.MigrationCount, message(got), got.DefaultKeyValueStoreID)
	}
	waitCount(t, s2, running.ID, "sleeping 300s", 2)

	ab := s2.finish(t, aborting.ID)
	wantStatus(t, ab, client.StatusAborted)
	if message(ab) == "" {
		t.Error("aborted run has no status message")
	}
	if _, err := s2.c.Run(running.ID).Abort(ctx, false); err != nil {
		t.Fatal(err)
	}
}

// waitCount waits until the run's log holds want n times, following the
// log's stream.
func waitCount(t *testing.T, s *server, runID, want string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testCtx(t), 30*time.Second)
	defer cancel()
	stream, err := s.c.Run(runID).Log().Stream(ctx)
	if err != nil {
		t.Fatalf("stream log: %v", err)
	}
	defer stream.Close()
	sc := bufio.NewScanner(stream)
	seen := 0
	for sc.Scan() {
		if seen += strings.Count(sc.Text(), want); seen >= n {
			return
		}
	}
	t.Fatalf("log of %s never had %q %d times:\n%s", runID, want, n, s.log(t, runID))
}
