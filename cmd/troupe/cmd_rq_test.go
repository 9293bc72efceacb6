package main

import (
	"encoding/json"
	"github.com/troupehq/troupe/client"
	"net/http"
	"strings"
	"testing"
)

func TestCLIRqLs(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	handled := t0
	f.data("GET /v2/request-queues/Q1", 200, map[string]any{"id": "Q1"})
	f.handle("GET /v2/request-queues/crawl", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, 404, "record-not-found", "Request queue was not found.")
	})
	page := func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("cursor") {
		case "":
			writeData(w, 200, map[string]any{"limit": 1000, "nextCursor": "next", "items": []*client.Request{
				{ID: "r1", URL: "http://x/a", Method: "GET", RetryCount: 2},
				{ID: "r2", URL: "http://x/b\nmore", Method: "POST", HandledAt: &handled},
			}})
		default:
			writeData(w, 200, map[string]any{"limit": 1000, "items": []*client.Request{{ID: "r3", URL: "http://x/c"}}})
		}
	}
	f.handle("GET /v2/request-queues/Q1/requests", page)
	f.handle("GET /v2/request-queues/{ref}/requests", page)

	out, _, err := f.run("rq", "ls", "Q1")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want a header and 3 requests:\n%s", len(lines), out)
	}
	for _, col := range []string{"ID", "METHOD", "HANDLED", "RETRIES", "URL"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("header %q lacks %s", lines[0], col)
		}
	}
	for i, want := range [][]string{
		{"r1", "GET", "-", "2", "http://x/a"},
		{"r2", "POST", t0.Local().Format("2006-01-02 15:04:05"), "0", "http://x/b…"},
		{"r3", "GET", "-", "0", "http://x/c"},
	} {
		if got := strings.Fields(lines[i+1]); len(got) < len(want) {
			t.Errorf("line %q", lines[i+1])
		}
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("line %q lacks %q", lines[i+1], w)
			}
		}
	}
	reqs := f.requests("GET", "/v2/request-queues/Q1/requests")
	if len(reqs) != 2 || reqs[0].Query.Has("limit") && reqs[0].Query.Get("limit") != "1000" || reqs[1].Query.Get("cursor") != "next" {
		t.Errorf("list requests: %+v", reqs)
	}

	// --limit stops early; a bare name that is no id is a queue name; -o json.
	out, _, err = f.run("rq", "ls", "crawl", "--limit", "1", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	q := f.one("GET", "/v2/request-queues/~crawl/requests").Query
	if q.Get("limit") != "1" {
		t.Errorf("query %v", q)
	}
	var got []client.Request
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || got[0].ID != "r1" {
		t.Fatalf("-o json printed %q (%v)", out, err)
	}

	if _, _, err := f.run("rq", "ls", "Q1", "--limit", "-1"); err == nil {
		t.Error("a negative --limit was accepted")
	}
	if _, _, err := f.run("rq", "ls", "Q1", "-o", "xml"); err == nil {
		t.Error("-o xml was accepted")
	}
}
