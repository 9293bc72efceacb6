package metrics_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/controller/controllertest"
	"github.com/troupehq/troupe/metrics"
	"github.com/troupehq/troupe/sqlite"
)

// scrape reads the metrics as a Prometheus server would and returns every
// sample by its series (name and labels as printed).
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return parse(t, rec.Body)
}

func parse(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// want fails t for every series whose value is not the one given.
func want(t *testing.T, got map[string]float64, wants map[string]float64) {
	t.Helper()
	for series, w := range wants {
		if v, ok := got[series]; !ok || v != w {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, w)
		}
	}
}

func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "troupe.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newRun(startedAt time.Time) *troupe.Run {
	return &troupe.Run{
		ID: troupe.NewID(), ActID: "act1", UserID: "user1", StartedAt: startedAt,
		Status: troupe.StatusReady, Meta: troupe.RunMeta{Origin: troupe.OriginAPI},
		Options: troupe.RunOptions{Build: "latest", TimeoutSecs: 60, MemoryMbytes: 1024, DiskMbytes: 2048},
		BuildID: "build1", BuildNumber: "0.0.1", GeneralAccess: "FOLLOW_USER_SETTING",
		DefaultDatasetID: troupe.NewID(), DefaultKeyValueStoreID: troupe.NewID(), DefaultRequestQueueID: troupe.NewID(),
	}
}

// TestStoreCountsStatusChanges drives a real SQLite store through the
// wrapper as the API, controller and builder do, and checks every counter
// moved by exactly what was written.
func TestStoreCountsStatusChanges(t *testing.T) {
	ctx := t.Context()
	raw := openStore(t)
	m := metrics.New(metrics.Options{})
	m.RegisterRunsByStatus(raw)
	s := m.Store(raw)
	h := m.Handler("")

	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	latest := map[string]*troupe.Run{}
	update := func(id string, fn func(r *troupe.Run) error) {
		t.Helper()
		r, err := s.UpdateRun(ctx, id, func(r *troupe.Run, _ troupe.StorageTx) error { return fn(r) })
		if err != nil {
			t.Fatalf("update %s: %v", id, err)
		}
		latest[id] = r
	}
	// The controller's writes start from the run it holds.
	updateFrom := func(id string, fn func(r *troupe.Run) error) {
		t.Helper()
		if _, err := s.UpdateRunFrom(ctx, latest[id], func(r *troupe.Run, _ troupe.StorageTx) error { return fn(r) }); err != nil {
			t.Fatalf("update %s: %v", id, err)
		}
	}
	var runs []*troupe.Run
	for range 5 {
		r := newRun(t0)
		if err := s.CreateRun(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	// Three start, 250 ms, 500 ms and 2 s after they were accepted.
	for i, d := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second} {
		update(runs[i].ID, func(r *troupe.Run) error {
			r.Control.Owner = "a"
			return r.MarkRunning(t0.Add(d))
		})
	}
	updateFrom(runs[0].ID, func(r *troupe.Run) error { return r.Finish(0, t0.Add(3*time.Second)) })
	updateFrom(runs[1].ID, func(r *troupe.Run) error { return r.Finish(3, t0.Add(3*time.Second)) })
	// Replica b takes over run 2, which then times out.
	update(runs[2].ID, func(r *troupe.Run) error { r.Control.Owner = "b"; return nil })
	update(runs[2].ID, func(r *troupe.Run) error { return r.BeginTimeout() })
	update(runs[2].ID, func(r *troupe.Run) error { return r.Finish(-1, t0.Add(5*time.Second)) })
	// Run 3 is aborted while READY; run 4 stays READY.
	update(runs[3].ID, func(r *troupe.Run) error { _, err := r.RequestAbort(false, t0.Add(time.Second)); return err })
	// A mutation that refuses changes nothing and is not the store's error.
	refused := errors.New("no change")
	if _, err := s.UpdateRun(ctx, runs[4].ID, func(*troupe.Run, troupe.StorageTx) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("refused update: %v", err)
	}
	if _, err := s.GetRun(ctx, "nosuchrun"); !troupe.IsNotFound(err) {
		t.Fatalf("GetRun of a missing run: %v", err)
	}

	// A build starts and succeeds, another fails without starting.
	for _, end := range []troupe.Status{troupe.StatusSucceeded, troupe.StatusFailed} {
		b := &troupe.Build{ID: troupe.NewID(), ActID: "act1", UserID: "user1", StartedAt: t0, Status: troupe.StatusReady}
		if err := s.CreateBuild(ctx, b); err != nil {
			t.Fatal(err)
		}
		if end == troupe.StatusSucceeded {
			if _, err := s.UpdateBuild(ctx, b.ID, func(b *troupe.Build) error { b.Status = troupe.StatusRunning; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.UpdateBuild(ctx, b.ID, func(b *troupe.Build) error { b.Status = end; return nil }); err != nil {
			t.Fatal(err)
		}
	}

	got := scrape(t, h)
	want(t, got, map[string]float64{
		"troupe_runs_created_total":                                            5,
		"troupe_runs_started_total":                                            3,
		`troupe_runs_finished_total{outcome="SUCCEEDED"}`:                      1,
		`troupe_runs_finished_total{outcome="FAILED"}`:                         1,
		`troupe_runs_finished_total{outcome="TIMED-OUT"}`:                      1,
		`troupe_runs_finished_total{outcome="ABORTED"}`:                        1,
		"troupe_run_takeovers_total":                                           1,
		"troupe_run_start_latency_seconds_count":                               3,
		"troupe_run_start_latency_seconds_sum":                                 2.75,
		`troupe_run_start_latency_seconds_bucket{le="0.25"}`:                   1,
		`troupe_run_start_latency_seconds_bucket{le="0.5"}`:                    2,
		`troupe_run_start_latency_seconds_bucket{le="2.5"}`:                    3,
		"troupe_builds_started_total":                                          1,
		`troupe_builds_finished_total{outcome="SUCCEEDED"}`:                    1,
		`troupe_builds_finished_total{outcome="FAILED"}`:                       1,
		`troupe_runs{status="READY"}`:                                          1,
		`troupe_runs{status="RUNNING"}`:                                        0,
		`troupe_runs{status="SUCCEEDED"}`:                                      1,
		`troupe_runs{status="FAILED"}`:                                         1,
		`troupe_runs{status="TIMED-OUT"}`:                                      1,
		`troupe_runs{status="ABORTED"}`:                                        1,
		`troupe_store_operation_duration_seconds_count{operation="CreateRun"}`: 5,
		// 3 starts, the takeover, 2 steps of the timeout, the abort; the
		// refused mutation is timed too. The 2 finishes are UpdateRunFrom.
		`troupe_store_operation_duration_seconds_count{operation="UpdateRun"}`:     8,
		`troupe_store_operation_duration_seconds_count{operation="UpdateRunFrom"}`: 2,
		`troupe_store_operation_duration_seconds_count{operation="GetRun"}`:        1,
		`troupe_store_errors_total{operation="UpdateRun"}`:                         0,
		`troupe_store_errors_total{operation="GetRun"}`:                            0,
	})
	if got["go_goroutines"] <= 0 || got["process_resident_memory_bytes"] <= 0 {
		t.Errorf("Go and process collectors missing: go_goroutines %v, process_resident_memory_bytes %v",
			got["go_goroutines"], got["process_resident_memory_bytes"])
	}

	// Once the store is closed, its failures are counted and troupe_runs
	// is left out rather than reported wrong.
	raw.Close()
	if _, err := s.GetRun(ctx, runs[0].ID); err == nil {
		t.Fatal("GetRun on a closed store succeeded")
	}
	got = scrape(t, h)
	want(t, got, map[string]float64{`troupe_store_errors_total{operation="GetRun"}`: 1})
	if v, ok := got[`troupe_runs{status="READY"}`]; ok {
		t.Errorf("troupe_runs{status=READY} = %v from a closed store", v)
	}
}

// TestHandlerToken: with a token, /metrics answers 401 with the API's
// error types to a request without it or with another one.
func TestHandlerToken(t *testing.T) {
	h := metrics.New(metrics.Options{}).Handler("secret")
	for _, c := range []struct {
		auth     string
		code     int
		errorTyp string
	}{
		{"", 401, "token-not-provided"},
		{"Bearer wrong", 401, "invalid-token"},
		{"Bearer secret", 200, ""},
	} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.errorTyp) {
			t.Errorf("Authorization %q: %d %s, want %d %s", c.auth, rec.Code, rec.Body, c.code, c.errorTyp)
		}
		if c.code == 200 && !strings.Contains(rec.Body.String(), "troupe_runs_created_total 0") {
			t.Errorf("authorized scrape lacks troupe_runs_created_total: %s", rec.Body)
		}
	}
}

// TestInstrumentAPI: requests are timed by the pattern of the route that
// served them, never by their path.
func TestInstrumentAPI(t *testing.T) {
	m := metrics.New(metrics.Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/actor-runs/{runId}", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("POST /v2/actor-runs/{runId}/abort", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	})
	h := m.InstrumentAPI(mux)
	for _, p := range []string{"GET /v2/actor-runs/a", "GET /v2/actor-runs/b", "POST /v2/actor-runs/a/abort", "GET /nowhere"} {
		method, path, _ := strings.Cut(p, " ")
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
	}
	got := scrape(t, m.Handler(""))
	want(t, got, map[string]float64{
		`troupe_http_request_duration_seconds_count{code="200",route="GET /v2/actor-runs/{runId}"}`:        2,
		`troupe_http_request_duration_seconds_count{code="400",route="POST /v2/actor-runs/{runId}/abort"}`: 1,
		`troupe_http_request_duration_seconds_count{code="404",route="unmatched"}`:                         1,
	})
	for series := range got {
		if strings.Contains(series, "actor-runs/a") || strings.Contains(series, "nowhere") {
			t.Errorf("a raw path became a label: %s", series)
		}
	}
}

// TestExecutorCountsProcesses: a process counts from its start until it
// is done.
func TestExecutorCountsProcesses(t *testing.T) {
	m := metrics.New(metrics.Options{})
	fake := &fakeExecutor{}
	ex := m.Executor(fake)
	p1, err := ex.Start(context.Background(), &troupe.ExecSpec{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Start(context.Background(), &troupe.ExecSpec{RunID: "r2"}); err != nil {
		t.Fatal(err)
	}
	fake.fail = true
	if _, err := ex.Start(context.Background(), &troupe.ExecSpec{RunID: "r3"}); err == nil {
		t.Fatal("failing start succeeded")
	}
	want(t, scrape(t, m.Handler("")), map[string]float64{"troupe_run_processes": 2})
	close(fake.procs[0].done)
	<-p1.Done()
	want(t, scrape(t, m.Handler("")), map[string]float64{"troupe_run_processes": 1})
}

type fakeExecutor struct {
	fail  bool
	procs []*fakeProcess
}

func (f *fakeExecutor) Start(context.Context, *troupe.ExecSpec) (troupe.Process, error) {
	if f.fail {
		return nil, errors.New("cannot start")
	}
	p := &fakeProcess{done: make(chan struct{})}
	f.procs = append(f.procs, p)
	return p, nil
}

func (f *fakeExecutor) KillOrphan(int, uint64) error { return nil }

type fakeProcess struct{ done chan struct{} }

func (p *fakeProcess) PID() int                   { return 1 }
func (p *fakeProcess) StartTime() uint64          { return 1 }
func (p *fakeProcess) Done() <-chan struct{}      { return p.done }
func (p *fakeProcess) Exit() troupe.ExitStatus    { return troupe.ExitStatus{} }
func (p *fakeProcess) Kill() error                { return nil }
func (p *fakeProcess) Stats() troupe.ProcessStats { return troupe.ProcessStats{} }

// BenchmarkInstrumentAPI measures what timing a request by its route adds
// to a bare ServeMux route.
func BenchmarkInstrumentAPI(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/actor-runs/{runId}", func(w http.ResponseWriter, _ *http.Request) {})
	req := httptest.NewRequest("GET", "/v2/actor-runs/abc", nil)
	w := httptest.NewRecorder()
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			mux.ServeHTTP(w, req)
		}
	})
	b.Run("instrumented", func(b *testing.B) {
		h := metrics.New(metrics.Options{}).InstrumentAPI(mux)
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
	})
}

// TestWebhookCalls: each recorded webhook call counts by the outcome of its
// dispatch, with its duration.
func TestWebhookCalls(t *testing.T) {
	ctx := t.Context()
	m := metrics.New(metrics.Options{})
	s := m.Store(openStore(t))
	now := time.Now().UTC().Truncate(time.Millisecond)
	url := "http://127.0.0.1:9/hook"
	hook, err := troupe.NewWebhook(&troupe.WebhookFields{EventTypes: []string{troupe.EventRunCreated},
		Condition: &troupe.WebhookCondition{ActorID: &url}, RequestURL: &url}, "user1", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateWebhook(ctx, hook); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TestWebhook(ctx, hook.ID, map[string]string{"id": "x"}); err != nil {
		t.Fatal(err)
	}
	// The first call fails and is retried at once; the second succeeds.
	for i, status := range []string{troupe.DispatchActive, troupe.DispatchSucceeded} {
		claimed, err := s.ClaimDispatches(ctx, "a", time.Minute, 1)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim %d: %d dispatches, %v", i, len(claimed), err)
		}
		end := time.Now()
		took := time.Duration(i+1) * 250 * time.Millisecond // 250 ms, then 500 ms
		call := troupe.WebhookCall{StartedAt: end.Add(-took), FinishedAt: &end}
		if err := s.FinishCall(ctx, claimed[0], call, status, time.Now().Add(-time.Second)); err != nil {
			t.Fatalf("finish call %d: %v", i, err)
		}
	}
	want(t, scrape(t, m.Handler("")), map[string]float64{
		`troupe_webhook_calls_total{outcome="RETRY"}`:                           1,
		`troupe_webhook_calls_total{outcome="SUCCEEDED"}`:                       1,
		`troupe_webhook_calls_total{outcome="FAILED"}`:                          0,
		"troupe_webhook_call_duration_seconds_count":                            2,
		"troupe_webhook_call_duration_seconds_sum":                              0.75,
		`troupe_store_operation_duration_seconds_count{operation="FinishCall"}`: 2,
	})
}

// TestRemoteExecutorCountsAdopted: the wrapper of a remote executor is
// one, and an adopted process counts until it is done.
func TestRemoteExecutorCountsAdopted(t *testing.T) {
	m := metrics.New(metrics.Options{})
	rex := controllertest.NewRemoteExecutor()
	ex, ok := m.Executor(rex).(troupe.RemoteExecutor)
	if !ok {
		t.Fatal("the wrapper of a remote executor is not a troupe.RemoteExecutor")
	}
	if ex.WorkDir() != controllertest.RemoteWorkDir {
		t.Errorf("WorkDir() = %q", ex.WorkDir())
	}
	started, err := rex.Start(context.Background(), &troupe.ExecSpec{RunID: "r1", Generation: 1, Output: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ex.Adopt(context.Background(), &troupe.ExecSpec{RunID: "r1", Generation: 1, Output: func(string) {}}, 0)
	if err != nil || p == nil {
		t.Fatalf("Adopt = %v, %v", p, err)
	}
	want(t, scrape(t, m.Handler("")), map[string]float64{"troupe_run_processes": 1})
	started.(*controllertest.Process).ExitCode(0)
	<-p.Done()
	want(t, scrape(t, m.Handler("")), map[string]float64{"troupe_run_processes": 0})
}
