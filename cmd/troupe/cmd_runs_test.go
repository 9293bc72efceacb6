package main

import (
	"encoding/json"
	"github.com/troupehq/troupe/client"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestCLIRunsLs(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	page := map[string]any{
		"total": 2, "offset": 0, "limit": 10, "count": 2, "desc": true,
		"items": []*client.Run{
			sampleRun("r2", client.StatusRunning, "Crawling\nmore"),
			sampleRun("r1", client.StatusSucceeded, "Actor finished with exit code 0"),
		},
	}
	f.data("GET /v2/actor-runs", 200, page)
	f.data("GET /v2/actors/{id}/runs", 200, page)

	out, _, err := f.run("runs", "ls", "--status", "running", "--status", "succeeded,FAILED", "--limit", "10", "--desc")
	if err != nil {
		t.Fatal(err)
	}
	q := f.one("GET", "/v2/actor-runs").Query
	if q.Get("status") != "RUNNING,SUCCEEDED,FAILED" || q.Get("limit") != "10" || q.Get("desc") != "1" || q.Has("offset") {
		t.Errorf("query %v", q)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want a header and 2 runs:\n%s", len(lines), out)
	}
	for _, col := range []string{"ID", "ACTOR", "STATUS", "STARTED", "DURATION", "BUILD", "STATUS MESSAGE"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("header %q lacks %s", lines[0], col)
		}
	}
	started := t0.Local().Format("2006-01-02 15:04:05")
	for _, want := range []string{"r2", "A1", "RUNNING", started, "0.0.3", "Crawling…"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("line %q lacks %q", lines[1], want)
		}
	}
	for _, want := range []string{"r1", "SUCCEEDED", "12.3s", "Actor finished with exit code 0"} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("line %q lacks %q", lines[2], want)
		}
	}
	// Columns line up.
	if i, j := strings.Index(lines[1], "A1"), strings.Index(lines[2], "A1"); i != j || i != strings.Index(lines[0], "ACTOR") {
		t.Errorf("columns are not aligned:\n%s", out)
	}

	out, _, err = f.run("runs", "ls", "--actor", "alice/hello", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	f.one("GET", "/v2/actors/alice~hello/runs")
	var got struct {
		Total int
		Items []*client.Run
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("-o json printed %q: %v", out, err)
	}
	if got.Total != 2 || len(got.Items) != 2 || got.Items[0].ID != "r2" {
		t.Errorf("got %+v", got)
	}
}

func TestCLIRunsGet(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.data("GET /v2/actor-runs/r1", 200, sampleRun("r1", client.StatusFailed, "Actor failed with exit code 1"))
	f.handle("GET /v2/actor-runs/nope", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, 404, "record-not-found", "Run was not found.")
	})

	out, _, err := f.run("runs", "get", "r1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ID: r1", "Status: FAILED", "Status message: Actor failed with exit code 1", "Build: 0.0.3",
		"Duration: 12.3s", "Exit code: 1", "Memory: 1024 MB", "Timeout: 300s", "Key-value store: K1",
		"Dataset: D1", "Request queue: Q1", "Origin: CLI", "Actor: A1",
	} {
		if !containsAligned(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, _, err = f.run("runs", "get", "r1", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got client.Run
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.ID != "r1" || got.Status != client.StatusFailed {
		t.Errorf("-o json printed %q (%v)", out, err)
	}

	_, _, err = f.run("runs", "get", "nope")
	if err == nil || cliErrorMessage(err) != "run nope was not found" {
		t.Errorf("got %v, want run nope was not found", err)
	}
}

// containsAligned reports whether out has a line with the label and value
// of want, whatever the padding between them.
func containsAligned(out, want string) bool {
	label, value, _ := strings.Cut(want, ":")
	for _, line := range strings.Split(out, "\n") {
		l, v, ok := strings.Cut(line, ":")
		if ok && l == label && strings.TrimSpace(v) == strings.TrimSpace(value) {
			return true
		}
	}
	return false
}

func TestCLIRunOperations(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	running := sampleRun("r1", client.StatusRunning, "")
	f.data("GET /v2/actors/T1", 200, &client.Actor{ID: "T1"})
	for _, p := range []string{"abort", "metamorph", "reboot", "resurrect"} {
		f.data("POST /v2/actor-runs/r1/"+p, 200, running)
	}
	f.data("PUT /v2/actor-runs/r1", 200, running)
	f.handle("DELETE /v2/actor-runs/r1", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	f.handle("GET /v2/actor-runs/r1/log", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("stream") == "1" {
			_, _ = io.WriteString(w, "2024-01-02T03:04:05.000Z streamed\n")
			return
		}
		_, _ = io.WriteString(w, "2024-01-02T03:04:05.000Z so far\n")
	})

	for _, tc := range []struct {
		args        []string
		method      string
		path        string
		query       string
		body        string
		contentType string
		out         string
	}{
		{[]string{"abort", "r1"}, "POST", "/v2/actor-runs/r1/abort", "gracefully=0", "", "", "Status:"},
		{[]string{"abort", "r1", "--gracefully"}, "POST", "/v2/actor-runs/r1/abort", "gracefully=1", "", "", "Status:"},
		{[]string{"metamorph", "r1", "bob/other", "--input", `{"a":1}`, "--build", "beta"}, "POST", "/v2/actor-runs/r1/metamorph",
			"build=beta&targetActorId=bob~other", `{"a":1}`, "application/json", "RUNNING"},
		{[]string{"metamorph", "r1", "T1", "--input", "hello", "--content-type", "text/plain"}, "POST", "/v2/actor-runs/r1/metamorph",
			"targetActorId=T1", "hello", "text/plain", "RUNNING"},
		{[]string{"reboot", "r1"}, "POST", "/v2/actor-runs/r1/reboot", "", "", "", "RUNNING"},
		{[]string{"resurrect", "r1", "--build", "0.0.2", "--memory", "512", "--timeout", "0"}, "POST", "/v2/actor-runs/r1/resurrect",
			"build=0.0.2&memory=512&timeout=0", "", "", "RUNNING"},
		{[]string{"resurrect", "r1"}, "POST", "/v2/actor-runs/r1/resurrect", "", "", "", "RUNNING"},
		{[]string{"update", "r1", "--status-message", "half way"}, "PUT", "/v2/actor-runs/r1", "",
			`{"statusMessage":"half way"}`, "application/json; charset=utf-8", "RUNNING"},
		{[]string{"update", "r1", "--status-message", "done", "--terminal"}, "PUT", "/v2/actor-runs/r1", "",
			`{"statusMessage":"done","isStatusMessageTerminal":true}`, "application/json; charset=utf-8", "RUNNING"},
		{[]string{"rm", "r1"}, "DELETE", "/v2/actor-runs/r1", "", "", "", "Deleted run r1.\n"},
		{[]string{"log", "r1"}, "GET", "/v2/actor-runs/r1/log", "", "", "", "2024-01-02T03:04:05.000Z so far\n"},
		{[]string{"log", "r1", "-f"}, "GET", "/v2/actor-runs/r1/log", "raw=1&stream=1", "", "", "2024-01-02T03:04:05.000Z streamed\n"},
	} {
		name := strings.Join(tc.args, " ")
		before := len(f.requests(tc.method, tc.path))
		out, _, err := f.run(append([]string{"runs"}, tc.args...)...)
		if err != nil {
			t.Errorf("troupe runs %s: %v", name, err)
			continue
		}
		reqs := f.requests(tc.method, tc.path)
		if len(reqs) != before+1 {
			t.Errorf("troupe runs %s: server saw %d new %s %s requests, want 1", name, len(reqs)-before, tc.method, tc.path)
			continue
		}
		req := reqs[len(reqs)-1]
		if got := req.Query.Encode(); got != tc.query {
			t.Errorf("troupe runs %s: query %q, want %q", name, got, tc.query)
		}
		if req.Body != tc.body || req.ContentType != tc.contentType {
			t.Errorf("troupe runs %s: body %q (%q), want %q (%q)", name, req.Body, req.ContentType, tc.body, tc.contentType)
		}
		if !strings.Contains(out, tc.out) {
			t.Errorf("troupe runs %s printed %q, want it to contain %q", name, out, tc.out)
		}
		if req.Auth != "Bearer tok" {
			t.Errorf("troupe runs %s: Authorization %q", name, req.Auth)
		}
	}
}

func TestCLIRunsWait(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.data("GET /v2/actor-runs/ok", 200, sampleRun("ok", client.StatusSucceeded, "Actor finished with exit code 0"))
	f.data("GET /v2/actor-runs/bad", 200, sampleRun("bad", client.StatusFailed, "Actor failed with exit code 1"))

	out, _, err := f.run("runs", "wait", "ok", "--timeout", "30")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "SUCCEEDED") {
		t.Errorf("printed %q", out)
	}
	if q := f.one("GET", "/v2/actor-runs/ok").Query.Get("waitForFinish"); q != "30" {
		t.Errorf("waitForFinish=%s, want 30", q)
	}

	out, _, err = f.run("runs", "wait", "bad")
	if err == nil || cliErrorMessage(err) != "run bad FAILED: Actor failed with exit code 1" {
		t.Errorf("got %v, want the run's failure", err)
	}
	if !strings.Contains(out, "FAILED") {
		t.Errorf("the run was not printed before the error: %q", out)
	}
}
