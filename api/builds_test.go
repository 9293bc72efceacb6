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

	var bd troupe.Build
	t.Run("Create", func(t *testing.T) {
		r := b.call("POST", "/v2/acts/~builds/builds?version=0.0&tag=beta&useCache=1", nil)
		r.ok(t, http.StatusCreated, &bd)
		if bd.Status != troupe.StatusReady || bd.ActID != a.ID || bd.BuildNumber != "0.0.1" || bd.ActorVersion != "0.0" || !bd.Options.UseCache {
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
		var got troupe.Build
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
		var got troupe.Build
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
