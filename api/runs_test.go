package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
)

func TestGetRun(t *testing.T) {
	t.Parallel()
	b := setup(t, true, func(c *api.Config) { c.MaxWait = 60 * time.Second })
	a := b.actor("getter", "")

	t.Run("ErrNotFound", func(t *testing.T) {
		b.call("GET", "/v2/actor-runs/nope", nil).fails(t, 404, "record-not-found")
		b.call("GET", "/v2/actor-runs/nope?waitForFinish=5", nil).fails(t, 404, "record-not-found")
	})
	t.Run("LiveStats", func(t *testing.T) {
		run := b.start(a.ID, "", nil, "")
		b.running(run.ID)
		b.ctrl.mu.Lock()
		b.ctrl.stats[run.ID] = troupe.ProcessStats{MemCurrentBytes: 1 << 20, MemMaxBytes: 2 << 20, MemAvgBytes: 1.5 * (1 << 20), CPUCurrentUsage: 42}
		b.ctrl.mu.Unlock()
		var got troupe.Run
		b.call("GET", "/v2/actor-runs/"+run.ID, nil).ok(t, 200, &got)
		if got.Stats.MemCurrentBytes != 1<<20 || got.Stats.MemMaxBytes != 2<<20 || got.Stats.CPUCurrentUsage != 42 {
			t.Errorf("stats = %+v", got.Stats)
		}
		if got.Status != troupe.StatusRunning {
			t.Errorf("status = %s", got.Status)
		}
	})
	t.Run("FinishedRunFollowsChanges", func(t *testing.T) {
		// A finished run's answer stays the same while the run does, and
		// shows every later change (a status message, then its deletion).
		run := b.start(a.ID, "", nil, "")
		b.running(run.ID)
		b.finish(run.ID, 0)
		first := b.call("GET", "/v2/actor-runs/"+run.ID, nil)
		second := b.call("GET", "/v2/actor-runs/"+run.ID+"?waitForFinish=60", nil)
		var got troupe.Run
		second.ok(t, 200, &got)
		if !bytes.Equal(first.body, second.body) || got.Status != troupe.StatusSucceeded {
			t.Fatalf("two reads of a finished run differ:\n%s\n%s", first.body, second.body)
		}
		if ct := second.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		b.callJSON("PUT", "/v2/actor-runs/"+run.ID, map[string]any{"statusMessage": "looked at"}).ok(t, 200, nil)
		b.call("GET", "/v2/actor-runs/"+run.ID, nil).ok(t, 200, &got)
		if got.StatusMessage == nil || *got.StatusMessage != "looked at" {
			t.Errorf("status message after PUT = %v", got.StatusMessage)
		}
		b.call("DELETE", "/v2/actor-runs/"+run.ID, nil).ok(t, http.StatusNoContent, nil)
		b.call("GET", "/v2/actor-runs/"+run.ID, nil).fails(t, 404, "record-not-found")
	})
	t.Run("WaitForFinishWakesAtOnce", func(t *testing.T) {
		run := b.start(a.ID, "", nil, "")
		done := make(chan response, 1)
		go func() { done <- b.call("GET", "/v2/actor-runs/"+run.ID+"?waitForFinish=999999", nil) }()
		b.waitWatched(run.ID)
		start := time.Now()
		b.finish(run.ID, 0)
		var got troupe.Run
		(<-done).ok(t, 200, &got)
		if got.Status != troupe.StatusSucceeded || got.FinishedAt == nil {
			t.Errorf("run = %s", got.Status)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("answered %v after the run finished", d)
		}
	})
	t.Run("StartWithWaitForFinish", func(t *testing.T) {
		b.drainWatched()
		done := make(chan *troupe.Run, 1)
		go func() { done <- b.start(a.ID, "?waitForFinish=60", nil, "") }()
		// The run's id is not known before the answer: finish whatever run
		// the server waits for.
		id := <-b.watched
		b.finish(id, 1)
		if got := <-done; got.Status != troupe.StatusFailed || got.ID != id {
			t.Errorf("run %s = %s", got.ID, got.Status)
		}
	})
}

func TestWaitForFinishClamp(t *testing.T) {
	t.Parallel()
	b := setup(t, true, func(c *api.Config) { c.MaxWait = 300 * time.Millisecond })
	a := b.actor("clamped", "")
	run := b.start(a.ID, "", nil, "")
	start := time.Now()
	var got troupe.Run
	b.call("GET", "/v2/actor-runs/"+run.ID+"?waitForFinish=999999", nil).ok(t, 200, &got)
	if d := time.Since(start); d < 300*time.Millisecond || d > 10*time.Second {
		t.Errorf("waited %v, want the 300ms clamp", d)
	}
	if got.Status.Terminal() {
		t.Errorf("status = %s", got.Status)
	}
}

func TestUpdateRun(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	a := b.actor("updater", "")
	run := b.start(a.ID, "", nil, "")

	var got troupe.Run
	b.callJSON("PUT", "/v2/actor-runs/"+run.ID, map[string]any{"statusMessage": "working", "level": "INFO", "runId": run.ID}).ok(t, 200, &got)
	if got.StatusMessage == nil || *got.StatusMessage != "working" || got.IsStatusMessageTerminal == nil || *got.IsStatusMessageTerminal {
		t.Errorf("message = %v terminal %v", got.StatusMessage, got.IsStatusMessageTerminal)
	}
	b.callJSON("PUT", "/v2/actor-runs/"+run.ID, map[string]any{"statusMessage": "done!", "isStatusMessageTerminal": true}).ok(t, 200, &got)
	if *got.StatusMessage != "done!" || got.IsStatusMessageTerminal == nil || !*got.IsStatusMessageTerminal {
		t.Errorf("message = %v terminal %v", *got.StatusMessage, got.IsStatusMessageTerminal)
	}
	b.callJSON("PUT", "/v2/actor-runs/"+run.ID, map[string]any{"generalAccess": "RESTRICTED"}).ok(t, 200, &got)
	if got.GeneralAccess != "RESTRICTED" || *got.StatusMessage != "done!" {
		t.Errorf("generalAccess = %s, message %s", got.GeneralAccess, *got.StatusMessage)
	}
	b.callJSON("PUT", "/v2/actor-runs/"+run.ID, map[string]any{"generalAccess": "EVERYONE"}).fails(t, 400, "invalid-value")
	b.call("PUT", "/v2/actor-runs/"+run.ID, []byte("nope"), "Content-Type", "application/json").fails(t, 400, "invalid-input")
	b.callJSON("PUT", "/v2/actor-runs/nope", map[string]any{"statusMessage": "x"}).fails(t, 404, "record-not-found")
}

func TestDeleteRun(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	a := b.actor("deleter", "")
	run := b.start(a.ID, "", []byte("in"), "text/plain")
	b.call("DELETE", "/v2/actor-runs/"+run.ID, nil).fails(t, 400, "cannot-remove-running-run")
	b.finish(run.ID, 0)
	b.call("DELETE", "/v2/actor-runs/"+run.ID, nil).ok(t, http.StatusNoContent, nil)
	b.call("GET", "/v2/actor-runs/"+run.ID, nil).fails(t, 404, "record-not-found")
	b.call("DELETE", "/v2/actor-runs/"+run.ID, nil).fails(t, 404, "record-not-found")
}

func TestListRuns(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("lister", "")
	other := b.actor("other", "")
	r1 := b.start(a.ID, "", nil, "")
	r2 := b.start(a.ID, "", nil, "")
	r3 := b.start(other.ID, "", nil, "")
	b.finish(r1.ID, 0)
	b.finish(r3.ID, 1)

	var p listPage[troupe.Run]
	b.call("GET", "/v2/actor-runs", nil).ok(t, 200, &p)
	if p.Total != 3 || p.Count != 3 || p.Limit != 1000 || p.Offset != 0 || p.Desc || p.Items[0].ID != r1.ID {
		t.Errorf("page = %+v", p)
	}
	b.call("GET", "/v2/actor-runs?desc=true&limit=5000&offset=1", nil).ok(t, 200, &p)
	if p.Limit != 1000 || !p.Desc || p.Count != 2 || p.Items[0].ID != r2.ID {
		t.Errorf("page = %+v", p)
	}
	b.call("GET", "/v2/actor-runs?status=SUCCEEDED,FAILED", nil).ok(t, 200, &p)
	if p.Total != 2 {
		t.Errorf("status filter: total = %d", p.Total)
	}
	b.call("GET", "/v2/actors/"+a.ID+"/runs?status=READY", nil).ok(t, 200, &p)
	if p.Total != 1 || p.Items[0].ID != r2.ID || p.Items[0].DefaultDatasetID == "" {
		t.Errorf("actor runs = %+v", p)
	}
	b.call("GET", "/v2/acts/~other/runs", nil).ok(t, 200, &p)
	if p.Total != 1 || p.Items[0].ID != r3.ID {
		t.Errorf("actor runs = %+v", p)
	}
	after := r1.StartedAt.Add(-time.Second).UTC().Format("2006-01-02T15:04:05.000Z")
	b.call("GET", "/v2/actor-runs?startedAfter="+after, nil).ok(t, 200, &p)
	if p.Total != 3 {
		t.Errorf("startedAfter: total = %d", p.Total)
	}
	b.call("GET", "/v2/actor-runs?startedBefore="+after, nil).ok(t, 200, &p)
	if p.Total != 0 {
		t.Errorf("startedBefore: total = %d", p.Total)
	}
	b.call("GET", "/v2/actor-runs?status=DONE", nil).fails(t, 400, "invalid-parameter")
	b.call("GET", "/v2/actor-runs?startedAfter=yesterday", nil).fails(t, 400, "invalid-parameter")
	b.call("GET", "/v2/actors/nope/runs", nil).fails(t, 404, "record-not-found")
}

// TestUpdateRunClientGone checks that a run's status message is kept when
// its client hangs up before troupe answers: the Apify SDK stops waiting for
// the update after a second and its process exits, closing the connection,
// so under load an actor's last message arrives from a client already gone.
// The server here cancels every request's context at once, as net/http does
// when the client of the connection hangs up.
func TestUpdateRunClientGone(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	a := b.actor("hangs-up", "")
	run := b.running(b.start(a.ID, "", nil, "").ID)

	gone := httptest.NewUnstartedServer(b.api)
	gone.Config = b.api.HTTPServer()
	gone.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		return ctx
	}
	gone.Start()
	t.Cleanup(gone.Close)

	req, err := http.NewRequest("PUT", gone.URL+"/v2/actor-runs/"+run.ID,
		strings.NewReader(`{"statusMessage":"done!","isStatusMessageTerminal":true}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+troupe.RunToken(runSecret, run))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, want 200; body: %s", resp.StatusCode, body)
	}
	got := b.finish(run.ID, 0)
	if body, _ = json.Marshal(got); got.StatusMessage == nil || *got.StatusMessage != "done!" || got.IsStatusMessageTerminal == nil || !*got.IsStatusMessageTerminal {
		t.Errorf("after the run finished: %s; want the terminal message done!", body)
	}
}
