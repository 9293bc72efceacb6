package e2e_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe/examples"
)

// scrapeMetrics reads /metrics with the admin token and returns every
// sample by its series (name and labels as printed).
func (s *server) scrapeMetrics(t *testing.T) map[string]float64 {
	t.Helper()
	code, body := s.getPlain(t, "/metrics", testToken)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
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

// getPlain GETs path with token ("" for none) and returns the status and body.
func (s *server) getPlain(t *testing.T, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), "GET", s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestOperatorView runs a few runs on a server of its own and checks that
// /metrics moved by exactly what they did, that the health endpoints answer
// without a token while /metrics wants the admin token, and that
// --log-format json logs JSON lines.
func TestOperatorView(t *testing.T) {
	t.Parallel()
	s, err := launch(t.TempDir(), "--log-format", "json", "--log-level", "info")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	if err := s.waitExamples(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := s.getPlain(t, p, ""); code != http.StatusOK || body != "ok\n" {
			t.Errorf("GET %s without a token: %d %q, want 200 ok", p, code, body)
		}
	}
	if code, body := s.getPlain(t, "/metrics", ""); code != http.StatusUnauthorized || !strings.Contains(body, `"token-not-provided"`) {
		t.Errorf("GET /metrics without a token: %d %s, want 401 token-not-provided", code, body)
	}
	if code, body := s.getPlain(t, "/metrics", "not-the-token"); code != http.StatusUnauthorized || !strings.Contains(body, `"invalid-token"`) {
		t.Errorf("GET /metrics with a wrong token: %d %s, want 401 invalid-token", code, body)
	}

	before := s.scrapeMetrics(t)
	for _, c := range []struct{ actor, status string }{
		{"echo", "SUCCEEDED"}, {"echo", "SUCCEEDED"}, {"failer", "FAILED"}, {"echo", "SUCCEEDED"},
	} {
		req, err := http.NewRequestWithContext(testCtx(t), "POST", s.URL+"/v2/actors/~"+c.actor+"/runs?waitForFinish=60",
			strings.NewReader(`{"message":"metrics"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Data struct{ Status string } `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusCreated || got.Data.Status != c.status {
			t.Fatalf("run %s: %d %+v %v, want 201 %s", c.actor, resp.StatusCode, got, err, c.status)
		}
	}
	want := map[string]float64{
		"troupe_runs_created_total":                       4,
		"troupe_runs_started_total":                       4,
		`troupe_runs_finished_total{outcome="SUCCEEDED"}`: 3,
		`troupe_runs_finished_total{outcome="FAILED"}`:    1,
		`troupe_runs_finished_total{outcome="ABORTED"}`:   0,
		`troupe_runs_finished_total{outcome="TIMED-OUT"}`: 0,
		"troupe_run_start_latency_seconds_count":          4,
		// Each request waited from READY, so each was woken by the finish.
		"troupe_run_finish_to_wake_seconds_count":                                                       4,
		`troupe_http_request_duration_seconds_count{code="201",route="POST /v2/actors/{actorId}/runs"}`: 4,
		`troupe_store_operation_duration_seconds_count{operation="CreateRun"}`:                          4,
		"troupe_run_takeovers_total":                                                                    0,
	}
	// A finish wakes its waiter through the store before the wrapper around
	// the store counts it, and a request is timed after its answer is sent,
	// so the counters may trail the answers by a moment: read them again
	// until they show every run, for at most 10 s.
	var after map[string]float64
	delta := func(series string) float64 { return after[series] - before[series] }
	behind := func() bool {
		for series, n := range want {
			if delta(series) < n {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		after = s.scrapeMetrics(t)
		if !behind() || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for series, n := range want {
		if got := delta(series); got != n {
			t.Errorf("%s moved by %v (%v → %v), want %v", series, got, before[series], after[series], n)
		}
	}
	for series, want := range map[string]float64{
		`troupe_runs{status="SUCCEEDED"}`:                   3,
		`troupe_runs{status="FAILED"}`:                      1,
		`troupe_runs{status="READY"}`:                       0,
		`troupe_runs{status="RUNNING"}`:                     0,
		"troupe_run_processes":                              0,
		"troupe_builds_started_total":                       float64(len(examples.Names)),
		`troupe_builds_finished_total{outcome="SUCCEEDED"}`: float64(len(examples.Names)),
	} {
		if got, ok := after[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}

	// Every log line is one JSON object; the listening line says where.
	// Only the plain "troupe: " messages for people are not logs.
	listening := false
	for _, line := range strings.Split(s.output(), "\n") {
		if line == "" || strings.HasPrefix(line, "troupe: ") {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q: %v", line, err)
			continue
		}
		if rec["msg"] == "listening" && rec["url"] == s.URL {
			listening = true
		}
	}
	if !listening {
		t.Errorf("no JSON log line {\"msg\":\"listening\",\"url\":%q}; output:\n%s", s.URL, s.output())
	}
}
