package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

// limitedFixture is a server with a limited run, a victim run of the same
// actor, a full-permission actor and storages the limited run must not
// reach.
type limitedFixture struct {
	b          *bundle
	a, full    *troupe.Actor
	build      *troupe.Build
	run        *troupe.Run // the limited run
	tok        string      // its token
	victim     *troupe.Run
	adminDS    *troupe.Storage // a named dataset the admin made
	otherActor *troupe.Actor
}

func newLimitedFixture(t *testing.T) *limitedFixture {
	t.Helper()
	b := setup(t, false)
	f := &limitedFixture{b: b}
	f.a = b.createActor("limited")
	f.build = b.buildActor(f.a, "")
	f.full = b.actor("powerful", "")
	b.callJSON("PUT", "/v2/actors/"+f.full.ID, map[string]any{"actorPermissionLevel": "FULL_PERMISSIONS"}).ok(t, 200, nil)
	f.otherActor = b.actor("other", "")
	f.run = b.running(b.start(f.a.ID, "", []byte(`{"x":1}`), "application/json").ID)
	f.tok = troupe.RunToken(runSecret, f.run)
	f.victim = b.running(b.start(f.a.ID, "", []byte(`{"secret":"s"}`), "application/json").ID)
	f.adminDS = &troupe.Storage{}
	b.call("POST", "/v2/datasets?name=admin-data", nil).ok(t, 201, f.adminDS)
	return f
}

func (f *limitedFixture) as(method, path string, body []byte) response {
	f.b.t.Helper()
	return f.b.asRun(f.tok, method, path, body, "Content-Type", "application/json")
}

// TestLimitedRunReaches checks every operation a limited run's token may
// make: its own run, its default storages, storages it makes, starting
// actors and reading what it needs to, the runs it started.
func TestLimitedRunReaches(t *testing.T) {
	t.Parallel()
	f := newLimitedFixture(t)
	b, run := f.b, f.run
	rp := "/v2/actor-runs/" + run.ID

	t.Run("OwnRun", func(t *testing.T) {
		var got troupe.Run
		f.as("GET", rp, nil).ok(t, 200, &got)
		if got.ID != run.ID {
			t.Fatalf("got run %s", got.ID)
		}
		f.as("PUT", rp, []byte(`{"statusMessage":"half way"}`)).ok(t, 200, &got)
		if message := got.StatusMessage; message == nil || *message != "half way" {
			t.Errorf("status message = %v", message)
		}
		f.as("GET", "/v2/acts/"+f.a.ID+"/runs/"+run.ID, nil).ok(t, 200, nil)
		f.as("GET", "/v2/acts/"+f.a.ID+"/runs/"+run.ID+"/key-value-store/records/INPUT", nil).ok(t, 200, nil)
		f.as("GET", rp+"/log", nil).ok(t, 200, nil)
		f.as("GET", "/v2/logs/"+run.ID, nil).ok(t, 200, nil)
		f.as("POST", rp+"/charge", []byte(`{"eventName":"x"}`)).fails(t, 400, troupe.ErrCannotCharge)
		if r := b.raw("GET", rp+"/events?token="+f.tok, nil, nil); r.status != 200 {
			t.Errorf("own events: %d %s", r.status, r.body)
		}
	})
	t.Run("DefaultStorages", func(t *testing.T) {
		f.as("GET", "/v2/key-value-stores/"+run.DefaultKeyValueStoreID+"/records/INPUT", nil).ok(t, 200, nil)
		f.as("GET", rp+"/key-value-store/records/INPUT", nil).ok(t, 200, nil)
		f.as("PUT", rp+"/key-value-store/records/OUTPUT", []byte(`{"ok":true}`)).ok(t, 201, nil)
		f.as("GET", "/v2/key-value-stores/"+run.DefaultKeyValueStoreID+"/keys", nil).ok(t, 200, nil)
		f.as("POST", "/v2/datasets/"+run.DefaultDatasetID+"/items", []byte(`[{"a":1}]`)).ok(t, 201, nil)
		f.as("GET", rp+"/dataset/items", nil).ok(t, 200, nil)
		f.as("GET", "/v2/datasets/"+run.DefaultDatasetID, nil).ok(t, 200, nil)
		f.as("POST", "/v2/request-queues/"+run.DefaultRequestQueueID+"/requests", []byte(`{"url":"https://example.com"}`)).ok(t, 201, nil)
		f.as("GET", rp+"/request-queue/head", nil).ok(t, 200, nil)
	})
	t.Run("StoragesItMakes", func(t *testing.T) {
		var st troupe.Storage
		f.as("POST", "/v2/datasets?name=run-made", nil).ok(t, 201, &st)
		if st.ActRunID == nil || *st.ActRunID != run.ID || st.ActID == nil || *st.ActID != f.a.ID {
			t.Errorf("a storage the run made has actId %v, actRunId %v", st.ActID, st.ActRunID)
		}
		f.as("POST", "/v2/datasets/"+st.ID+"/items", []byte(`{"a":1}`)).ok(t, 201, nil)
		f.as("GET", "/v2/datasets/~run-made/items", nil).ok(t, 200, nil)
		f.as("POST", "/v2/datasets?name=run-made", nil).ok(t, 200, nil)
		var kv troupe.Storage
		f.as("POST", "/v2/key-value-stores", nil).ok(t, 201, &kv)
		f.as("PUT", "/v2/key-value-stores/"+kv.ID+"/records/k", []byte(`1`)).ok(t, 201, nil)
		f.as("DELETE", "/v2/key-value-stores/"+kv.ID, nil).ok(t, 204, nil)
		var rq troupe.Storage
		f.as("POST", "/v2/request-queues?name=run-queue", nil).ok(t, 201, &rq)
		f.as("POST", "/v2/request-queues/"+rq.ID+"/requests", []byte(`{"url":"https://example.com/a"}`)).ok(t, 201, nil)

		// A later run of the same actor reaches the named storages the
		// earlier one made; a run of another actor does not.
		later := b.running(b.start(f.a.ID, "", nil, "").ID)
		b.asRun(troupe.RunToken(runSecret, later), "GET", "/v2/datasets/~run-made/items", nil).ok(t, 200, nil)
		stranger := b.running(b.start(f.otherActor.ID, "", nil, "").ID)
		b.asRun(troupe.RunToken(runSecret, stranger), "GET", "/v2/datasets/~run-made/items", nil).
			fails(t, 403, troupe.ErrInsufficientPermissions)
		b.asRun(troupe.RunToken(runSecret, stranger), "POST", "/v2/datasets?name=run-made", nil).
			fails(t, 403, troupe.ErrInsufficientPermissions)
	})
	t.Run("InputStorages", func(t *testing.T) {
		input, _ := json.Marshal(map[string]any{"source": f.adminDS.ID, "nested": []any{map[string]any{"queue": "alice~shared-queue"}}})
		var q troupe.Storage
		b.call("POST", "/v2/request-queues?name=shared-queue", nil).ok(t, 201, &q)
		given := b.running(b.start(f.a.ID, "", input, "application/json").ID)
		tok := troupe.RunToken(runSecret, given)
		b.asRun(tok, "GET", "/v2/datasets/"+f.adminDS.ID+"/items", nil).ok(t, 200, nil)
		b.asRun(tok, "POST", "/v2/datasets/"+f.adminDS.ID+"/items", []byte(`{"from":"run"}`), "Content-Type", "application/json").ok(t, 201, nil)
		b.asRun(tok, "GET", "/v2/request-queues/"+q.ID+"/head", nil).ok(t, 200, nil)
		// Rewriting its INPUT record grants nothing more.
		var secret troupe.Storage
		b.call("POST", "/v2/key-value-stores?name=secret-store", nil).ok(t, 201, &secret)
		b.asRun(tok, "PUT", "/v2/actor-runs/"+given.ID+"/key-value-store/records/INPUT",
			[]byte(`{"source":"`+secret.ID+`"}`), "Content-Type", "application/json").ok(t, 201, nil)
		b.asRun(tok, "GET", "/v2/key-value-stores/"+secret.ID, nil).fails(t, 403, troupe.ErrInsufficientPermissions)
	})
	t.Run("ActorsAndBuilds", func(t *testing.T) {
		var a troupe.Actor
		f.as("GET", "/v2/acts/"+f.a.ID, nil).ok(t, 200, &a)
		if a.ID != f.a.ID || a.ActorPermissionLevel != troupe.PermissionsLimited {
			t.Errorf("actor = %s %s", a.ID, a.ActorPermissionLevel)
		}
		for _, v := range a.Versions {
			if len(v.SourceFiles) > 0 || len(v.EnvVars) > 0 {
				t.Errorf("a limited run sees version %s's source or variables", v.VersionNumber)
			}
		}
		f.as("GET", "/v2/acts/~limited", nil).ok(t, 200, nil)
		f.as("GET", "/v2/acts/"+f.a.ID+"/builds/default", nil).ok(t, 200, nil)
		f.as("GET", "/v2/actor-builds/"+f.build.ID, nil).ok(t, 200, nil)
	})
	t.Run("StartsActors", func(t *testing.T) {
		for _, target := range []*troupe.Actor{f.a, f.full} {
			var child troupe.Run
			f.as("POST", "/v2/acts/"+target.ID+"/runs", []byte(`{"source":"`+f.adminDS.ID+`"}`)).ok(t, 201, &child)
			stored, err := b.store.GetRun(context.Background(), child.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.PermissionLevel() != troupe.PermissionsLimited || stored.Control.StartedBy != run.ID || child.Meta.Origin != troupe.OriginActor {
				t.Errorf("run of %s started by a limited run: level %s, started by %q, origin %s",
					target.Name, stored.PermissionLevel(), stored.Control.StartedBy, child.Meta.Origin)
			}
			// The starter follows its child and reads its results.
			cp := "/v2/actor-runs/" + child.ID
			f.as("GET", cp+"?waitForFinish=0", nil).ok(t, 200, nil)
			f.as("GET", cp+"/log", nil).ok(t, 200, nil)
			b.running(child.ID)
			b.call("POST", "/v2/datasets/"+child.DefaultDatasetID+"/items", []byte(`{"r":1}`), "Content-Type", "application/json").ok(t, 201, nil)
			f.as("GET", cp+"/dataset/items", nil).ok(t, 200, nil)
			f.as("GET", "/v2/datasets/"+child.DefaultDatasetID+"/items", nil).ok(t, 200, nil)
			// It may not steer it beyond an abort.
			f.as("PUT", cp, []byte(`{"statusMessage":"x"}`)).fails(t, 403, troupe.ErrInsufficientPermissions)
			f.as("POST", cp+"/reboot", nil).fails(t, 403, troupe.ErrInsufficientPermissions)
			f.as("POST", cp+"/abort", nil).ok(t, 200, nil)
		}
		// The child's input named the admin's dataset, which its limited
		// starter does not reach: the child does not reach it either.
		var child troupe.Run
		f.as("POST", "/v2/acts/"+f.a.ID+"/runs", []byte(`{"source":"`+f.adminDS.ID+`"}`)).ok(t, 201, &child)
		child2 := b.running(child.ID)
		b.asRun(troupe.RunToken(runSecret, child2), "GET", "/v2/datasets/"+f.adminDS.ID, nil).fails(t, 403, troupe.ErrInsufficientPermissions)

		f.as("POST", "/v2/acts/"+f.a.ID+"/runs?forcePermissionLevel=FULL_PERMISSIONS", nil).fails(t, 403, troupe.ErrInsufficientPermissions)
		f.as("POST", "/v2/acts/"+f.a.ID+"/run-sync?forcePermissionLevel=FULL_PERMISSIONS", nil).fails(t, 403, troupe.ErrInsufficientPermissions)
	})
	t.Run("SelfSteering", func(t *testing.T) {
		var got troupe.Run
		f.as("POST", rp+"/reboot", nil).ok(t, 200, &got)
		if got.Stats.RebootCount != 1 {
			t.Errorf("rebootCount = %d", got.Stats.RebootCount)
		}
		f.as("POST", rp+"/metamorph?targetActorId="+f.full.ID, []byte(`{}`)).ok(t, 200, &got)
		stored, _ := b.store.GetRun(context.Background(), run.ID)
		if got.ActID != f.full.ID || stored.PermissionLevel() != troupe.PermissionsLimited {
			t.Errorf("after metamorph into a full actor: actId %s, level %s", got.ActID, stored.PermissionLevel())
		}
		f.as("POST", rp+"/abort", nil).ok(t, 200, &got)
		if got.Status != troupe.StatusAborted {
			t.Errorf("own abort: %s", got.Status)
		}
		// Finished: the token is dead.
		b.finishedAgo(run.ID, time.Second)
		f.as("GET", rp, nil).fails(t, 401, troupe.ErrInvalidToken)
	})
}

// TestLimitedRunRefused checks that a limited run's token is refused
// everything else with 403 insufficient-permissions, and that the refused
// requests changed nothing.
func TestLimitedRunRefused(t *testing.T) {
	t.Parallel()
	f := newLimitedFixture(t)
	b, v := f.b, f.victim
	vp := "/v2/actor-runs/" + v.ID
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v2/actors", ""},
		{"GET", "/v2/acts", ""},
		{"POST", "/v2/acts", `{"name":"planted"}`},
		{"PUT", "/v2/acts/" + f.a.ID, `{"actorPermissionLevel":"FULL_PERMISSIONS"}`},
		{"DELETE", "/v2/acts/" + f.otherActor.ID, ""},
		{"GET", "/v2/acts/" + f.a.ID + "/versions", ""},
		{"GET", "/v2/acts/" + f.a.ID + "/versions/0.0", ""},
		{"POST", "/v2/acts/" + f.a.ID + "/versions", `{"versionNumber":"9.9"}`},
		{"PUT", "/v2/acts/" + f.a.ID + "/versions/0.0", `{"buildTag":"x"}`},
		{"POST", "/v2/acts/" + f.a.ID + "/builds?version=0.0", ""},
		{"GET", "/v2/acts/" + f.a.ID + "/builds", ""},
		{"GET", "/v2/acts/" + f.a.ID + "/runs", ""},
		{"GET", "/v2/actor-builds/" + f.build.ID + "/log", ""},
		{"GET", "/v2/actor-runs", ""},
		{"GET", vp, ""},
		{"GET", "/v2/acts/" + f.a.ID + "/runs/" + v.ID, ""},
		{"GET", "/v2/actor-runs/no-such-run", ""},
		{"GET", "/v2/acts/" + f.a.ID + "/runs/last", ""},
		{"PUT", vp, `{"statusMessage":"hijacked"}`},
		{"POST", vp + "/abort", ""},
		{"POST", vp + "/abort?gracefully=1", ""},
		{"POST", vp + "/metamorph?targetActorId=" + f.a.ID, ""},
		{"POST", vp + "/reboot", ""},
		{"POST", vp + "/resurrect", ""},
		{"POST", vp + "/charge", `{"eventName":"x"}`},
		{"DELETE", vp, ""},
		{"DELETE", "/v2/actor-runs/" + f.run.ID, ""},
		{"GET", vp + "/log", ""},
		{"GET", "/v2/logs/" + v.ID, ""},
		{"GET", vp + "/key-value-store/records/INPUT", ""},
		{"GET", "/v2/key-value-stores/" + v.DefaultKeyValueStoreID + "/records/INPUT", ""},
		{"GET", "/v2/key-value-stores/" + v.DefaultKeyValueStoreID + "/keys", ""},
		{"PUT", "/v2/key-value-stores/" + v.DefaultKeyValueStoreID + "/records/INPUT", `{"secret":"mine"}`},
		{"POST", "/v2/datasets/" + v.DefaultDatasetID + "/items", `{"a":1}`},
		{"GET", vp + "/dataset/items", ""},
		{"GET", vp + "/request-queue/head", ""},
		{"POST", "/v2/request-queues/" + v.DefaultRequestQueueID + "/requests", `{"url":"https://example.com"}`},
		{"DELETE", "/v2/datasets/" + v.DefaultDatasetID, ""},
		{"GET", "/v2/datasets", ""},
		{"GET", "/v2/key-value-stores", ""},
		{"GET", "/v2/request-queues", ""},
		{"GET", "/v2/datasets/" + f.adminDS.ID, ""},
		{"GET", "/v2/datasets/~admin-data/items", ""},
		{"GET", "/v2/datasets/alice~admin-data", ""},
		{"POST", "/v2/datasets/" + f.adminDS.ID + "/items", `{"a":1}`},
		{"PUT", "/v2/datasets/" + f.adminDS.ID, `{"name":"renamed"}`},
		{"POST", "/v2/datasets?name=admin-data", ""},
	} {
		var body []byte
		if c.body != "" {
			body = []byte(c.body)
		}
		msg := f.as(c.method, c.path, body).fails(t, 403, troupe.ErrInsufficientPermissions)
		if !contains(msg, f.run.ID) || !contains(msg, "LIMITED_PERMISSIONS") {
			t.Errorf("%s %s: message %q does not say why", c.method, c.path, msg)
		}
	}
	// The events of another run stay closed (as for every other token).
	b.raw("GET", vp+"/events?token="+f.tok, nil, nil).fails(t, 401, troupe.ErrInvalidToken)

	// Nothing changed.
	var got troupe.Run
	b.call("GET", vp, nil).ok(t, 200, &got)
	if got.Status != troupe.StatusRunning || got.StatusMessage != nil || got.Stats.RebootCount != 0 || got.ActID != f.a.ID {
		t.Errorf("victim run changed: %s %v reboots %d act %s", got.Status, got.StatusMessage, got.Stats.RebootCount, got.ActID)
	}
	if rec := b.record(v.DefaultKeyValueStoreID, "INPUT"); string(rec.Value) != `{"secret":"s"}` {
		t.Errorf("victim INPUT = %s", rec.Value)
	}
	var ds troupe.Storage
	b.call("GET", "/v2/datasets/"+f.adminDS.ID, nil).ok(t, 200, &ds)
	if ds.ItemCount == nil || *ds.ItemCount != 0 || ds.Name == nil || *ds.Name != "admin-data" {
		t.Errorf("admin dataset changed: %+v", ds)
	}
	b.call("GET", "/v2/acts/~planted", nil).fails(t, 404, troupe.ErrRecordNotFound)
	var a troupe.Actor
	b.call("GET", "/v2/acts/"+f.a.ID, nil).ok(t, 200, &a)
	if a.ActorPermissionLevel != troupe.PermissionsLimited {
		t.Errorf("actor level became %s", a.ActorPermissionLevel)
	}
}

// TestFullRunActsForAccount checks that a full-permission run's token does
// what the admin token does on the account.
func TestFullRunActsForAccount(t *testing.T) {
	t.Parallel()
	f := newLimitedFixture(t)
	b := f.b
	for _, start := range []string{
		"/v2/acts/" + f.full.ID + "/runs",                                    // the actor's level
		"/v2/acts/" + f.a.ID + "/runs?forcePermissionLevel=FULL_PERMISSIONS", // forced
	} {
		var run troupe.Run
		b.call("POST", start, nil).ok(t, 201, &run)
		full := b.running(run.ID)
		if full.PermissionLevel() != troupe.PermissionsFull {
			t.Fatalf("%s: level %s", start, full.PermissionLevel())
		}
		tok := troupe.RunToken(runSecret, full)
		as := func(method, path, body string) response {
			var bb []byte
			if body != "" {
				bb = []byte(body)
			}
			return b.asRun(tok, method, path, bb, "Content-Type", "application/json")
		}
		as("GET", "/v2/actors", "").ok(t, 200, nil)
		as("GET", "/v2/actor-runs", "").ok(t, 200, nil)
		as("GET", "/v2/actor-runs/"+f.victim.ID, "").ok(t, 200, nil)
		as("GET", "/v2/actor-runs/"+f.victim.ID+"/key-value-store/records/INPUT", "").ok(t, 200, nil)
		as("GET", "/v2/datasets/"+f.adminDS.ID+"/items", "").ok(t, 200, nil)
		as("GET", "/v2/datasets", "").ok(t, 200, nil)
		as("GET", "/v2/acts/"+f.a.ID+"/versions", "").ok(t, 200, nil)
		as("PUT", "/v2/actor-runs/"+f.victim.ID, `{"statusMessage":"by a full run"}`).ok(t, 200, nil)
		// Its runs follow their own actor's level.
		var child troupe.Run
		as("POST", "/v2/acts/"+f.full.ID+"/runs", "").ok(t, 201, &child)
		if c, _ := b.store.GetRun(context.Background(), child.ID); c.PermissionLevel() != troupe.PermissionsFull {
			t.Errorf("child of a full run of a full actor: %s", c.PermissionLevel())
		}
	}
	var made troupe.Actor
	var run troupe.Run
	b.call("POST", "/v2/acts/"+f.full.ID+"/runs", nil).ok(t, 201, &run)
	tok := troupe.RunToken(runSecret, b.running(run.ID))
	b.asRun(tok, "POST", "/v2/acts", []byte(`{"name":"made-by-full"}`), "Content-Type", "application/json").ok(t, 201, &made)
	// A forced limited level wins over the actor's full one.
	b.call("POST", "/v2/acts/"+f.full.ID+"/runs?forcePermissionLevel=LIMITED_PERMISSIONS", nil).ok(t, 201, &run)
	tok = troupe.RunToken(runSecret, b.running(run.ID))
	b.asRun(tok, "GET", "/v2/actors", nil).fails(t, 403, troupe.ErrInsufficientPermissions)
}

// TestPermissionLevelFields checks actorPermissionLevel, the actor's
// defaultRunOptions.forcePermissionLevel and the forcePermissionLevel
// parameter.
func TestPermissionLevelFields(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("levels", "")
	if a.ActorPermissionLevel != troupe.PermissionsLimited {
		t.Errorf("default level %q", a.ActorPermissionLevel)
	}
	var got troupe.Actor
	b.callJSON("POST", "/v2/acts", map[string]any{"name": "born-full", "actorPermissionLevel": "FULL_PERMISSIONS"}).ok(t, 201, &got)
	if got.ActorPermissionLevel != troupe.PermissionsFull {
		t.Errorf("created with FULL_PERMISSIONS: %q", got.ActorPermissionLevel)
	}
	b.callJSON("PUT", "/v2/acts/"+a.ID, map[string]any{"actorPermissionLevel": "ROOT"}).fails(t, 400, troupe.ErrInvalidValue)
	b.callJSON("PUT", "/v2/acts/"+a.ID, map[string]any{"defaultRunOptions": map[string]any{"forcePermissionLevel": "ROOT"}}).fails(t, 400, troupe.ErrInvalidValue)
	b.call("POST", "/v2/acts/"+a.ID+"/runs?forcePermissionLevel=ROOT", nil).fails(t, 400, troupe.ErrInvalidParameter)

	b.callJSON("PUT", "/v2/acts/"+a.ID, map[string]any{"defaultRunOptions": map[string]any{"forcePermissionLevel": "FULL_PERMISSIONS"}}).ok(t, 200, &got)
	if got.DefaultRunOptions.ForcePermissionLevel == nil || *got.DefaultRunOptions.ForcePermissionLevel != troupe.PermissionsFull {
		t.Errorf("defaultRunOptions.forcePermissionLevel = %v", got.DefaultRunOptions.ForcePermissionLevel)
	}
	run := b.start(a.ID, "", nil, "")
	if r, _ := b.store.GetRun(context.Background(), run.ID); r.PermissionLevel() != troupe.PermissionsFull {
		t.Errorf("run of an actor whose default run options force FULL_PERMISSIONS: %s", r.PermissionLevel())
	}
	run = b.start(a.ID, "?forcePermissionLevel=LIMITED_PERMISSIONS", nil, "")
	if r, _ := b.store.GetRun(context.Background(), run.ID); r.PermissionLevel() != troupe.PermissionsLimited {
		t.Errorf("run forced LIMITED_PERMISSIONS: %s", r.PermissionLevel())
	}
	// The level is not part of the run object.
	raw := b.call("GET", "/v2/actor-runs/"+run.ID, nil)
	if contains(string(raw.body), "ermission") {
		t.Errorf("run object shows a permission field: %s", raw.body)
	}
}
