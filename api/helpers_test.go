package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
	"github.com/troupehq/troupe/sqlite"
)

const (
	adminToken = "admin-secret-token"
	userID     = "USER0000000000001"
	username   = "alice"
)

var runSecret = []byte("run-token-secret")

// bundle is one test's server: the real API on a real SQLite file, with a
// fake controller, builder and events hub.
type bundle struct {
	t       *testing.T
	srv     *httptest.Server
	api     *api.Server
	store   troupe.Store
	watched chan string
	ctrl    *fakeController
	builder *fakeBuilder
	client  *http.Client
}

// watchSignal is the real store, telling the test whenever the server
// starts watching a job (so a test can change the job while the server
// waits, without sleeping).
type watchSignal struct {
	troupe.Store
	watched chan string
}

func (w *watchSignal) Watch(id string) (<-chan struct{}, func()) {
	ch, stop := w.Store.Watch(id)
	select {
	case w.watched <- id:
	default:
	}
	return ch, stop
}

// fakeController does on Wake what the real controller would do to the
// run's status: start a READY run, end an immediately aborted one.
type fakeController struct {
	store     troupe.Store
	autoStart bool
	// onStart, when set, runs after a run was marked RUNNING (e.g. to write
	// its OUTPUT and finish it).
	onStart func(id string)

	mu    sync.Mutex
	woken []string
	stats map[string]troupe.ProcessStats
	wg    sync.WaitGroup
}

func (c *fakeController) Wake(id string) {
	c.mu.Lock()
	c.woken = append(c.woken, id)
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.reconcile(id)
	}()
}

func (c *fakeController) reconcile(id string) {
	ctx := context.Background()
	for range 5 {
		started := false
		_, err := c.store.UpdateRun(ctx, id, func(r *troupe.Run, _ troupe.StorageTx) error {
			now := troupe.Now()
			switch {
			case r.Status == troupe.StatusReady && c.autoStart:
				started = true
				return r.MarkRunning(now)
			case r.Status == troupe.StatusAborting && r.Control.Abort != nil && !r.Control.Abort.Graceful:
				return r.Finish(0, now)
			}
			return nil
		})
		if troupe.ErrorType(err) == troupe.ErrConflict {
			continue
		}
		if err == nil && started && c.onStart != nil {
			c.onStart(id)
		}
		return
	}
}

func (c *fakeController) Stats(id string) (troupe.ProcessStats, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.stats[id]
	return st, ok
}

func (c *fakeController) wokenCount(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, w := range c.woken {
		if w == id {
			n++
		}
	}
	return n
}

type fakeBuilder struct {
	mu  sync.Mutex
	ids []string
}

func (b *fakeBuilder) Enqueue(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ids = append(b.ids, id)
}

func (b *fakeBuilder) enqueued() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.ids...)
}

type fakeEvents struct{}

func (fakeEvents) ServeRun(w http.ResponseWriter, r *http.Request, runID string) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "events of "+runID)
}

// setup starts a server. autoStart makes the fake controller move READY
// runs to RUNNING when woken.
func setup(t *testing.T, autoStart bool, opts ...func(*api.Config)) *bundle {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "troupe.db"))
	if err != nil {
		t.Fatal(err)
	}
	store := &watchSignal{Store: db, watched: make(chan string, 64)}
	ctrl := &fakeController{store: db, autoStart: autoStart, stats: map[string]troupe.ProcessStats{}}
	builder := &fakeBuilder{}
	cfg := api.Config{
		Store: store, Controller: ctrl, Builder: builder, Events: fakeEvents{},
		Token: adminToken, RunTokenSecret: runSecret, UserID: userID, Username: username,
		AbortWait: 10 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	// The server runs with the connection limits troupe serve uses.
	h := api.New(cfg)
	srv := httptest.NewUnstartedServer(h)
	srv.Config = h.HTTPServer()
	srv.Start()
	b := &bundle{t: t, srv: srv, api: h, store: db, watched: store.watched, ctrl: ctrl, builder: builder,
		client: &http.Client{Transport: &http.Transport{DisableCompression: true}}}
	t.Cleanup(func() {
		srv.Close()
		ctrl.wg.Wait()
		_ = db.Close()
	})
	return b
}

// response is an answer of the server.
type response struct {
	status int
	header http.Header
	body   []byte
}

// raw sends a request as given (no token unless the header has one).
func (b *bundle) raw(method, path string, body []byte, header http.Header) response {
	b.t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, data}
}

// call sends a request with the admin token; kv are header name/value
// pairs.
func (b *bundle) call(method, path string, body []byte, kv ...string) response {
	b.t.Helper()
	h := http.Header{"Authorization": {"Bearer " + adminToken}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[0+i], kv[i+1])
	}
	return b.raw(method, path, body, h)
}

// callJSON sends v as a JSON body with the admin token.
func (b *bundle) callJSON(method, path string, v any) response {
	b.t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.call(method, path, body, "Content-Type", "application/json; charset=utf-8")
}

// ok checks the status and decodes {"data": ...} into v (when not nil).
func (r response) ok(t *testing.T, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.status, status, r.body)
	}
	if v == nil {
		return
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type = %q, want JSON", ct)
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil || env.Data == nil {
		t.Fatalf("body is not a data envelope: %s", r.body)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("decode data: %v; body: %s", err, r.body)
	}
}

// fails checks that the response is an API error of the given status and
// type, and returns its message.
func (r response) fails(t *testing.T, status int, typ string) string {
	t.Helper()
	var e struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("status %d, body is not a JSON error: %q", r.status, r.body)
	}
	if r.status != status || e.Error.Type != typ {
		t.Fatalf("got %d %s (%s), want %d %s", r.status, e.Error.Type, e.Error.Message, status, typ)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("error Content-Type = %q", ct)
	}
	if e.Error.Message == "" {
		t.Fatal("error without a message")
	}
	return e.Error.Message
}

// listPage is the envelope of a list.
type listPage[T any] struct {
	Total  int  `json:"total"`
	Offset int  `json:"offset"`
	Limit  int  `json:"limit"`
	Count  int  `json:"count"`
	Desc   bool `json:"desc"`
	Items  []T  `json:"items"`
}

// createActor creates an actor with version 0.0 through the API.
func (b *bundle) createActor(name string) *troupe.Actor {
	b.t.Helper()
	var a troupe.Actor
	b.callJSON("POST", "/v2/actors", map[string]any{
		"name": name,
		"versions": []map[string]any{{
			"versionNumber": "0.0", "sourceType": "SOURCE_FILES",
			"envVars":     []map[string]any{{"name": "GREETING", "value": "hi"}},
			"sourceFiles": []map[string]any{{"name": "main.js", "format": "TEXT", "content": "console.log(1)"}},
		}},
	}).ok(b.t, http.StatusCreated, &a)
	return &a
}

// buildActor builds version 0.0 through the API and completes the build
// the way the builder does: SUCCEEDED, with the input schema, tagged latest.
func (b *bundle) buildActor(a *troupe.Actor, inputSchema string) *troupe.Build {
	b.t.Helper()
	var bd apiBuild
	b.call("POST", "/v2/actors/"+a.ID+"/builds?version=0.0", nil).ok(b.t, http.StatusCreated, &bd)
	return b.completeBuild(bd.ID, troupe.StatusSucceeded, inputSchema)
}

func (b *bundle) completeBuild(id string, status troupe.Status, inputSchema string) *troupe.Build {
	b.t.Helper()
	ctx := context.Background()
	now := troupe.Now()
	bd, err := b.store.UpdateBuild(ctx, id, func(x *troupe.Build) error {
		x.Status, x.FinishedAt = status, &now
		if inputSchema != "" {
			x.InputSchema = json.RawMessage(inputSchema)
		}
		return nil
	})
	if err != nil {
		b.t.Fatal(err)
	}
	if status == troupe.StatusSucceeded {
		tag := bd.Tag
		if tag == "" {
			tag = "latest"
		}
		if _, err := b.store.UpdateActor(ctx, bd.ActID, func(a *troupe.Actor) error {
			if a.TaggedBuilds == nil {
				a.TaggedBuilds = map[string]*troupe.TaggedBuild{}
			}
			a.TaggedBuilds[tag] = &troupe.TaggedBuild{BuildID: bd.ID, BuildNumber: bd.BuildNumber, FinishedAt: bd.FinishedAt}
			return nil
		}); err != nil {
			b.t.Fatal(err)
		}
	}
	return bd
}

// actor creates and builds an actor.
func (b *bundle) actor(name, inputSchema string) *troupe.Actor {
	b.t.Helper()
	a := b.createActor(name)
	b.buildActor(a, inputSchema)
	return a
}

// start starts a run of actor ref through the API.
func (b *bundle) start(ref, query string, body []byte, contentType string) *troupe.Run {
	b.t.Helper()
	var kv []string
	if contentType != "" {
		kv = []string{"Content-Type", contentType}
	}
	var run troupe.Run
	b.call("POST", "/v2/actors/"+ref+"/runs"+query, body, kv...).ok(b.t, http.StatusCreated, &run)
	return &run
}

// mutate changes a run in the store as the controller would.
func (b *bundle) mutate(id string, fn func(r *troupe.Run) error) *troupe.Run {
	b.t.Helper()
	r, err := b.store.UpdateRun(context.Background(), id, func(r *troupe.Run, _ troupe.StorageTx) error { return fn(r) })
	if err != nil {
		b.t.Fatal(err)
	}
	return r
}

// running makes sure a run is RUNNING.
func (b *bundle) running(id string) *troupe.Run {
	b.t.Helper()
	return b.mutate(id, func(r *troupe.Run) error {
		if r.Status == troupe.StatusReady {
			return r.MarkRunning(troupe.Now())
		}
		return nil
	})
}

// finish ends a run with an exit code as the controller would.
func (b *bundle) finish(id string, exitCode int) *troupe.Run {
	b.t.Helper()
	return b.mutate(id, func(r *troupe.Run) error {
		if r.Status == troupe.StatusReady {
			if err := r.MarkRunning(troupe.Now()); err != nil {
				return err
			}
		}
		return r.Finish(exitCode, troupe.Now())
	})
}

// waitWatched waits until the server watches the job.
func (b *bundle) waitWatched(id string) {
	b.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-b.watched:
			if got == id {
				return
			}
		case <-timeout:
			b.t.Fatalf("the server never watched %s", id)
		}
	}
}

// drainWatched forgets the watches seen so far.
func (b *bundle) drainWatched() {
	for {
		select {
		case <-b.watched:
		default:
			return
		}
	}
}

func (b *bundle) record(storeID, key string) *troupe.Record {
	b.t.Helper()
	rec, err := b.store.GetRecord(context.Background(), storeID, key)
	if err != nil {
		b.t.Fatalf("record %s: %v", key, err)
	}
	return rec
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// apiBuild is a build as the API answers it: its version as an object and
// its input schema as a JSON string.
type apiBuild struct {
	troupe.Build
	ActVersion struct {
		VersionNumber string `json:"versionNumber"`
		BuildTag      string `json:"buildTag"`
	} `json:"actVersion"`
	InputSchema *string `json:"inputSchema"`
}
