package api_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
)

// finishingController is the fake controller plus the runs it says it
// ended (FinishedRun), as the real controller keeps them.
type finishingController struct {
	*fakeController
	mu   sync.Mutex
	runs map[string]*troupe.Run
}

func (c *finishingController) FinishedRun(id string) (*troupe.Run, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.runs[id]
	if !ok {
		return nil, false
	}
	cp := *r
	return &cp, true
}

// A finished run a client waits for is answered from the controller's copy
// while the stored run is still that version, and from the store once it
// has moved on.
func TestWaitTakesTheControllersFinishedRun(t *testing.T) {
	t.Parallel()
	var fc *finishingController
	b := setup(t, true, func(cfg *api.Config) {
		fc = &finishingController{fakeController: cfg.Controller.(*fakeController), runs: map[string]*troupe.Run{}}
		cfg.Controller = fc
	})
	a := b.actor("finished", "")
	run := b.start(a.ID, "", []byte(`{}`), "application/json")
	b.running(run.ID)
	done := b.finish(run.ID, 0)
	// The controller's copy is marked so that the answer tells where it
	// came from.
	mine := *done
	mine.ContainerURL = "http://controller-copy"
	fc.mu.Lock()
	fc.runs[run.ID] = &mine
	fc.mu.Unlock()

	var got troupe.Run
	b.call(http.MethodGet, "/v2/actor-runs/"+run.ID+"?waitForFinish=5", nil).ok(t, http.StatusOK, &got)
	if got.ContainerURL != "http://controller-copy" || got.Status != troupe.StatusSucceeded {
		t.Fatalf("answer: status %s, containerUrl %q; want the controller's copy", got.Status, got.ContainerURL)
	}

	// A status message after the end moves the stored version on: the
	// controller's copy is stale and the store answers.
	b.mutate(run.ID, func(r *troupe.Run) error { r.SetStatusMessage("later", nil); return nil })
	got = troupe.Run{}
	b.call(http.MethodGet, "/v2/actor-runs/"+run.ID+"?waitForFinish=5", nil).ok(t, http.StatusOK, &got)
	if got.ContainerURL == "http://controller-copy" || got.StatusMessage == nil || *got.StatusMessage != "later" {
		t.Fatalf("answer after a later change: containerUrl %q, statusMessage %v; want the stored run", got.ContainerURL, got.StatusMessage)
	}
}
