package controller_test

import (
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/controller"
	"github.com/troupehq/troupe/controller/controllertest"
)

const migrated = "The run's process was lost when its troupe server stopped; troupe restarted it (migration)."

// migrate calls c.Migrate(grace) and returns a channel closed when it
// returns.
func migrate(c *controller.Controller, grace time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Migrate(grace)
	}()
	return done
}

// nextEventOf returns the next event sent to a run's process.
func (b *bundle) nextEventOf(runID string) controllertest.Event {
	b.t.Helper()
	ev := controllertest.Receive(b.t, b.events.Sent(), "an event")
	if ev.RunID != runID {
		b.t.Fatalf("event %s went to run %s, want %s", ev.Name, ev.RunID, runID)
	}
	return ev
}

// A stopping server tells its runs to migrate, waits the grace period,
// kills what is left without ending the runs, and the next start restarts
// them with the same id and storages.
func TestMigrate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	old := b.newController("a", b.store, b.exec)
	must(t, old.Start(t.Context()))
	r, p1 := b.startRun(old)

	done := migrate(old, 10*time.Second)
	ev := b.nextEventOf(r.ID)
	if data, _ := ev.Data.(map[string]int); ev.Name != "migrating" || data["timeRemainingSecs"] != 10 {
		t.Errorf("first event %s %v, want migrating {timeRemainingSecs: 10}", ev.Name, ev.Data)
	}
	ev = b.nextEventOf(r.ID)
	if data, _ := ev.Data.(map[string]bool); ev.Name != "persistState" || !data["isMigrating"] {
		t.Errorf("second event %s %v, want persistState {isMigrating: true}", ev.Name, ev.Data)
	}
	if old.Running() {
		t.Error("a migrating controller reports itself running (ready)")
	}
	// A run created now waits for the next start.
	ready := b.createRun(old)

	// Migrate waits out the grace period (its timer and the heartbeat's).
	must(t, b.clock.BlockUntilContext(t.Context(), 2))
	select {
	case <-done:
		t.Fatal("Migrate returned before the grace period while a process lives")
	default:
	}
	b.clock.Advance(10 * time.Second)
	controllertest.Receive(t, done, "Migrate to return after the grace period")
	old.Stop(true)
	controllertest.Receive(t, p1.Killed(), "the process to be killed")
	controllertest.NoValue(t, b.exec.Started(), "process started while migrating")
	if got, _ := b.store.GetRun(t.Context(), r.ID); got.Status != troupe.StatusRunning {
		t.Fatalf("after the stop the run is %s, want RUNNING", got.Status)
	}
	b.wantLog(r.ID, "[troupe] troupe is stopping: the run was told to migrate; it will be stopped in 10s")

	// The next start restarts it, and starts the waiting one.
	b.controller("a")
	p2 := b.nextProcess()
	// READY runs nobody claimed start at the second scan.
	must(t, b.clock.BlockUntilContext(t.Context(), 1))
	b.clock.Advance(heartbeat)
	p3 := b.nextProcess()
	if p2.Env("ACTOR_RUN_ID") != r.ID {
		p2, p3 = p3, p2
	}
	got := b.waitRun(r.ID, "the new process", func(r *troupe.Run) bool { return r.Control.PID == p2.PID() })
	if got.Status != troupe.StatusRunning || got.Stats.MigrationCount != 1 || deref(got.StatusMessage) != migrated ||
		p2.Env("ACTOR_DEFAULT_KEY_VALUE_STORE_ID") != r.DefaultKeyValueStoreID {
		t.Errorf("restarted run: %s, migrationCount %d, message %q", got.Status, got.Stats.MigrationCount, deref(got.StatusMessage))
	}
	if p3.Env("ACTOR_RUN_ID") != ready.ID {
		t.Errorf("second process is of run %s, want %s", p3.Env("ACTOR_RUN_ID"), ready.ID)
	}
	p2.ExitCode(0)
	wantEnd(t, b.waitStatus(r.ID, troupe.StatusSucceeded), troupe.StatusSucceeded, code(0), "Actor finished with exit code 0")
}

// The JS SDK reboots its run on migrating: the process is stopped at once,
// no new one starts, and Migrate returns without waiting out the grace
// period. A process that exits by itself meanwhile ends its run.
func TestMigrateReboot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	old := b.newController("a", b.store, b.exec)
	must(t, old.Start(t.Context()))
	r, p1 := b.startRun(old)
	other, p2 := b.startRun(old)

	done := migrate(old, time.Minute)
	for range 4 { // two events to each run (checked in TestMigrate)
		controllertest.Receive(t, b.events.Sent(), "an event")
	}
	b.change(old, r.ID, func(r *troupe.Run, now time.Time) error { return r.Reboot(now) })
	controllertest.Receive(t, p1.Killed(), "the rebooted process to be killed")
	p2.ExitCode(0)
	controllertest.Receive(t, done, "Migrate to return once no process is left")
	old.Stop(true)
	controllertest.NoValue(t, b.exec.Started(), "process started while migrating")
	wantEnd(t, b.waitStatus(other.ID, troupe.StatusSucceeded), troupe.StatusSucceeded, code(0), "Actor finished with exit code 0")

	b.controller("a")
	p3 := b.nextProcess()
	got := b.waitRun(r.ID, "the new process", func(r *troupe.Run) bool { return r.Control.PID == p3.PID() })
	if got.Stats.MigrationCount != 1 || got.Stats.RebootCount != 1 || got.Status != troupe.StatusRunning {
		t.Errorf("restarted run: %s, migrationCount %d, rebootCount %d", got.Status, got.Stats.MigrationCount, got.Stats.RebootCount)
	}
}

// After a migration another replica takes the runs over at its next scan,
// not only after the lease.
func TestMigrateToReplica(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newController("a", b.store, b.exec)
	must(t, a.Start(t.Context()))
	r, p1 := b.startRun(a)
	b.controller("b")
	a.Migrate(0)
	a.Stop(true)
	controllertest.Receive(t, p1.Killed(), "a's process to be killed")
	// b's heartbeat ticker (a's is gone): one interval, well within the lease.
	must(t, b.clock.BlockUntilContext(t.Context(), 1))
	b.clock.Advance(heartbeat)
	p2 := b.nextProcess()
	got := b.waitRun(r.ID, "b's process", func(r *troupe.Run) bool { return r.Control.PID == p2.PID() })
	if got.Control.Owner != "b" || got.Stats.MigrationCount != 1 || got.Status != troupe.StatusRunning {
		t.Errorf("taken over run: owner %q, migrationCount %d, %s", got.Control.Owner, got.Stats.MigrationCount, got.Status)
	}
}
