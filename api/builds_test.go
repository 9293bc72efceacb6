package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

func TestBuilds(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.createActor("builds")

	t.Run("ErrVersion", func(t *testing.T) {
		b.call("POST", "/v2/actors/"+a.ID+"/builds", nil).fails(t, 400, "parameter-required")
		b.call("POST", "/v2/actors/"+a.ID+"/builds?version=7.7", nil).fails(t, 404, "record-not-found")
		b.call("POST", "/v2/actors/nope/builds?version=0.0", nil).fails(t, 404, "record-not-found")
	})

	var bd apiBuild
	t.Run("Create", func(t *testing.T) {
		r := b.call("POST", "/v2/acts/~builds/builds?version=0.0&tag=beta&useCache=1", nil)
		r.ok(t, http.StatusCreated, &bd)
		if bd.Status != troupe.StatusReady || bd.ActID != a.ID || bd.BuildNumber != "0.0.1" || bd.ActVersion.VersionNumber != "0.0" || !bd.Options.UseCache {
			t.Errorf("build = %+v", bd)
		}
		if got := b.builder.enqueued(); len(got) != 1 || got[0] != bd.ID {
			t.Errorf("enqueued = %v", got)
		}
		stored, err := b.store.GetBuild(context.Background(), bd.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Tag != "beta" || len(stored.Env) != 1 || stored.Env[0].Name != "GREETING" {
			t.Errorf("stored build: tag %q env %+v", stored.Tag, stored.Env)
		}
		if r.header.Get("Location") == "" {
			t.Error("no Location")
		}
	})
	t.Run("GetAndWait", func(t *testing.T) {
		var got apiBuild
		b.call("GET", "/v2/actor-builds/"+bd.ID, nil).ok(t, 200, &got)
		if got.ID != bd.ID || got.Status != troupe.StatusReady {
			t.Errorf("build = %+v", got)
		}
		done := make(chan response, 1)
		go func() { done <- b.call("GET", "/v2/actor-builds/"+bd.ID+"?waitForFinish=60", nil) }()
		b.waitWatched(bd.ID)
		start := time.Now()
		b.completeBuild(bd.ID, troupe.StatusSucceeded, "")
		r := <-done
		r.ok(t, 200, &got)
		if got.Status != troupe.StatusSucceeded {
			t.Errorf("status = %s", got.Status)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("waitForFinish answered %v after the build finished", d)
		}
		b.call("GET", "/v2/actor-builds/nope", nil).fails(t, 404, "record-not-found")
	})
	t.Run("List", func(t *testing.T) {
		var p listPage[troupe.Build]
		b.call("GET", "/v2/actors/"+a.ID+"/builds", nil).ok(t, 200, &p)
		if p.Total != 1 || p.Items[0].ID != bd.ID || p.Items[0].Status != troupe.StatusSucceeded {
			t.Errorf("builds = %+v", p)
		}
	})
	t.Run("Default", func(t *testing.T) {
		b.call("GET", "/v2/actors/"+a.ID+"/builds/default", nil).fails(t, 404, "record-not-found")
		latest := b.buildActor(a, "")
		var got apiBuild
		b.call("GET", "/v2/acts/"+a.ID+"/builds/default", nil).ok(t, 200, &got)
		if got.ID != latest.ID {
			t.Errorf("default build = %s, want %s", got.ID, latest.ID)
		}
	})
	t.Run("Log", func(t *testing.T) {
		if err := b.store.AppendLog(context.Background(), bd.ID, []byte("2026-01-01T00:00:00.000Z \x1b[32mnpm install\x1b[0m\n")); err != nil {
			t.Fatal(err)
		}
		r := b.call("GET", "/v2/actor-builds/"+bd.ID+"/log", nil)
		if r.status != 200 || string(r.body) != "2026-01-01T00:00:00.000Z npm install\n" {
			t.Errorf("log = %d %q", r.status, r.body)
		}
		b.call("GET", "/v2/actor-builds/nope/log", nil).fails(t, 404, "record-not-found")
	})
}

// TestBuildTimeoutParam: the timeout parameter is kept in the build's
// options and bounded.
func TestBuildTimeoutParam(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.createActor("timed")
	var bd apiBuild
	b.call("POST", "/v2/actors/"+a.ID+"/builds?version=0.0&timeout=120", nil).ok(t, http.StatusCreated, &bd)
	if bd.Options.TimeoutSecs != 120 {
		t.Errorf("options.timeoutSecs = %d, want 120", bd.Options.TimeoutSecs)
	}
	for _, bad := range []string{"0", "-5", "abc", "86401"} {
		b.call("POST", "/v2/actors/"+a.ID+"/builds?version=0.0&timeout="+bad, nil).fails(t, 400, "invalid-parameter")
	}
}

// TestAbortBuild: a READY build ends ABORTED at once; a RUNNING one is
// answered once the builder has ended it ABORTED; a finished one is
// answered unchanged.
func TestAbortBuild(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.createActor("aborted")
	ctx := context.Background()
	newBuild := func() apiBuild {
		var bd apiBuild
		b.call("POST", "/v2/actors/"+a.ID+"/builds?version=0.0", nil).ok(t, http.StatusCreated, &bd)
		return bd
	}

	t.Run("Ready", func(t *testing.T) {
		bd := newBuild()
		var got apiBuild
		b.call("POST", "/v2/actor-builds/"+bd.ID+"/abort", nil).ok(t, 200, &got)
		if got.Status != troupe.StatusAborted || got.FinishedAt == nil || got.StatusMessage == "" {
			t.Errorf("aborted READY build = %s, finishedAt %v, message %q", got.Status, got.FinishedAt, got.StatusMessage)
		}
	})
	t.Run("Running", func(t *testing.T) {
		bd := newBuild()
		if _, err := b.store.UpdateBuild(ctx, bd.ID, func(x *troupe.Build) error { x.Status = troupe.StatusRunning; return nil }); err != nil {
			t.Fatal(err)
		}
		// The builder: it sees ABORTING in the store and ends the build.
		ch, stop := b.store.Watch(bd.ID)
		defer stop()
		builderDone := make(chan error, 1)
		go func() {
			for range ch {
				x, err := b.store.GetBuild(ctx, bd.ID)
				if err != nil {
					builderDone <- err
					return
				}
				if x.Status == troupe.StatusAborting {
					b.completeBuild(bd.ID, troupe.StatusAborted, "")
					builderDone <- nil
					return
				}
			}
		}()
		var got apiBuild
		b.call("POST", "/v2/actor-builds/"+bd.ID+"/abort", nil).ok(t, 200, &got)
		if err := <-builderDone; err != nil {
			t.Fatal(err)
		}
		if got.Status != troupe.StatusAborted {
			t.Errorf("aborted RUNNING build answered %s, want ABORTED", got.Status)
		}
	})
	t.Run("Finished", func(t *testing.T) {
		bd := newBuild()
		b.completeBuild(bd.ID, troupe.StatusSucceeded, "")
		var got apiBuild
		b.call("POST", "/v2/actor-builds/"+bd.ID+"/abort", nil).ok(t, 200, &got)
		if got.Status != troupe.StatusSucceeded {
			t.Errorf("abort of a SUCCEEDED build answered %s", got.Status)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		b.call("POST", "/v2/actor-builds/nope/abort", nil).fails(t, 404, "record-not-found")
	})
}
