package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/troupehq/troupe"
)

// The contract test drives a real api.Server (real SQLite store) through a
// scenario that calls every route the server registers, and checks every
// answer, success and error, against the Apify API's published OpenAPI
// document (testdata/openapi, see contract_spec_test.go).
//
// To add routes: add an entry to contractScenarios (or extend one) that
// calls them with sc.call; the test fails while a registered route is
// called by no scenario. A route the OpenAPI document does not describe
// goes in troupeOnlyRoutes with the reason.

// contractScenarios lists, per group of routes, the scenario that calls
// them. They run in order on one server; each may add ids to the fixture.
var contractScenarios = []struct {
	routes string
	run    func(sc *scenario)
}{
	{"users and store", scenarioUsers},
	{"actors and versions", scenarioActors},
	{"builds", scenarioBuilds},
	{"actor tasks", scenarioTasks},
	{"runs in every status, run operations", scenarioRuns},
	{"datasets and items", scenarioDatasets},
	{"key-value stores, records and keys", scenarioKeyValueStores},
	{"request queues, requests and locks", scenarioRequestQueues},
	{"logs", scenarioLogs},
	{"schedules", scenarioSchedules},
	{"webhooks and dispatches", scenarioWebhooks},
	{"errors: 400 401 403 404 405 413", scenarioErrors},
	{"deletions", scenarioDeletions},
}

// troupeOnlyRoutes are routes the OpenAPI document has no operation for:
// their errors are still checked against its error schema.
var troupeOnlyRoutes = map[string]string{
	"GET /v2/actor-runs/{runId}/events": "the run's events websocket (the platform serves it elsewhere)",
}

// schemaGaps are the places where the OpenAPI document contradicts itself
// and troupe follows the object's own schema: pattern → a regular
// expression of the problem it lets pass.
var schemaGaps = map[string]*regexp.Regexp{
	// The list item requires a string name, while the dataset itself (and
	// an unnamed dataset) has name null.
	"GET /v2/datasets": regexp.MustCompile(`^\$\.data\.items\[\d+\]\.name: got null, want string$`),
	// The task's items answer is documented as an object; the actor's, the
	// same answer, as the array it is.
	"GET /v2/actor-tasks/{actorTaskId}/run-sync-get-dataset-items":  regexp.MustCompile(`^: got array, want object$`),
	"POST /v2/actor-tasks/{actorTaskId}/run-sync-get-dataset-items": regexp.MustCompile(`^: got array, want object$`),
}

func knownGap(pattern, problem string) bool {
	re := schemaGaps[pattern]
	return re != nil && re.MatchString(problem)
}

func TestContract(t *testing.T) {
	spec := loadSpec(t)
	b := setup(t, false)
	sc := &scenario{t: t, b: b, spec: spec, covered: map[string]int{}, mux: http.NewServeMux()}
	for _, p := range b.api.Routes() {
		sc.mux.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	for _, s := range contractScenarios {
		t.Run(s.routes, func(t *testing.T) {
			sc.t, b.t = t, t
			s.run(sc)
		})
	}
	sc.t, b.t = t, t
	var missing []string
	for _, p := range b.api.Routes() {
		if sc.covered[p] == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d routes are called by no contract scenario:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
	t.Logf("%d requests checked over %d routes", sc.requests, len(b.api.Routes()))
}

// scenario is the state the contract scenarios share.
type scenario struct {
	t        *testing.T
	b        *bundle
	spec     *apiSpec
	mux      *http.ServeMux // the server's patterns, to name a request's route
	covered  map[string]int
	requests int
	seen     map[string]bool // problems reported, by route and status

	actor      *troupe.Actor // built, with runs in every status
	task       string        // a task of actor
	targetTask string        // a task of target
	run        *troupe.Run   // its last run, SUCCEEDED, with items, records, requests
	target     *troupe.Actor // a metamorph target
	buildID    string        // the actor's latest (tagged) build
	freeBuild  string        // a finished build no tag points at
	readyBuild string        // a build that has not started
}

// call sends a request with the admin token, checks its answer against
// the OpenAPI document and that its status is want, and returns it.
func (sc *scenario) call(want int, method, path string, body any, header ...string) response {
	sc.t.Helper()
	h := http.Header{"Authorization": {"Bearer " + adminToken}}
	return sc.send(want, method, path, body, h, header...)
}

// send is call with the given headers (no token unless they hold one).
func (sc *scenario) send(want int, method, path string, body any, h http.Header, header ...string) response {
	sc.t.Helper()
	var raw []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			sc.t.Fatal(err)
		}
		h.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	res := sc.b.raw(method, path, raw, h)
	sc.requests++
	pattern := sc.pattern(method, path)
	if pattern != "" {
		sc.covered[pattern]++
	}
	if res.status != want {
		sc.t.Errorf("%s %s: status %d, want %d; body: %.300s", method, path, res.status, want, res.body)
	}
	errs := sc.spec.check(method, path, pattern, troupeOnlyRoutes[pattern] != "", res)
	errs = slices.DeleteFunc(errs, func(e string) bool { return knownGap(pattern, e) })
	if len(errs) > 0 && !sc.reported(pattern, res.status, errs) {
		sc.t.Errorf("%s %s → %d is not a valid answer:\n  %s\n  body: %.600s", method, path, res.status,
			strings.Join(errs, "\n  "), res.body)
	}
	return res
}

// reported tells whether the same problems of a route were reported
// already, and notes them.
func (sc *scenario) reported(pattern string, status int, errs []string) bool {
	k := fmt.Sprint(pattern, status, errs)
	if sc.seen[k] {
		return true
	}
	if sc.seen == nil {
		sc.seen = map[string]bool{}
	}
	sc.seen[k] = true
	return false
}

// pattern is the route of the server a request reaches ("" for none).
func (sc *scenario) pattern(method, path string) string {
	r := httptest.NewRequest(method, path, nil)
	_, p := sc.mux.Handler(r)
	return p
}

// data decodes the data envelope of an answer into v.
func (sc *scenario) data(res response, v any) {
	sc.t.Helper()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(res.body, &env); err != nil {
		sc.t.Fatalf("not a data envelope: %s", res.body)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		sc.t.Fatalf("decode data: %v", err)
	}
}

// runPaths are the paths that name run: by id, as its task's and its
// actor's last run and under its actor (both actor prefixes). The run must
// be the last of its actor and of its task.
func runPaths(actorID, taskID, runID string) []string {
	var out []string
	out = append(out, "/v2/actor-runs/"+runID, "/v2/actor-tasks/"+taskID+"/runs/last")
	for _, p := range []string{"/v2/actors/", "/v2/acts/"} {
		out = append(out, p+actorID+"/runs/last", p+actorID+"/runs/"+runID)
	}
	return out
}

// mounts are the paths that name a storage: by id, and as the default
// storage of run (its actor's last run) under every run path.
func mounts(kind troupe.StorageKind, id string, run *troupe.Run) []string {
	task := ""
	if run.ActorTaskID != nil {
		task = *run.ActorTaskID
	}
	seg := map[troupe.StorageKind]string{troupe.KindDataset: "dataset",
		troupe.KindKeyValueStore: "key-value-store", troupe.KindRequestQueue: "request-queue"}[kind]
	out := []string{"/v2/" + string(kind) + "/" + id}
	for _, p := range runPaths(run.ActID, task, run.ID) {
		out = append(out, p+"/"+seg)
	}
	return out
}

// idOnly decodes an object's id.
type idOnly struct {
	ID string `json:"id"`
}

// startRun starts a run of task (of actor a) through the API and sets it
// RUNNING: it is the last run of both.
func (sc *scenario) startRun(task string) *troupe.Run {
	sc.t.Helper()
	var run troupe.Run
	sc.data(sc.call(201, "POST", "/v2/actor-tasks/"+task+"/runs", map[string]any{"n": 1}), &run)
	return sc.b.running(run.ID)
}

func scenarioUsers(sc *scenario) {
	for _, p := range []string{"/v2/users/me", "/v2/users/" + userID, "/v2/users/" + username} {
		var u struct {
			ID, Username string
		}
		sc.data(sc.call(200, "GET", p, nil), &u)
		if u.ID != userID || u.Username != username {
			sc.t.Errorf("GET %s = %+v, want the one account", p, u)
		}
	}
	var me struct {
		Plan struct {
			EnabledPlatformFeatures []string
		}
		EffectivePlatformFeatures map[string]struct{ IsEnabled bool }
	}
	sc.data(sc.call(200, "GET", "/v2/users/me", nil), &me)
	f := me.EffectivePlatformFeatures
	if !f["ACTORS"].IsEnabled || !f["SCHEDULER"].IsEnabled || !f["WEBHOOKS"].IsEnabled || f["PROXY"].IsEnabled || f["ACTORS_PUBLIC_ALL"].IsEnabled {
		sc.t.Errorf("platform features = %+v, want those troupe serves (no proxy configured)", f)
	}
	sc.call(404, "GET", "/v2/users/nobody", nil)
	sc.call(200, "GET", "/v2/users/me/usage/monthly", nil)
	sc.call(200, "GET", "/v2/store?limit=5", nil)
	sc.send(200, "GET", "/v2/store", nil, http.Header{}) // public, as on the platform
}

func scenarioActors(sc *scenario) {
	b := sc.b
	for _, p := range []string{"/v2/actors", "/v2/acts"} {
		sc.call(200, "GET", p+"?desc=1", nil)
	}
	var a troupe.Actor
	sc.data(sc.call(201, "POST", "/v2/actors", map[string]any{
		"name": "contract", "title": "Contract",
		"defaultRunOptions": map[string]any{"build": "latest", "memoryMbytes": 256, "timeoutSecs": 60},
		"versions": []map[string]any{{
			"versionNumber": "0.0", "sourceType": "SOURCE_FILES", "buildTag": "latest",
			"envVars":     []map[string]any{{"name": "GREETING", "value": "hi"}, {"name": "KEY", "value": "s", "isSecret": true}},
			"sourceFiles": []map[string]any{{"name": "main.js", "format": "TEXT", "content": "console.log(1)"}},
		}},
	}), &a)
	sc.call(201, "POST", "/v2/acts", map[string]any{"name": "contract-acts"})
	for _, p := range []string{"/v2/actors/", "/v2/acts/"} {
		base := p + a.ID
		sc.call(200, "GET", base, nil)
		sc.call(200, "PUT", base, map[string]any{"description": "checked against the schema"})
		sc.call(200, "GET", base+"/versions", nil)
		sc.call(200, "GET", base+"/versions/0.0", nil)
		sc.call(200, "PUT", base+"/versions/0.0", map[string]any{"buildTag": "latest"})
		n := map[string]string{"/v2/actors/": "0.1", "/v2/acts/": "0.2"}[p]
		sc.call(201, "POST", base+"/versions", map[string]any{"versionNumber": n, "sourceType": "SOURCE_FILES",
			"sourceFiles": []map[string]any{{"name": "main.js", "format": "TEXT", "content": "1"}}})
		sc.call(204, "DELETE", base+"/versions/"+n, nil)
		sc.call(200, "GET", base+"/builds", nil)
		sc.call(200, "GET", base+"/runs", nil)
		sc.call(200, "GET", base+"/webhooks", nil)
	}
	sc.actor = &a
	sc.target = b.actor("contract-target", "")
}

func scenarioBuilds(sc *scenario) {
	b, a := sc.b, sc.actor
	var bd idOnly
	sc.data(sc.call(201, "POST", "/v2/actors/"+a.ID+"/builds?version=0.0&tag=latest", nil), &bd)
	sc.call(200, "GET", "/v2/actor-builds/"+bd.ID, nil) // READY
	sc.buildID = b.completeBuild(bd.ID, troupe.StatusSucceeded, `{"title":"in","type":"object","schemaVersion":1,"properties":{}}`).ID
	sc.call(200, "GET", "/v2/actor-builds/"+sc.buildID, nil)
	for _, p := range []string{"/v2/actors/", "/v2/acts/"} {
		sc.call(200, "GET", p+a.ID+"/builds/default", nil)
		var other idOnly
		sc.data(sc.call(201, "POST", p+a.ID+"/builds?version=0.0&tag=other", nil), &other)
		sc.readyBuild = other.ID
	}
	// A failed build no tag points at (deleted later), and one aborted
	// before it started.
	var free idOnly
	sc.data(sc.call(201, "POST", "/v2/acts/"+a.ID+"/builds?version=0.0&tag=spare", nil), &free)
	sc.freeBuild = b.completeBuild(free.ID, troupe.StatusFailed, "").ID
	sc.call(200, "GET", "/v2/actor-builds/"+sc.freeBuild, nil)
	var aborted idOnly
	sc.data(sc.call(201, "POST", "/v2/actors/"+a.ID+"/builds?version=0.0&tag=never", nil), &aborted)
	sc.call(200, "POST", "/v2/actor-builds/"+aborted.ID+"/abort", nil)
	sc.call(200, "GET", "/v2/actor-builds/"+aborted.ID, nil)
	sc.call(200, "GET", "/v2/actor-builds/"+aborted.ID+"/log", nil)
	sc.call(200, "GET", "/v2/actors/"+a.ID+"/builds?desc=1&limit=10", nil)
	// The scenario's builds are made without the builder: no archive.
	sc.call(404, "GET", "/v2/actor-builds/"+sc.buildID+"/artifact", nil)
}

func scenarioTasks(sc *scenario) {
	sc.call(200, "GET", "/v2/actor-tasks", nil)
	var t, tt idOnly
	sc.data(sc.call(201, "POST", "/v2/actor-tasks", map[string]any{"actId": sc.actor.ID, "name": "contract-task",
		"input": map[string]any{"hello": "task"}, "options": map[string]any{"build": "latest", "memoryMbytes": 256}}), &t)
	sc.data(sc.call(201, "POST", "/v2/actor-tasks", map[string]any{"actId": sc.target.ID, "name": "target-task"}), &tt)
	sc.task, sc.targetTask = t.ID, tt.ID
	p := "/v2/actor-tasks/" + t.ID
	sc.call(200, "GET", p, nil)
	sc.call(200, "PUT", p, map[string]any{"title": "Contract task"})
	sc.call(200, "GET", p+"/input", nil)
	sc.call(200, "PUT", p+"/input", map[string]any{"hello": "again"})
	sc.call(200, "GET", p+"/runs", nil)
	sc.call(200, "GET", p+"/webhooks", nil)
	var gone idOnly
	sc.data(sc.call(201, "POST", "/v2/actor-tasks", map[string]any{"actId": sc.actor.ID, "name": "gone-task"}), &gone)
	sc.call(204, "DELETE", "/v2/actor-tasks/"+gone.ID, nil)
}

func scenarioSchedules(sc *scenario) {
	sc.call(200, "GET", "/v2/schedules", nil)
	var s idOnly
	sc.data(sc.call(201, "POST", "/v2/schedules", map[string]any{"name": "contract-schedule",
		"cronExpression": "@daily", "timezone": "Europe/Prague", "isEnabled": true, "isExclusive": true,
		"actions": []map[string]any{{"type": "RUN_ACTOR", "actorId": sc.actor.ID},
			{"type": "RUN_ACTOR_TASK", "actorTaskId": sc.task}}}), &s)
	p := "/v2/schedules/" + s.ID
	sc.call(200, "GET", p, nil)
	sc.call(200, "PUT", p, map[string]any{"cronExpression": "0 8 * * 1", "isEnabled": false})
	sc.call(200, "GET", p+"/log", nil)
	sc.call(204, "DELETE", p, nil)
}

func scenarioWebhooks(sc *scenario) {
	sc.call(200, "GET", "/v2/webhooks", nil)
	var h idOnly
	sc.data(sc.call(201, "POST", "/v2/webhooks", map[string]any{
		"eventTypes": []string{"ACTOR.RUN.SUCCEEDED", "ACTOR.RUN.FAILED"},
		"condition":  map[string]any{"actorId": sc.actor.ID}, "requestUrl": "http://127.0.0.1:9/hook",
		"idempotencyKey": "contract-1"}), &h)
	p := "/v2/webhooks/" + h.ID
	sc.call(200, "GET", p, nil)
	sc.call(200, "PUT", p, map[string]any{"description": "checked"})
	var d idOnly
	sc.data(sc.call(201, "POST", p+"/test", nil), &d)
	sc.call(200, "GET", p+"/dispatches", nil)
	sc.call(200, "GET", "/v2/webhook-dispatches", nil)
	sc.call(200, "GET", "/v2/webhook-dispatches/"+d.ID, nil)
	sc.call(204, "DELETE", p, nil)
}

func scenarioRuns(sc *scenario) {
	b, a := sc.b, sc.actor
	now := troupe.Now
	// One run in every status, each read by id and listed.
	steps := map[troupe.Status]func(r *troupe.Run) error{
		troupe.StatusReady:   func(*troupe.Run) error { return nil },
		troupe.StatusRunning: func(r *troupe.Run) error { return r.MarkRunning(now()) },
		troupe.StatusSucceeded: func(r *troupe.Run) error {
			return errors.Join(r.MarkRunning(now()), r.Finish(0, now()))
		},
		troupe.StatusFailed: func(r *troupe.Run) error {
			return errors.Join(r.MarkRunning(now()), r.Finish(3, now()))
		},
		troupe.StatusTimingOut: func(r *troupe.Run) error {
			return errors.Join(r.MarkRunning(now()), r.BeginTimeout())
		},
		troupe.StatusTimedOut: func(r *troupe.Run) error {
			return errors.Join(r.MarkRunning(now()), r.BeginTimeout(), r.Finish(0, now()))
		},
		troupe.StatusAborting: func(r *troupe.Run) error {
			if err := r.MarkRunning(now()); err != nil {
				return err
			}
			_, err := r.RequestAbort(true, now())
			return err
		},
		troupe.StatusAborted: func(r *troupe.Run) error {
			_, err := r.RequestAbort(false, now())
			return err
		},
	}
	for st, step := range steps {
		var run troupe.Run
		sc.data(sc.call(201, "POST", "/v2/acts/"+a.ID+"/runs?timeout=30&memory=512", map[string]any{"status": st}), &run)
		got := b.mutate(run.ID, step)
		if got.Status != st {
			sc.t.Fatalf("run is %s, want %s", got.Status, st)
		}
		sc.call(200, "GET", "/v2/actor-runs/"+run.ID, nil)
		sc.call(200, "GET", "/v2/actor-runs?status="+string(st), nil)
	}
	sc.call(200, "GET", "/v2/actor-runs?desc=1&limit=20", nil)
	sc.call(200, "GET", "/v2/actors/"+a.ID+"/runs?desc=1", nil)

	// Every run operation under every path that names a run; each gets a
	// fresh RUNNING run, its actor's last.
	for i := range runPaths(a.ID, sc.task, "x") {
		run := sc.startRun(sc.task)
		p := runPaths(a.ID, sc.task, run.ID)[i]
		sc.call(200, "GET", p, nil)
		sc.call(200, "PUT", p, map[string]any{"statusMessage": "halfway", "isStatusMessageTerminal": false})
		sc.call(400, "POST", p+"/charge", map[string]any{"eventName": "item", "count": 1})
		sc.call(200, "GET", p+"/log", nil)
		sc.call(200, "POST", p+"/reboot", nil)
		// Into its own actor, so that the paths keep naming the run.
		sc.call(200, "POST", p+"/metamorph?targetActorId="+a.ID, map[string]any{"m": 1})
		sc.call(200, "POST", p+"/abort", nil)
		sc.call(200, "POST", p+"/resurrect", nil)
		b.finish(run.ID, 0)
		sc.call(204, "DELETE", p, nil)
	}
	run := sc.startRun(sc.task)
	sc.call(200, "GET", "/v2/actor-runs/"+run.ID+"/events", nil)
	sc.call(200, "POST", "/v2/actor-runs/"+run.ID+"/abort?gracefully=1", nil)

	// run-sync: the fake controller starts a run and finishes it with the
	// input's items in its dataset.
	b.ctrl.wg.Wait()
	b.ctrl.autoStart = true
	b.ctrl.onStart = func(id string) {
		ctx := context.Background()
		run, err := b.store.GetRun(ctx, id)
		if err != nil {
			return
		}
		_ = b.store.PushItems(ctx, run.DefaultDatasetID, []json.RawMessage{json.RawMessage(`{"a":1}`)})
		_, _ = b.store.UpdateRun(ctx, id, func(r *troupe.Run, tx troupe.StorageTx) error {
			if err := tx.PutRecord(ctx, r.DefaultKeyValueStoreID, &troupe.Record{Key: "OUTPUT", Value: []byte(`{"ok":true}`), ContentType: "application/json; charset=utf-8"}); err != nil {
				return err
			}
			return r.Finish(0, troupe.Now())
		})
	}
	for _, p := range []string{"/v2/actors/" + a.ID, "/v2/acts/" + a.ID, "/v2/actor-tasks/" + sc.task} {
		for _, m := range []string{"GET", "POST"} {
			sc.call(201, m, p+"/run-sync", nil)
			sc.call(201, m, p+"/run-sync-get-dataset-items", nil)
		}
	}
	// The actor's and task's last run: finished, with an item and a record.
	var last troupe.Run
	sc.data(sc.call(201, "POST", "/v2/actor-tasks/"+sc.task+"/runs?waitForFinish=10", map[string]any{"last": true}), &last)
	b.ctrl.wg.Wait()
	b.ctrl.autoStart, b.ctrl.onStart = false, nil
	sc.run = &last
}

func scenarioDatasets(sc *scenario) {
	for _, q := range []string{"", "?unnamed=1&desc=1", "?offset=1&limit=1"} {
		sc.call(200, "GET", "/v2/datasets"+q, nil)
	}
	var ds troupe.Storage
	sc.data(sc.call(201, "POST", "/v2/datasets?name=contract-items", nil), &ds)
	sc.call(200, "POST", "/v2/datasets?name=contract-items", nil)
	for i, m := range mounts(troupe.KindDataset, ds.ID, sc.run) {
		sc.call(201, "POST", m+"/items", []map[string]any{{"i": i, "url": "http://example.com/"}, {"i": i, "nested": map[string]any{"x": 1}}})
		sc.call(200, "GET", m, nil)
		sc.call(200, "GET", m+"/items", nil)
		sc.call(200, "GET", m+"/items?format=csv&fields=i", nil)
		sc.call(200, "GET", m+"/items?format=jsonl&clean=1", nil)
		sc.call(200, "GET", m+"/statistics", nil)
		if i == 0 {
			sc.call(200, "PUT", m, map[string]any{"name": "contract-items-2"})
		} else {
			sc.call(200, "PUT", m, map[string]any{"title": "t"})
		}
	}
	sc.call(200, "GET", "/v2/datasets/~contract-items-2/items?offset=1&limit=1&desc=1", nil)
}

func scenarioKeyValueStores(sc *scenario) {
	sc.call(200, "GET", "/v2/key-value-stores", nil)
	var kv troupe.Storage
	sc.data(sc.call(201, "POST", "/v2/key-value-stores?name=contract-kv", nil), &kv)
	for i, m := range mounts(troupe.KindKeyValueStore, kv.ID, sc.run) {
		key := fmt.Sprintf("k%d", i)
		sc.call(201, "PUT", m+"/records/"+key, map[string]any{"i": i})
		sc.call(201, "POST", m+"/records/"+key+"-text", "plain", "Content-Type", "text/plain")
		sc.call(200, "GET", m+"/records/"+key, nil)
		sc.call(200, "GET", m+"/records/"+key+"-text", nil)
		sc.call(200, "GET", m+"/keys?limit=2", nil)
		sc.call(200, "GET", m+"/keys?exclusiveStartKey=k0&prefix=k", nil)
		sc.call(200, "GET", m, nil)
		sc.call(200, "PUT", m, map[string]any{"title": "t"})
		sc.call(204, "DELETE", m+"/records/"+key+"-text", nil)
		sc.call(404, "GET", m+"/records/"+key+"-text", nil)
	}
	sc.call(200, "GET", "/v2/key-value-stores?unnamed=1&desc=1&limit=3", nil)
}

func scenarioRequestQueues(sc *scenario) {
	sc.call(200, "GET", "/v2/request-queues", nil)
	var rq troupe.Storage
	sc.data(sc.call(201, "POST", "/v2/request-queues?name=contract-rq", nil), &rq)
	for i, m := range mounts(troupe.KindRequestQueue, rq.ID, sc.run) {
		ck := fmt.Sprintf("clientKey=c%d", i)
		u := func(n int) string { return fmt.Sprintf("http://example.com/%d/%d", i, n) }
		var added struct {
			RequestID string `json:"requestId"`
		}
		sc.data(sc.call(201, "POST", m+"/requests?"+ck, map[string]any{"url": u(0), "uniqueKey": u(0), "method": "GET"}), &added)
		sc.call(201, "POST", m+"/requests?forefront=1&"+ck, map[string]any{"url": u(1), "uniqueKey": u(1), "method": "GET", "userData": map[string]any{"label": "x"}})
		sc.call(201, "POST", m+"/requests/batch?"+ck, []map[string]any{{"url": u(2), "uniqueKey": u(2), "method": "GET"}, {"url": u(3), "uniqueKey": u(3)}})
		sc.call(200, "GET", m+"/requests?limit=2&"+ck, nil)
		sc.call(200, "GET", m+"/requests/"+added.RequestID+"?"+ck, nil)
		sc.call(200, "GET", m+"/head?limit=2&"+ck, nil)
		sc.call(201, "POST", m+"/head/lock?lockSecs=60&limit=2&"+ck, nil)
		id1 := troupe.RequestID(u(1))
		sc.call(200, "PUT", m+"/requests/"+id1+"/lock?lockSecs=120&"+ck, nil)
		sc.call(204, "DELETE", m+"/requests/"+id1+"/lock?"+ck, nil)
		sc.call(200, "POST", m+"/requests/unlock?"+ck, nil)
		sc.call(200, "PUT", m+"/requests/"+added.RequestID+"?"+ck, map[string]any{"id": added.RequestID,
			"url": u(0), "uniqueKey": u(0), "method": "GET", "handledAt": "2026-01-02T03:04:05.000Z"})
		sc.call(204, "DELETE", m+"/requests/"+troupe.RequestID(u(2))+"?"+ck, nil)
		sc.call(200, "DELETE", m+"/requests/batch?"+ck, []map[string]any{{"uniqueKey": u(3)}})
		sc.call(200, "GET", m, nil)
		sc.call(200, "PUT", m, map[string]any{"title": "t"})
	}
}

func scenarioLogs(sc *scenario) {
	sc.call(200, "GET", "/v2/logs/"+sc.run.ID, nil)
	sc.call(200, "GET", "/v2/logs/"+sc.buildID, nil)
	sc.call(200, "GET", "/v2/actor-builds/"+sc.buildID+"/log", nil)
	sc.call(200, "GET", "/v2/actor-runs/"+sc.run.ID+"/log?raw=1", nil)
	sc.call(404, "GET", "/v2/logs/nothing", nil)
}

func scenarioErrors(sc *scenario) {
	a := sc.actor
	sc.send(401, "GET", "/v2/actor-runs", nil, http.Header{})
	sc.send(401, "GET", "/v2/actors/"+a.ID, nil, http.Header{"Authorization": {"Bearer wrong"}})
	// A limited run's token is refused what its run may not reach.
	run := sc.startRun(sc.task)
	tok := troupe.RunToken(runSecret, run)
	sc.send(403, "GET", "/v2/actor-runs", nil, http.Header{"Authorization": {"Bearer " + tok}})
	sc.send(403, "GET", "/v2/datasets/"+sc.run.DefaultDatasetID+"/items", nil, http.Header{"Authorization": {"Bearer " + tok}})
	sc.send(200, "GET", "/v2/users/me", nil, http.Header{"Authorization": {"Bearer " + tok}})
	sc.b.finish(run.ID, 0)

	sc.call(400, "GET", "/v2/actor-runs?limit=x", nil)
	sc.call(400, "POST", "/v2/actors/"+a.ID+"/runs?memory=100", nil)
	sc.call(400, "POST", "/v2/actors/"+a.ID+"/runs?build=nope", nil)
	sc.call(400, "POST", "/v2/actors", "{", "Content-Type", "application/json")
	sc.call(400, "POST", "/v2/actor-runs/"+sc.run.ID+"/reboot", nil)
	sc.call(400, "GET", "/v2/key-value-stores/"+sc.run.DefaultKeyValueStoreID+"/records/bad%20key", nil)
	sc.call(409, "POST", "/v2/actors", map[string]any{"name": "contract"})
	sc.call(404, "GET", "/v2/actors/nope", nil)
	sc.call(404, "GET", "/v2/actor-runs/nope", nil)
	sc.call(404, "GET", "/v2/actor-builds/nope", nil)
	sc.call(404, "GET", "/v2/datasets/nope", nil)
	sc.call(404, "GET", "/v2/key-value-stores/nope/records/x", nil)
	sc.call(404, "GET", "/v2/request-queues/nope/head", nil)
	sc.call(404, "GET", "/v2/nothing-here", nil)
	sc.call(405, "PATCH", "/v2/actor-runs/"+sc.run.ID, nil)
	sc.call(405, "POST", "/v2/users/me", nil)
	sc.call(413, "POST", "/v2/datasets/"+sc.run.DefaultDatasetID+"/items",
		bytes.Repeat([]byte(" "), 10<<20), "Content-Type", "application/json")
}

func scenarioDeletions(sc *scenario) {
	sc.call(400, "DELETE", "/v2/actor-builds/"+sc.readyBuild, nil)
	sc.call(400, "DELETE", "/v2/actor-builds/"+sc.buildID, nil)
	sc.call(204, "DELETE", "/v2/actor-builds/"+sc.freeBuild, nil)
	sc.call(404, "GET", "/v2/actor-builds/"+sc.freeBuild, nil)
	sc.call(404, "DELETE", "/v2/actor-builds/"+sc.freeBuild, nil)
	kinds := []troupe.StorageKind{troupe.KindDataset, troupe.KindKeyValueStore, troupe.KindRequestQueue}
	for _, kind := range kinds {
		var st troupe.Storage
		sc.data(sc.call(201, "POST", "/v2/"+string(kind)+"?name=to-delete", nil), &st)
		sc.call(204, "DELETE", "/v2/"+string(kind)+"/"+st.ID, nil)
	}
	// A run's default storages under every path that names the run; each
	// path gets a fresh run of its own (its actor's last).
	for i := range runPaths(sc.target.ID, sc.targetTask, "x") {
		run := sc.startRun(sc.targetTask)
		sc.b.finish(run.ID, 0)
		p := runPaths(sc.target.ID, sc.targetTask, run.ID)[i]
		for _, seg := range []string{"dataset", "key-value-store", "request-queue"} {
			sc.call(204, "DELETE", p+"/"+seg, nil)
		}
	}
	for _, p := range []string{"/v2/actors/", "/v2/acts/"} {
		var x troupe.Actor
		sc.data(sc.call(201, "POST", "/v2/actors", map[string]any{"name": "gone" + strings.Trim(p, "/v2")}), &x)
		sc.call(204, "DELETE", p+x.ID, nil)
	}
}
