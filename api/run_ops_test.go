package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
)

func TestAbortRun(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	a := b.actor("abortee", "")

	t.Run("Immediate", func(t *testing.T) {
		run := b.start(a.ID, "", nil, "")
		b.running(run.ID)
		var got troupe.Run
		b.call("POST", "/v2/actor-runs/"+run.ID+"/abort", nil).ok(t, 200, &got)
		if got.Status != troupe.StatusAborted || got.FinishedAt == nil {
			t.Errorf("status = %s, want ABORTED (the controller ended it)", got.Status)
		}
	})
	t.Run("Graceful", func(t *testing.T) {
		run := b.start(a.ID, "", nil, "")
		b.running(run.ID)
		var got troupe.Run
		b.call("POST", "/v2/actor-runs/"+run.ID+"/abort?gracefully=true", nil).ok(t, 200, &got)
		if got.Status != troupe.StatusAborting {
			t.Errorf("status = %s, want ABORTING", got.Status)
		}
		stored, _ := b.store.GetRun(context.Background(), run.ID)
		if stored.Control.Abort == nil || !stored.Control.Abort.Graceful {
			t.Errorf("abort request = %+v", stored.Control.Abort)
		}
	})
	t.Run("Finished", func(t *testing.T) {
		run := b.start(a.ID, "", nil, "")
		b.finish(run.ID, 0)
		var got troupe.Run
		b.call("POST", "/v2/actor-runs/"+run.ID+"/abort", nil).ok(t, 200, &got)
		if got.Status != troupe.StatusSucceeded {
			t.Errorf("status = %s", got.Status)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		b.call("POST", "/v2/actor-runs/nope/abort", nil).fails(t, 404, "record-not-found")
		b.call("POST", "/v2/actor-runs/nope/abort?gracefully=sure", nil).fails(t, 400, "invalid-parameter")
	})
}

func TestAbortReadyRun(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("ready", "")
	run := b.start(a.ID, "", nil, "")
	var got troupe.Run
	b.call("POST", "/v2/actor-runs/"+run.ID+"/abort", nil).ok(t, 200, &got)
	if got.Status != troupe.StatusAborted {
		t.Errorf("status = %s", got.Status)
	}
}

func TestAbortWaitBounded(t *testing.T) {
	t.Parallel()
	// A controller that never ends the run: the abort answers ABORTING
	// after AbortWait.
	b := setup(t, false, func(c *api.Config) { c.AbortWait = 200 * time.Millisecond; c.Controller = nil })
	a := b.actor("stuck", "")
	run := b.start(a.ID, "", nil, "")
	b.running(run.ID)
	var got troupe.Run
	b.call("POST", "/v2/actor-runs/"+run.ID+"/abort", nil).ok(t, 200, &got)
	if got.Status != troupe.StatusAborting {
		t.Errorf("status = %s", got.Status)
	}
}

func TestMetamorph(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	a := b.actor("caterpillar", "")
	target := b.actor("butterfly", schemaWithDefaults)
	run := b.start(a.ID, "", nil, "")
	b.running(run.ID)
	base := "/v2/actor-runs/" + run.ID + "/metamorph"

	t.Run("Errors", func(t *testing.T) {
		b.call("POST", base, nil).fails(t, 400, "parameter-required")
		b.call("POST", base+"?targetActorId=nope", nil).fails(t, 404, "record-not-found")
		b.call("POST", base+"?targetActorId="+target.ID+"&build=9.9.9", nil).fails(t, 400, "unknown-build-tag")
		b.call("POST", base+"?targetActorId="+target.ID, []byte("{"), "Content-Type", "application/json").
			fails(t, 400, "run-input-body-not-valid-json")
	})
	t.Run("OK", func(t *testing.T) {
		var got troupe.Run
		b.call("POST", base+"?targetActorId="+username+"~butterfly", []byte(`{"count":1}`), "Content-Type", "application/json").
			ok(t, 200, &got)
		if got.ID != run.ID || got.ActID != target.ID || got.Status != troupe.StatusRunning || len(got.Metamorphs) != 1 {
			t.Fatalf("run = %+v", got)
		}
		m := got.Metamorphs[0]
		if m.ActorID != target.ID || m.InputKey != "INPUT-METAMORPH-1" || m.BuildID == "" || got.Stats.Metamorph != 1 {
			t.Errorf("metamorph = %+v", m)
		}
		rec := b.record(run.DefaultKeyValueStoreID, "INPUT-METAMORPH-1")
		var in map[string]any
		if err := json.Unmarshal(rec.Value, &in); err != nil || in["count"] != 1.0 || in["url"] != "https://example.com" {
			t.Errorf("metamorph input = %s (%v)", rec.Value, err)
		}
		if rec.ContentType != "application/json" {
			t.Errorf("content type = %q", rec.ContentType)
		}
		stored, _ := b.store.GetRun(context.Background(), run.ID)
		if stored.Control.InputKey != "INPUT-METAMORPH-1" || stored.Control.Generation != 2 {
			t.Errorf("control = %+v", stored.Control)
		}
		if b.ctrl.wokenCount(run.ID) < 2 {
			t.Error("the controller was not woken")
		}
	})
	t.Run("ErrMaxMetamorphs", func(t *testing.T) {
		for i := 2; i <= troupe.MaxMetamorphs; i++ {
			var got troupe.Run
			b.call("POST", base+"?targetActorId=~caterpillar", nil).ok(t, 200, &got)
			if k := got.Metamorphs[i-1].InputKey; k != fmt.Sprintf("INPUT-METAMORPH-%d", i) {
				t.Errorf("input key = %s", k)
			}
		}
		b.call("POST", base+"?targetActorId=~caterpillar", nil).fails(t, 400, "max-metamorphs-exceeded")
	})
	t.Run("ErrNotRunning", func(t *testing.T) {
		done := b.start(a.ID, "", nil, "")
		b.finish(done.ID, 0)
		b.call("POST", "/v2/actor-runs/"+done.ID+"/metamorph?targetActorId="+target.ID, []byte("{}"), "Content-Type", "application/json").
			fails(t, 400, "operation-not-allowed")
		if _, err := b.store.GetRecord(context.Background(), done.DefaultKeyValueStoreID, "INPUT-METAMORPH-1"); !troupe.IsNotFound(err) {
			t.Errorf("a refused metamorph stored its input (err %v)", err)
		}
	})
}

func TestRebootAndResurrect(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	a := b.actor("phoenix", "")
	run := b.start(a.ID, "", nil, "")
	b.running(run.ID)

	var got troupe.Run
	b.call("POST", "/v2/actor-runs/"+run.ID+"/reboot", nil).ok(t, 200, &got)
	if got.Stats.RebootCount != 1 || got.Status != troupe.StatusRunning {
		t.Errorf("rebooted run = %s, rebootCount %d", got.Status, got.Stats.RebootCount)
	}
	b.call("POST", "/v2/actor-runs/"+run.ID+"/resurrect", nil).fails(t, 400, "operation-not-allowed")

	b.finish(run.ID, 1)
	b.call("POST", "/v2/actor-runs/"+run.ID+"/reboot", nil).fails(t, 400, "operation-not-allowed")
	b.call("POST", "/v2/actor-runs/"+run.ID+"/resurrect?memory=300", nil).fails(t, 400, "invalid-value")
	b.call("POST", "/v2/actor-runs/"+run.ID+"/resurrect?build=nope", nil).fails(t, 400, "unknown-build-tag")
	b.call("POST", "/v2/actor-runs/"+run.ID+"/resurrect?memory=2048&timeout=30&restartOnError=1", nil).ok(t, 200, &got)
	if got.Status != troupe.StatusRunning || got.Stats.ResurrectCount != 1 || got.FinishedAt != nil || got.ExitCode != nil {
		t.Errorf("resurrected run = %+v", got)
	}
	if o := got.Options; o.MemoryMbytes != 2048 || o.DiskMbytes != 4096 || o.TimeoutSecs != 30 || !o.RestartOnError || o.Build != "latest" || got.BuildNumber != "0.0.1" {
		t.Errorf("options = %+v", o)
	}
	b.call("POST", "/v2/actor-runs/nope/reboot", nil).fails(t, 404, "record-not-found")
	b.call("POST", "/v2/actor-runs/nope/resurrect", nil).fails(t, 404, "record-not-found")
}

func TestLastRun(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("lastly", "")
	b.call("GET", "/v2/actors/"+a.ID+"/runs/last", nil).fails(t, 404, "record-not-found")
	first := b.start(a.ID, "", nil, "")
	b.finish(first.ID, 0)
	second := b.start(a.ID, "", []byte("second input"), "text/plain")

	for _, prefix := range []string{"/v2/actors/" + a.ID, "/v2/acts/~lastly"} {
		var got troupe.Run
		b.call("GET", prefix+"/runs/last", nil).ok(t, 200, &got)
		if got.ID != second.ID {
			t.Errorf("%s last = %s, want %s", prefix, got.ID, second.ID)
		}
		b.call("GET", prefix+"/runs/last?status=SUCCEEDED", nil).ok(t, 200, &got)
		if got.ID != first.ID {
			t.Errorf("%s last succeeded = %s, want %s", prefix, got.ID, first.ID)
		}
	}
	b.call("GET", "/v2/actors/"+a.ID+"/runs/last?status=FAILED", nil).fails(t, 404, "record-not-found")
	b.call("GET", "/v2/actors/"+a.ID+"/runs/last?status=WHATEVER", nil).fails(t, 400, "invalid-parameter")

	r := b.call("GET", "/v2/actors/"+a.ID+"/runs/last/key-value-store/records/INPUT", nil)
	if r.status != 200 || string(r.body) != "second input" {
		t.Errorf("last run INPUT = %d %q", r.status, r.body)
	}
	var ds troupe.Storage
	b.call("GET", "/v2/acts/"+a.ID+"/runs/last/dataset?status=SUCCEEDED", nil).ok(t, 200, &ds)
	if ds.ID != first.DefaultDatasetID {
		t.Errorf("dataset = %s, want %s", ds.ID, first.DefaultDatasetID)
	}
	if err := b.store.AppendLog(context.Background(), second.ID, []byte("2026-01-01T00:00:00.000Z hello\n")); err != nil {
		t.Fatal(err)
	}
	if r := b.call("GET", "/v2/actors/"+a.ID+"/runs/last/log", nil); string(r.body) != "2026-01-01T00:00:00.000Z hello\n" {
		t.Errorf("last run log = %q", r.body)
	}
	var got troupe.Run
	b.call("POST", "/v2/actors/"+a.ID+"/runs/last/abort", nil).ok(t, 200, &got)
	if got.ID != second.ID || got.Status != troupe.StatusAborted {
		t.Errorf("aborted %s = %s", got.ID, got.Status)
	}
	// The deprecated run path under its actor.
	b.call("GET", "/v2/actors/"+a.ID+"/runs/"+first.ID, nil).ok(t, 200, &got)
	if got.ID != first.ID {
		t.Errorf("got %s", got.ID)
	}
}

func TestRunSync(t *testing.T) {
	t.Parallel()
	b := setup(t, true, func(c *api.Config) { c.SyncWait = 500 * time.Millisecond })
	// The "actor" echoes its input as its OUTPUT, then succeeds; with input
	// "fail" it fails, with input "hang" it keeps running.
	b.ctrl.onStart = func(id string) {
		ctx := context.Background()
		run, err := b.store.GetRun(ctx, id)
		if err != nil {
			return
		}
		in, _ := b.store.GetRecord(ctx, run.DefaultKeyValueStoreID, "INPUT")
		if in != nil && string(in.Value) == "hang" {
			return
		}
		exit := 0
		if in != nil && string(in.Value) == "fail" {
			exit = 1
		}
		if in != nil {
			_ = b.store.PutRecord(ctx, run.DefaultKeyValueStoreID, &troupe.Record{Key: "OUTPUT", Value: in.Value, ContentType: in.ContentType})
		}
		_, _ = b.store.UpdateRun(ctx, id, func(r *troupe.Run, _ troupe.StorageTx) error { return r.Finish(exit, troupe.Now()) })
	}
	a := b.actor("sync", "")

	r := b.call("POST", "/v2/actors/"+a.ID+"/run-sync", []byte(`{"echo":true}`), "Content-Type", "application/json")
	if r.status != http.StatusCreated || string(r.body) != `{"echo":true}` || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("run-sync = %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
	}
	b.call("POST", "/v2/acts/~sync/run-sync", []byte("hang"), "Content-Type", "text/plain").fails(t, 408, "run-timeout-exceeded")
	b.call("POST", "/v2/actors/"+a.ID+"/run-sync", []byte("fail"), "Content-Type", "text/plain").fails(t, 400, "run-failed")
	b.call("GET", "/v2/actors/"+a.ID+"/run-sync", nil).fails(t, 404, "record-not-found")
	b.call("GET", "/v2/actors/"+a.ID+"/run-sync?outputRecordKey=a/b", nil).fails(t, 400, "invalid-record-key")
}
