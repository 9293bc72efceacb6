package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/controller"
)

// heldWrites is a controller.RunWrites with one update of a run under way
// until the test releases it.
type heldWrites struct {
	runID   string
	waiting chan time.Duration // the controller started waiting, with its bound
	release chan struct{}
}

func (h *heldWrites) Wait(ctx context.Context, runID string, max time.Duration) {
	if runID != h.runID {
		return
	}
	h.waiting <- max
	select {
	case <-h.release:
	case <-ctx.Done():
	}
}

// TestEndWaitsForTheActorsLastUpdate: an actor sets its final status
// message and exits at once; the update can still be under way when the
// process's end is seen. The run's end is recorded only after it, so the
// actor's message is the run's final one, not troupe's default.
func TestEndWaitsForTheActorsLastUpdate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	held := &heldWrites{waiting: make(chan time.Duration, 1), release: make(chan struct{})}
	cfg := b.config("a", b.store, b.exec)
	cfg.RunWrites = held
	c := controller.New(cfg)
	must(t, c.Start(t.Context()))
	t.Cleanup(func() { c.Stop(true) })
	r := b.createRun(c)
	held.runID = r.ID
	p := b.nextProcess()
	b.waitStatus(r.ID, troupe.StatusRunning)

	p.ExitCode(0)
	select {
	case max := <-held.waiting:
		if max != controller.RunWriteWait {
			t.Errorf("waited with bound %v, want %v", max, controller.RunWriteWait)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the controller did not wait for the run's updates under way")
	}
	// The update under way lands while the controller waits.
	_, err := b.store.UpdateRun(t.Context(), r.ID, func(run *troupe.Run, _ troupe.StorageTx) error {
		if run.Status != troupe.StatusRunning {
			t.Errorf("run is %s before its last update landed", run.Status)
		}
		terminal := true
		run.SetStatusMessage("done!", &terminal)
		return nil
	})
	must(t, err)
	close(held.release)
	got := b.waitStatus(r.ID, troupe.StatusSucceeded)
	if got.StatusMessage == nil || *got.StatusMessage != "done!" {
		t.Fatalf("final status message = %v, want the actor's done!", got.StatusMessage)
	}
}
