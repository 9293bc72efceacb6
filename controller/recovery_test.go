package controller_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/controller/controllertest"
)

// A server that stops leaves its runs RUNNING in the store. When it starts
// again (same instance name), it kills what is left of each run's process
// and restarts the run with the same id and storages, or ends it when its
// actor forbids restarts.
func TestRestartedServer(t *testing.T) {
	t.Parallel()
	const lost = "The run's process was lost when its troupe server stopped; troupe restarted it (migration)."
	for _, tc := range []struct {
		name string
		// gone says the old process died with the server.
		gone bool
	}{{name: "OrphanKilled"}, {name: "ProcessGone", gone: true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			old := b.newController("a", b.store, b.exec)
			must(t, old.Start(t.Context()))
			r, p1 := b.startRun(old)
			old.Stop(false)
			if tc.gone {
				p1.End(troupe.ExitStatus{Code: -1, Signal: "SIGKILL"})
			}

			b.controller("a")
			p2 := b.nextProcess()
			r = b.waitRun(r.ID, "the new process", func(r *troupe.Run) bool { return r.Control.PID == p2.PID() })
			if r.Status != troupe.StatusRunning || r.Control.Owner != "a" || r.Stats.MigrationCount != 1 {
				t.Errorf("recovered run: %s, owner %q, migrationCount %d", r.Status, r.Control.Owner, r.Stats.MigrationCount)
			}
			if got := deref(r.StatusMessage); got != lost {
				t.Errorf("status message = %q, want %q", got, lost)
			}
			want := controllertest.Orphan{PID: p1.PID(), StartTime: p1.StartTime(), Killed: !tc.gone}
			if got := b.exec.Orphans(); len(got) != 1 || got[0] != want {
				t.Errorf("orphans = %+v, want %+v", got, want)
			}
			if p1.Kills() != map[bool]int{false: 1, true: 0}[tc.gone] {
				t.Errorf("old process killed %d times", p1.Kills())
			}
			p2.ExitCode(0)
			r = b.waitStatus(r.ID, troupe.StatusSucceeded)
			wantEnd(t, r, troupe.StatusSucceeded, code(0), "Actor finished with exit code 0")
		})
	}
	t.Run("RestartsForbidden", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		old := b.newController("a", b.store, b.exec)
		must(t, old.Start(t.Context()))
		r, _ := b.startRun(old)
		old.Stop(false)
		_, err := b.store.UpdateActor(t.Context(), b.actor.ID, func(a *troupe.Actor) error {
			a.RestartsForbidden = true
			return nil
		})
		must(t, err)
		b.controller("a")
		r = b.waitStatus(r.ID, troupe.StatusFailed)
		wantEnd(t, r, troupe.StatusFailed, nil,
			"The run's process was lost when its troupe server stopped, and its actor does not allow restarts.")
	})
	t.Run("Aborting", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		old := b.newController("a", b.store, b.exec)
		must(t, old.Start(t.Context()))
		r, _ := b.startRun(old)
		b.change(old, r.ID, abort(true))
		b.nextEvent(r.ID)
		old.Stop(false)
		b.controller("a")
		r = b.waitStatus(r.ID, troupe.StatusAborted)
		wantEnd(t, r, troupe.StatusAborted, nil, "Run was aborted; its troupe server stopped while the abort was in progress.")
	})
}

// When an instance stops sending heartbeats for longer than the lease,
// another one takes over its runs: it kills the old process if it can and
// restarts the run as its own.
func TestLeaseTakeover(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newController("a", b.store, b.exec)
	must(t, a.Start(t.Context()))
	r, p1 := b.startRun(a)
	start := b.clock.Now()
	a.Stop(false) // a dies: its last heartbeat was at start; its process is left

	gate := &beatGate{Store: b.store, beats: make(chan time.Time), release: make(chan struct{})}
	other := b.newController("b", gate, b.exec)
	errc := make(chan error, 1)
	go func() { errc <- other.Start(t.Context()) }()
	controllertest.Receive(t, gate.beats, "b's first heartbeat")
	gate.release <- struct{}{}
	must(t, controllertest.Receive(t, errc, "b's start"))
	t.Cleanup(func() { other.Stop(true) })
	must(t, b.clock.BlockUntilContext(t.Context(), 1)) // b's heartbeat ticker

	// Each heartbeat is followed by a scan. Up to the end of the lease, b
	// leaves a's run alone; a heartbeat held at the gate means the scan
	// after the previous one is over and the next has not begun.
	for at := heartbeat; at <= leaseTTL+heartbeat; at += heartbeat {
		b.clock.Advance(heartbeat)
		if got := controllertest.Receive(t, gate.beats, "b's heartbeat"); got.Sub(start) != at {
			t.Fatalf("heartbeat %v after a's, want %v", got.Sub(start), at)
		}
		if p1.Kills() != 0 || len(b.exec.Orphans()) != 0 {
			t.Fatalf("b took over a's run %v after a's last heartbeat, within the lease", at-heartbeat)
		}
		gate.release <- struct{}{}
	}
	// The scan after the lease takes the run over.
	p2 := b.nextProcess()
	r = b.waitRun(r.ID, "b's process", func(r *troupe.Run) bool { return r.Control.PID == p2.PID() })
	if r.Status != troupe.StatusRunning || r.Control.Owner != "b" || r.Stats.MigrationCount != 1 {
		t.Errorf("taken-over run: %s, owner %q, migrationCount %d", r.Status, r.Control.Owner, r.Stats.MigrationCount)
	}
	if got := b.exec.Orphans(); len(got) != 1 || got[0].PID != p1.PID() || !got[0].Killed {
		t.Errorf("orphans = %+v, want a's process killed", got)
	}
	p2.ExitCode(0)
	r = b.waitStatus(r.ID, troupe.StatusSucceeded)
	wantEnd(t, r, troupe.StatusSucceeded, code(0), "Actor finished with exit code 0")
}

// beatGate holds each heartbeat until the test has received its time on
// beats and then sent on release; only then is it stored and the scan that
// follows it run.
type beatGate struct {
	troupe.Store
	beats   chan time.Time
	release chan struct{}
}

func (s *beatGate) Heartbeat(ctx context.Context, instance string, now time.Time) error {
	select {
	case s.beats <- now:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Heartbeat(ctx, instance, now)
}

// racyStore is a store in which another writer changes a run between the
// read and the write of the controller's next UpdateRun, as happens with
// several replicas on PostgreSQL. The write then fails with conflict, as a
// compare-and-set on the run's version does.
type racyStore struct {
	troupe.Store

	mu        sync.Mutex
	other     func(ctx context.Context, s troupe.Store)
	conflicts int
}

// interleave makes fn the other writer of the next UpdateRun.
func (s *racyStore) interleave(fn func(ctx context.Context, s troupe.Store)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.other = fn
}

// UpdateRunFrom goes through UpdateRun, so that the other writer
// interleaves there too.
func (s *racyStore) UpdateRunFrom(ctx context.Context, base *troupe.Run, fn troupe.RunMutation) (*troupe.Run, error) {
	return s.UpdateRun(ctx, base.ID, fn)
}

func (s *racyStore) UpdateRun(ctx context.Context, id string, fn troupe.RunMutation) (*troupe.Run, error) {
	s.mu.Lock()
	other := s.other
	s.other = nil
	s.mu.Unlock()
	if other == nil {
		return s.Store.UpdateRun(ctx, id, fn)
	}
	read, err := s.Store.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	other(ctx, s.Store)
	return s.Store.UpdateRun(ctx, id, func(r *troupe.Run, tx troupe.StorageTx) error {
		if r.Version != read.Version {
			s.mu.Lock()
			s.conflicts++
			s.mu.Unlock()
			return troupe.Errorf(troupe.ErrConflict, "Run %s was changed at the same time; try again.", id)
		}
		return fn(r, tx)
	})
}

func (s *racyStore) conflicted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conflicts
}

// A compare-and-set conflict makes the controller read the run again and
// decide on what it finds: the other writer's change is never lost.
func TestConflict(t *testing.T) {
	t.Parallel()
	userAborts := func(b *bundle, id string) func(ctx context.Context, s troupe.Store) {
		return func(ctx context.Context, s troupe.Store) {
			_, err := s.UpdateRun(ctx, id, func(r *troupe.Run, _ troupe.StorageTx) error {
				return abort(false)(r, b.clock.Now())
			})
			if err != nil {
				b.t.Errorf("abort: %v", err)
			}
		}
	}
	t.Run("ExitWhileAborted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		racy := &racyStore{Store: b.store}
		c := b.newController("a", racy, b.exec)
		must(t, c.Start(t.Context()))
		t.Cleanup(func() { c.Stop(true) })
		r, p := b.startRun(c)
		// The process exits 0 while the user aborts the run: the abort
		// wins, and the exit code is kept.
		racy.interleave(userAborts(b, r.ID))
		p.ExitCode(0)
		r = b.waitStatus(r.ID, troupe.StatusAborted)
		wantEnd(t, r, troupe.StatusAborted, code(0), "Run was aborted")
		if racy.conflicted() != 1 {
			t.Errorf("%d conflicts, want 1", racy.conflicted())
		}
	})
	t.Run("StartWhileAborted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		racy := &racyStore{Store: b.store}
		c := b.newController("a", racy, b.exec)
		must(t, c.Start(t.Context()))
		t.Cleanup(func() { c.Stop(true) })
		// The user aborts the READY run while its process starts: the
		// run stays ABORTED and the process is killed.
		r, input, err := troupe.NewRun(troupe.NewRunParams{Actor: b.actor, Build: b.build, Now: b.clock.Now()})
		must(t, err)
		must(t, b.store.CreateRun(t.Context(), r, input))
		racy.interleave(userAborts(b, r.ID))
		c.Wake(r.ID)
		p := b.nextProcess()
		controllertest.Receive(t, p.Killed(), "the unwanted process to be killed")
		r = b.waitStatus(r.ID, troupe.StatusAborted)
		wantEnd(t, r, troupe.StatusAborted, nil, "Run was aborted")
		if racy.conflicted() != 1 {
			t.Errorf("%d conflicts, want 1", racy.conflicted())
		}
	})
}

// A run that the instance which accepted it never claimed (it died right
// after) is started by an instance that sees it unclaimed in two scans in a
// row.
func TestUnclaimedRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	gate := &beatGate{Store: b.store, beats: make(chan time.Time), release: make(chan struct{})}
	c := b.newController("a", gate, b.exec)
	errc := make(chan error, 1)
	go func() { errc <- c.Start(t.Context()) }()
	controllertest.Receive(t, gate.beats, "the first heartbeat")
	gate.release <- struct{}{}
	must(t, controllertest.Receive(t, errc, "the start"))
	t.Cleanup(func() { c.Stop(true) })
	must(t, b.clock.BlockUntilContext(t.Context(), 1))

	r, input, err := troupe.NewRun(troupe.NewRunParams{Actor: b.actor, Build: b.build, Now: b.clock.Now()})
	must(t, err)
	must(t, b.store.CreateRun(t.Context(), r, input)) // and nobody is woken

	b.clock.Advance(heartbeat)
	controllertest.Receive(t, gate.beats, "a heartbeat")
	gate.release <- struct{}{} // the first scan sees the run unclaimed
	b.clock.Advance(heartbeat)
	controllertest.Receive(t, gate.beats, "a heartbeat")
	controllertest.NoValue(t, b.exec.Started(), "process started after one scan")
	gate.release <- struct{}{} // the second scan starts it
	p := b.nextProcess()
	r = b.waitStatus(r.ID, troupe.StatusRunning)
	if r.Control.Owner != "a" || r.Control.PID != p.PID() {
		t.Errorf("run: owner %q, pid %d; want a, %d", r.Control.Owner, r.Control.PID, p.PID())
	}
}

// An instance that cannot reach the store for longer than the lease kills
// its runs' processes, since another instance may take them over: a run
// never has two processes. The run itself is left for whoever reaches the
// store first.
func TestStoreOutageKillsProcesses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	st := &outage{Store: b.store}
	c := b.newController("a", st, b.exec)
	must(t, c.Start(t.Context()))
	t.Cleanup(func() { c.Stop(true) })
	r, p := b.startRun(c)
	must(t, b.clock.BlockUntilContext(t.Context(), 1)) // the heartbeat ticker

	st.down.Store(true)
	b.clock.Advance(leaseTTL + heartbeat)
	controllertest.Receive(t, p.Killed(), "the process to be killed")
	got, err := b.store.GetRun(t.Context(), r.ID)
	must(t, err)
	if got.Status != troupe.StatusRunning || got.Control.Owner != "a" {
		t.Errorf("run after the outage: %s, owner %q; want it left RUNNING", got.Status, got.Control.Owner)
	}
}

// outage is a store that fails every call while down is set.
type outage struct {
	troupe.Store
	down atomic.Bool
}

var errDown = errors.New("store unreachable")

func (s *outage) Heartbeat(ctx context.Context, instance string, now time.Time) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.Heartbeat(ctx, instance, now)
}

func (s *outage) Instances(ctx context.Context) (map[string]time.Time, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.Instances(ctx)
}

func (s *outage) ActiveRuns(ctx context.Context) ([]*troupe.Run, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.ActiveRuns(ctx)
}

func (s *outage) GetRun(ctx context.Context, id string) (*troupe.Run, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.GetRun(ctx, id)
}

func (s *outage) UpdateRunFrom(ctx context.Context, base *troupe.Run, fn troupe.RunMutation) (*troupe.Run, error) {
	return s.UpdateRun(ctx, base.ID, fn)
}

func (s *outage) UpdateRun(ctx context.Context, id string, fn troupe.RunMutation) (*troupe.Run, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.UpdateRun(ctx, id, fn)
}
