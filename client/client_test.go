package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupehq/troupe/client"
)

// request is what the test server saw of one request.
type request struct {
	Method      string
	Path        string // escaped
	Query       url.Values
	RawQuery    string
	Body        string
	ContentType string
	Auth        string
	UserAgent   string
}

// bundle is a per-test server and a client pointed at it.
type bundle struct {
	srv *httptest.Server
	c   *client.Client
	mu  sync.Mutex
	got []request
}

// requests returns the requests seen so far.
func (b *bundle) requests() []request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]request(nil), b.got...)
}

// last returns the last request seen.
func (b *bundle) last(t *testing.T) request {
	t.Helper()
	got := b.requests()
	if len(got) == 0 {
		t.Fatal("server saw no request")
	}
	return got[len(got)-1]
}

// setup starts a server that records every request and then calls h, and a
// client with token "tok" and 1ms retry delays.
func setup(t *testing.T, h http.HandlerFunc, opts ...client.Option) *bundle {
	t.Helper()
	b := &bundle{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.got = append(b.got, request{
			Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), RawQuery: r.URL.RawQuery,
			Body: string(body), ContentType: r.Header.Get("Content-Type"),
			Auth: r.Header.Get("Authorization"), UserAgent: r.Header.Get("User-Agent"),
		})
		b.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(b.srv.Close)
	all := append([]client.Option{
		client.WithBaseURL(b.srv.URL), client.WithToken("tok"), client.WithMinRetryDelay(time.Millisecond),
	}, opts...)
	b.c = client.New(all...)
	return b
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

// hangUp closes the connection without an answer.
func hangUp(t *testing.T, w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

func run(id string, status client.Status) *client.Run {
	return &client.Run{ID: id, ActID: "act1", Status: status, StartedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestRetry(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name   string
		status int
		typ    string
	}{
		{"500", http.StatusInternalServerError, "internal-server-error"},
		{"502", http.StatusBadGateway, ""},
		{"429", http.StatusTooManyRequests, "rate-limit-exceeded"},
	} {
		t.Run("RetriedOn"+tc.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int32
			b := setup(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) <= 2 {
					writeError(w, tc.status, tc.typ, "try again")
					return
				}
				writeData(w, 200, run("r1", client.StatusRunning))
			})
			got, err := b.c.Run("r1").Get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != "r1" || got.Status != client.StatusRunning {
				t.Errorf("got run %s %s, want r1 RUNNING", got.ID, got.Status)
			}
			if got, want := len(b.requests()), 3; got != want {
				t.Errorf("server saw %d requests, want %d", got, want)
			}
		})
	}

	for _, tc := range []struct {
		name   string
		status int
		typ    string
	}{
		{"400", http.StatusBadRequest, "invalid-input"},
		{"401", http.StatusUnauthorized, "invalid-token"},
		{"404", http.StatusNotFound, "page-not-found"},
		{"409", http.StatusConflict, "actor-name-not-unique"},
	} {
		t.Run("NotRetriedOn"+tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(w http.ResponseWriter, r *http.Request) {
				writeError(w, tc.status, tc.typ, "no")
			})
			_, err := b.c.Run("r1").Abort(context.Background(), false)
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("got error %v, want *client.Error", err)
			}
			if e.StatusCode != tc.status || e.Type != tc.typ || e.Message != "no" {
				t.Errorf("got %+v, want status %d type %s message no", e, tc.status, tc.typ)
			}
			if got := len(b.requests()); got != 1 {
				t.Errorf("server saw %d requests, want 1", got)
			}
		})
	}

	t.Run("RetriesUsedUp", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, 503, "service-unavailable", "down")
		}, client.WithMaxRetries(3))
		_, err := b.c.Run("r1").Reboot(context.Background())
		var e *client.Error
		if !errors.As(err, &e) || e.StatusCode != 503 || e.Message != "down" {
			t.Fatalf("got error %v, want the 503 answer", err)
		}
		if got, want := len(b.requests()), 4; got != want {
			t.Errorf("server saw %d requests, want %d (1 + 3 retries)", got, want)
		}
	})

	t.Run("NoRetries", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, 500, "internal-server-error", "boom")
		}, client.WithMaxRetries(0))
		if _, err := b.c.Run("r1").Reboot(context.Background()); err == nil {
			t.Fatal("got no error")
		}
		if got := len(b.requests()); got != 1 {
			t.Errorf("server saw %d requests, want 1", got)
		}
	})

	t.Run("NetworkError", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		var b *bundle
		b = setup(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= 2 {
				hangUp(t, w)
				return
			}
			writeData(w, 201, run("r2", client.StatusReady))
		})
		input := []byte(`{"hello":"world"}`)
		got, err := b.c.Actor("alice/hello").Start(context.Background(), input, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "r2" {
			t.Errorf("got run %s, want r2", got.ID)
		}
		reqs := b.requests()
		if len(reqs) < 3 {
			t.Fatalf("server saw %d requests, want at least 3", len(reqs))
		}
		for i, r := range reqs {
			if r.Body != string(input) || r.ContentType != "application/json; charset=utf-8" {
				t.Errorf("attempt %d: body %q (%s), want the input re-sent", i, r.Body, r.ContentType)
			}
		}
	})

	t.Run("ServerDown", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c := client.New(client.WithBaseURL("http://"+addr), client.WithMinRetryDelay(time.Millisecond), client.WithMaxRetries(2))
		_, err = c.Run("r1").Get(context.Background())
		var e *client.Error
		if err == nil || errors.As(err, &e) {
			t.Fatalf("got %v, want a network error", err)
		}
		if !strings.Contains(err.Error(), "connect") {
			t.Errorf("error %q does not say it could not connect", err)
		}
	})
}

func TestRetryStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, 500, "internal-server-error", "boom")
		cancel() // the client is now in a one-hour backoff
	}, client.WithMinRetryDelay(time.Hour))
	start := time.Now()
	_, err := b.c.Run("r1").Get(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Get returned after %v, want at once", d)
	}
	if got := len(b.requests()); got != 1 {
		t.Errorf("server saw %d requests, want 1", got)
	}
}

func TestRequest(t *testing.T) {
	t.Parallel()

	t.Run("HeadersAndBaseURL", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeData(w, 200, run("r1", client.StatusRunning))
		})
		c := client.New(client.WithBaseURL(b.srv.URL+"/"), client.WithToken("s3cret"), client.WithUserAgent("me/1"))
		if _, err := c.Run("r1").Get(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := b.last(t)
		if got.Path != "/v2/actor-runs/r1" || got.Auth != "Bearer s3cret" || got.UserAgent != "me/1" {
			t.Errorf("got %s auth %q agent %q, want /v2/actor-runs/r1, Bearer s3cret, me/1", got.Path, got.Auth, got.UserAgent)
		}
	})

	t.Run("NoToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeData(w, 200, run("r1", client.StatusRunning))
		})
		c := client.New(client.WithBaseURL(b.srv.URL))
		if _, err := c.Run("r1").Get(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := b.last(t).Auth; got != "" {
			t.Errorf("Authorization %q sent without a token", got)
		}
	})

	t.Run("ErrNoData", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"id":"r1"}`)
		})
		if _, err := b.c.Run("r1").Get(context.Background()); err == nil || !strings.Contains(err.Error(), "no data") {
			t.Errorf("got %v, want an error about the missing data", err)
		}
	})

	t.Run("ErrNotJSON", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			_, _ = io.WriteString(w, "short and stout")
		})
		_, err := b.c.Run("r1").Get(context.Background())
		var e *client.Error
		if !errors.As(err, &e) {
			t.Fatalf("got %v, want *client.Error", err)
		}
		if e.StatusCode != 418 || e.Type != "" || e.Message != "I'm a teapot: short and stout" {
			t.Errorf("got %+v", e)
		}
	})

	t.Run("ErrorString", func(t *testing.T) {
		t.Parallel()
		e := &client.Error{StatusCode: 404, Type: "record-not-found", Message: "Run was not found."}
		if got, want := e.Error(), "Run was not found. (HTTP 404 record-not-found)"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestIsNotFound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&client.Error{StatusCode: 404, Type: "record-not-found"}, true},
		{&client.Error{StatusCode: 404, Type: "record-or-token-not-found"}, true},
		{&client.Error{StatusCode: 404, Type: "page-not-found"}, false},
		{&client.Error{StatusCode: 400, Type: "record-not-found"}, false},
		{errors.New("record-not-found"), false},
		{nil, false},
	} {
		if got := client.IsNotFound(tc.err); got != tc.want {
			t.Errorf("IsNotFound(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestPtr(t *testing.T) {
	t.Parallel()
	p := client.Ptr(0)
	if p == nil || *p != 0 {
		t.Fatalf("Ptr(0) = %v", p)
	}
}
