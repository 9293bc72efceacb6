package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/client"
)

// seen is what the fake API saw of one request.
type seen struct {
	Method      string
	Path        string
	Query       url.Values
	Body        string
	ContentType string
	Auth        string
}

// fakeAPI is a per-test httptest server with handlers registered by the test.
type fakeAPI struct {
	t   *testing.T
	mux *http.ServeMux
	srv *httptest.Server
	mu  sync.Mutex
	got []seen
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, mux: http.NewServeMux()}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, seen{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Body: string(body),
			ContentType: r.Header.Get("Content-Type"), Auth: r.Header.Get("Authorization")})
		f.mu.Unlock()
		f.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// handle registers h for a ServeMux pattern such as "GET /v2/actor-runs/{id}".
func (f *fakeAPI) handle(pattern string, h http.HandlerFunc) { f.mux.HandleFunc(pattern, h) }

// data registers a handler that answers {"data": v} with status.
func (f *fakeAPI) data(pattern string, status int, v any) {
	f.handle(pattern, func(w http.ResponseWriter, r *http.Request) { writeData(w, status, v) })
}

// requests returns the requests seen with this method and path.
func (f *fakeAPI) requests(method, path string) []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []seen
	for _, s := range f.got {
		if s.Method == method && s.Path == path {
			out = append(out, s)
		}
	}
	return out
}

// one returns the only request with this method and path.
func (f *fakeAPI) one(method, path string) seen {
	f.t.Helper()
	got := f.requests(method, path)
	if len(got) != 1 {
		f.t.Fatalf("server saw %d %s %s requests, want 1", len(got), method, path)
	}
	return got[0]
}

// count is how many requests the server saw.
func (f *fakeAPI) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

// run runs the CLI with args against the fake API.
func (f *fakeAPI) run(args ...string) (stdout, stderr string, err error) {
	return execCLI(append(args, "--url", f.srv.URL, "--token", "tok")...)
}

// execCLI runs the client commands with args, as main would.
func execCLI(args ...string) (stdout, stderr string, err error) {
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(""))
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

func writeData(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"data": v})
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"type": typ, "message": msg}})
}

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// sampleRun returns a run with most fields set.
func sampleRun(id string, status client.Status, msg string) *client.Run {
	r := &client.Run{
		ID: id, ActID: "A1", Status: status, StartedAt: t0, BuildNumber: "0.0.3", BuildID: "B1",
		Meta: client.RunMeta{Origin: "CLI"}, Options: client.RunOptions{MemoryMbytes: 1024, TimeoutSecs: 300},
		DefaultKeyValueStoreID: "K1", DefaultDatasetID: "D1", DefaultRequestQueueID: "Q1",
	}
	if msg != "" {
		r.StatusMessage = &msg
	}
	if status.Terminal() {
		fin := t0.Add(12300 * time.Millisecond)
		r.FinishedAt = &fin
		r.Stats.DurationMillis = 12300
		code := 0
		if status != client.StatusSucceeded {
			code = 1
		}
		r.ExitCode = &code
	}
	return r
}

func TestCLIErrorMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&client.Error{StatusCode: 404, Type: "record-not-found", Message: "Run was not found."}, "Run was not found."},
		{fmt.Errorf("start: %w", &client.Error{StatusCode: 400, Type: "invalid-input", Message: "Bad input."}), "Bad input."},
		{troupe.Errorf(troupe.ErrInvalidInput, "No name."), "No name."},
		{errors.New(`Get "http://x/v2": dial tcp: connection refused`), `Get "http://x/v2": dial tcp: connection refused`},
	} {
		if got := cliErrorMessage(tc.err); got != tc.want {
			t.Errorf("cliErrorMessage(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestCLIArgs(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	noActor := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"runs", "get"}, "accepts 1 arg(s), received 0"},
		{[]string{"runs", "get", "a", "b"}, "accepts 1 arg(s), received 2"},
		{[]string{"runs", "metamorph", "r1"}, "accepts 2 arg(s), received 1"},
		{[]string{"runs", "ls", "extra"}, `unknown command "extra"`},
		{[]string{"runs", "ls", "--status", "running,DONE"}, `unknown status "DONE"`},
		{[]string{"runs", "ls", "-o", "xml"}, `unknown output format "xml"`},
		{[]string{"runs", "watch", "--interval", "10ms"}, "--interval must be at least 100ms"},
		{[]string{"runs", "watch", "--limit", "0"}, "--limit must be at least 1"},
		{[]string{"actors", "ls", "-o", "xml"}, `unknown output format "xml"`},
		{[]string{"runs", "ls", "--limit", "-1"}, "must not be negative"},
		{[]string{"runs", "update", "r1"}, `required flag(s) "status-message" not set`},
		{[]string{"runs", "wait", "r1", "--timeout", "-5"}, "must not be negative"},
		{[]string{"call"}, "accepts 1 arg(s), received 0"},
		{[]string{"call", "A1", "--input", "{"}, "not valid JSON"},
		{[]string{"call", "A1", "--input", "{}", "--input-file", "x.json"}, "none of the others can be"},
		{[]string{"call", "A1", "--content-type", "text/plain"}, "--content-type needs --input"},
		{[]string{"call", "A1", "--input-file", "/nonexistent/input.json"}, "read input"},
		{[]string{"builds", "ls"}, "accepts 1 arg(s), received 0"},
		{[]string{"push"}, "accepts 1 arg(s), received 0"},
		{[]string{"push", noActor}, "has no .actor/actor.json"},
	} {
		_, _, err := f.run(tc.args...)
		if err == nil || !strings.Contains(cliErrorMessage(err), tc.want) {
			t.Errorf("troupe %s: got error %v, want one containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	if n := f.count(); n != 0 {
		t.Errorf("invalid commands sent %d requests", n)
	}
}

func TestCLIServerFromEnv(t *testing.T) {
	// Not parallel: it sets environment variables.
	f := newFakeAPI(t)
	f.data("GET /v2/actor-runs/{id}", 200, sampleRun("r1", client.StatusRunning, ""))
	t.Setenv("TROUPE_URL", f.srv.URL+"/")
	t.Setenv("TROUPE_TOKEN", "from-env")
	if _, _, err := execCLI("runs", "get", "r1"); err != nil {
		t.Fatal(err)
	}
	if got := f.one("GET", "/v2/actor-runs/r1").Auth; got != "Bearer from-env" {
		t.Errorf("Authorization %q, want Bearer from-env", got)
	}
	// Flags win over the environment.
	if _, _, err := execCLI("runs", "get", "r1", "--token", "from-flag"); err != nil {
		t.Fatal(err)
	}
	if got := f.requests("GET", "/v2/actor-runs/r1")[1].Auth; got != "Bearer from-flag" {
		t.Errorf("Authorization %q, want Bearer from-flag", got)
	}
}

func TestCLIAPIError(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.handle("POST /v2/actor-runs/{id}/reboot", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, 400, "run-not-running", "Only a RUNNING run can be rebooted.")
	})
	_, _, err := f.run("runs", "reboot", "r1")
	if err == nil || cliErrorMessage(err) != "Only a RUNNING run can be rebooted." {
		t.Errorf("got %v, want the API's message", err)
	}
}

func TestFmtDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		850 * time.Millisecond:   "850ms",
		12300 * time.Millisecond: "12.3s",
		245 * time.Second:        "4m5s",
		-time.Second:             "-",
	} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
