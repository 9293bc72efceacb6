package main

import (
	"github.com/troupehq/troupe/client"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// callAPI is a fake API for call: the run starts, writes two log lines and
// ends with status end after one poll.
func callAPI(t *testing.T, end client.Status, msg string) *fakeAPI {
	t.Helper()
	f := newFakeAPI(t)
	f.handle("GET /v2/actors/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "A1" {
			writeError(w, 404, "record-not-found", "Actor was not found.")
			return
		}
		writeData(w, 200, &client.Actor{ID: "A1", Name: "hello"})
	})
	f.data("POST /v2/actors/{id}/runs", 201, sampleRun("r1", client.StatusReady, ""))
	var polls atomic.Int32
	f.handle("GET /v2/actor-runs/r1", func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) == 1 {
			writeData(w, 200, sampleRun("r1", client.StatusRunning, ""))
			return
		}
		writeData(w, 200, sampleRun("r1", end, msg))
	})
	f.handle("GET /v2/actor-runs/r1/log", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "2024-01-02T03:04:05.000Z hello\n")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "2024-01-02T03:04:06.000Z bye\n")
	})
	return f
}

func TestCLICall(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := callAPI(t, client.StatusSucceeded, "Actor finished with exit code 0")
		out, errOut, err := f.run("call", "alice/hello", "--input", `{"n":1}`, "--build", "beta", "--timeout", "60", "--memory", "256")
		if err != nil {
			t.Fatal(err)
		}
		start := f.one("POST", "/v2/actors/alice~hello/runs")
		if got, want := start.Query.Encode(), "build=beta&memory=256&timeout=60"; got != want {
			t.Errorf("start query %q, want %q", got, want)
		}
		if start.Body != `{"n":1}` || start.ContentType != "application/json" {
			t.Errorf("start body %q (%q)", start.Body, start.ContentType)
		}
		if q := f.one("GET", "/v2/actor-runs/r1/log").Query.Encode(); q != "raw=1&stream=1" {
			t.Errorf("log query %q, want raw=1&stream=1", q)
		}
		want := "Run r1 started (build 0.0.3).\n2024-01-02T03:04:05.000Z hello\n2024-01-02T03:04:06.000Z bye\n" +
			"Run r1 SUCCEEDED after 12.3s: Actor finished with exit code 0\n"
		if errOut != want {
			t.Errorf("stderr %q, want %q (plain log, no status line off a terminal)", errOut, want)
		}
		for _, want := range []string{"Run: r1", "Status: SUCCEEDED", "Status message: Actor finished with exit code 0", "Duration: 12.3s", "Key-value store: K1", "Dataset: D1"} {
			if !containsAligned(out, want) {
				t.Errorf("summary lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("ErrRunFailed", func(t *testing.T) {
		t.Parallel()
		f := callAPI(t, client.StatusFailed, "Actor failed with exit code 3")
		out, _, err := f.run("call", "A1")
		if err == nil || cliErrorMessage(err) != "run r1 FAILED: Actor failed with exit code 3" {
			t.Errorf("got %v, want the failure", err)
		}
		if !containsAligned(out, "Status: FAILED") {
			t.Errorf("summary not printed: %q", out)
		}
		if start := f.one("POST", "/v2/actors/A1/runs"); start.Body != "" || start.ContentType != "" || len(start.Query) != 0 {
			t.Errorf("start without input sent %+v", start)
		}
	})

	t.Run("BareName", func(t *testing.T) {
		t.Parallel()
		f := callAPI(t, client.StatusSucceeded, "")
		if _, _, err := f.run("call", "hello"); err != nil {
			t.Fatal(err)
		}
		f.one("GET", "/v2/actors/hello")
		f.one("POST", "/v2/actors/~hello/runs")
	})

	t.Run("InputFile", func(t *testing.T) {
		t.Parallel()
		f := callAPI(t, client.StatusSucceeded, "")
		p := filepath.Join(t.TempDir(), "input.txt")
		if err := os.WriteFile(p, []byte("plain text"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _, err := f.run("call", "A1", "--input-file", p, "--content-type", "text/plain", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		if start := f.one("POST", "/v2/actors/A1/runs"); start.Body != "plain text" || start.ContentType != "text/plain" {
			t.Errorf("start body %q (%q)", start.Body, start.ContentType)
		}
		if !strings.Contains(out, `"status": "SUCCEEDED"`) {
			t.Errorf("-o json printed %q", out)
		}
	})
}

func TestConsoleOnTerminal(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	c := &console{w: &b, tty: true, width: 20}
	c.setStatus("⠋ RUNNING · 1s")
	_, _ = c.Write([]byte("line 1\npart"))
	_, _ = c.Write([]byte("ial\n"))
	c.setStatus("⠙ RUNNING · 2s · a long status message that does not fit")
	_, _ = c.Write([]byte("tail"))
	c.close()
	want := "⠋ RUNNING · 1s" +
		"\r\x1b[Kline 1\n⠋ RUNNING · 1s" +
		"\r\x1b[Kpartial\n⠋ RUNNING · 1s" +
		"\r\x1b[K⠙ RUNNING · 2s · a…" +
		"\r\x1b[K⠙ RUNNING · 2s · a…" +
		"\r\x1b[Ktail\n"
	if got := b.String(); got != want {
		t.Errorf("terminal got\n%q\nwant\n%q", got, want)
	}
}
