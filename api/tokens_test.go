package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
)

// asRun sends a request with a run token; kv are header name/value pairs.
func (b *bundle) asRun(tok, method, path string, body []byte, kv ...string) response {
	b.t.Helper()
	h := http.Header{"Authorization": {"Bearer " + tok}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return b.raw(method, path, body, h)
}

// finishedAgo moves a finished run's finishedAt back by d, so that the
// next requests arrive d after the run finished.
func (b *bundle) finishedAgo(id string, d time.Duration) {
	b.t.Helper()
	b.mutate(id, func(r *troupe.Run) error {
		at := r.FinishedAt.Add(-d)
		r.FinishedAt = &at
		return nil
	})
}

// TestRunTokenLifetime checks that a run's token works while the run is
// live and answers 401 invalid-token once the run has finished (each final
// status), was resurrected (the old token), was deleted, or the signing
// secret changed.
func TestRunTokenLifetime(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("lifetime", "")

	t.Run("Finished", func(t *testing.T) {
		for _, end := range []func(id string){
			func(id string) { b.finish(id, 0) },
			func(id string) { b.finish(id, 1) },
			func(id string) {
				b.call("POST", "/v2/actor-runs/"+id+"/abort", nil).ok(t, 200, nil)
			},
			func(id string) {
				b.mutate(id, func(r *troupe.Run) error { return r.BeginTimeout() })
				b.finish(id, 0)
			},
		} {
			run := b.running(b.start(a.ID, "", nil, "").ID)
			tok := troupe.RunToken(runSecret, run)
			b.asRun(tok, "GET", "/v2/actor-runs/"+run.ID, nil).ok(t, 200, nil)
			end(run.ID)
			b.finishedAgo(run.ID, time.Second)
			var got troupe.Run
			b.call("GET", "/v2/actor-runs/"+run.ID, nil).ok(t, 200, &got)
			if !got.Status.Terminal() {
				t.Fatalf("run is %s", got.Status)
			}
			b.asRun(tok, "GET", "/v2/actor-runs/"+run.ID, nil).fails(t, 401, "invalid-token")
			b.asRun(tok, "GET", "/v2/actor-runs/"+run.ID+"/key-value-store/records/INPUT", nil).fails(t, 401, "invalid-token")
			b.raw("GET", "/v2/actor-runs/"+run.ID+"/events?token="+tok, nil, nil).fails(t, 401, "invalid-token")
		}
	})
	t.Run("RequestBeforeFinish", func(t *testing.T) {
		// A request that reached the server before the run finished still
		// counts (the SDK sends its last status message and exits).
		run := b.running(b.start(a.ID, "", nil, "").ID)
		tok := troupe.RunToken(runSecret, run)
		b.mutate(run.ID, func(r *troupe.Run) error {
			if err := r.Finish(0, troupe.Now()); err != nil {
				return err
			}
			later := troupe.Now().Add(time.Minute)
			r.FinishedAt = &later
			return nil
		})
		var got troupe.Run
		b.asRun(tok, "PUT", "/v2/actor-runs/"+run.ID, []byte(`{"statusMessage":"last words","isStatusMessageTerminal":true}`),
			"Content-Type", "application/json").ok(t, 200, &got)
		if got.StatusMessage == nil || *got.StatusMessage != "last words" {
			t.Errorf("status message = %v", got.StatusMessage)
		}
	})
	t.Run("Resurrected", func(t *testing.T) {
		run := b.running(b.start(a.ID, "", nil, "").ID)
		old := troupe.RunToken(runSecret, run)
		b.finish(run.ID, 1)
		var got troupe.Run
		b.call("POST", "/v2/actor-runs/"+run.ID+"/resurrect", nil).ok(t, 200, &got)
		b.asRun(old, "GET", "/v2/actor-runs/"+run.ID, nil).fails(t, 401, "invalid-token")
		b.asRun(troupe.RunToken(runSecret, &got), "GET", "/v2/actor-runs/"+run.ID, nil).ok(t, 200, nil)
	})
	t.Run("Deleted", func(t *testing.T) {
		run := b.running(b.start(a.ID, "", nil, "").ID)
		tok := troupe.RunToken(runSecret, run)
		b.finish(run.ID, 0)
		b.call("DELETE", "/v2/actor-runs/"+run.ID, nil).ok(t, 204, nil)
		b.asRun(tok, "GET", "/v2/actor-runs/"+run.ID, nil).fails(t, 401, "invalid-token")
	})
	t.Run("Rotated", func(t *testing.T) {
		// A server whose secret changed (started with another admin token)
		// refuses the tokens signed with the old one.
		newSecret := troupe.RunTokenSecret("the new admin token")
		rotated := setup(t, false, func(c *api.Config) { c.RunTokenSecret = newSecret })
		ra := rotated.actor("rotated", "")
		run := rotated.running(rotated.start(ra.ID, "", nil, "").ID)
		rotated.asRun(troupe.RunToken(runSecret, run), "GET", "/v2/actor-runs/"+run.ID, nil).fails(t, 401, "invalid-token")
		rotated.asRun(troupe.RunToken(newSecret, run), "GET", "/v2/actor-runs/"+run.ID, nil).ok(t, 200, nil)
	})
}
