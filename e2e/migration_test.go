package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe/client"
)

// TestMigrationOnSIGTERM stops a server with SIGTERM while a run is live:
// the run's process is sent migrating and persistState {isMigrating:true},
// the server waits the migration grace period for it, and the next start
// restarts the run with the same id and storages.
func TestMigrationOnSIGTERM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const grace = 3 * time.Second
	s, err := launch(dir, "--migration-grace", grace.String())
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := s.waitExamples(ctx); err != nil {
		t.Fatal(err)
	}
	// The graceful example logs every event and exits only on aborting.
	run := s.start(t, "graceful", "", nil)
	s.waitLog(t, run.ID, "connected to the events websocket")
	stopped := time.Now()
	s.stop()
	if took := time.Since(stopped); took < grace {
		t.Errorf("server stopped %v after SIGTERM, before the migration grace of %v", took, grace)
	}

	s2, err := launch(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.stop()
	got, err := s2.c.Run(run.ID).Get(ctx)
	if err != nil || got == nil {
		t.Fatalf("run lost after the restart: %v %v", got, err)
	}
	wantStatus(t, got, client.StatusRunning)
	if got.Stats.MigrationCount != 1 || got.DefaultKeyValueStoreID != run.DefaultKeyValueStoreID {
		t.Errorf("after restart: migrationCount %d, kvs %s (was %s)", got.Stats.MigrationCount, got.DefaultKeyValueStoreID, run.DefaultKeyValueStoreID)
	}
	waitCount(t, s2, run.ID, "connected to the events websocket", 2)
	log := s2.log(t, run.ID)
	for _, want := range []string{"event migrating", "event persistState", "troupe is stopping: the run was told to migrate"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if _, err := s2.c.Run(run.ID).Abort(ctx, false); err != nil {
		t.Fatal(err)
	}
}
