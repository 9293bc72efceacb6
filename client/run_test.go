package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupehq/troupe/client"
)

func TestRunClientGet(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeData(w, 200, run("r1", client.StatusSucceeded))
		})
		got, err := b.c.Run("r1").Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "r1" || got.Status != client.StatusSucceeded || !got.StartedAt.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Errorf("got %+v", got)
		}
		if req := b.last(t); req.Method != "GET" || req.Path != "/v2/actor-runs/r1" || req.RawQuery != "" {
			t.Errorf("got %s %s?%s, want GET /v2/actor-runs/r1", req.Method, req.Path, req.RawQuery)
		}
	})

	t.Run("NilOnRecordNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, 404, "record-not-found", "Run was not found.")
		})
		got, err := b.c.Run("nope").Get(context.Background())
		if got != nil || err != nil {
			t.Errorf("got %v, %v; want nil, nil", got, err)
		}
	})

	t.Run("ErrOnOtherNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, 404, "page-not-found", "No such page.")
		})
		got, err := b.c.Run("r1").Get(context.Background())
		var e *client.Error
		if got != nil || !errors.As(err, &e) || e.Type != "page-not-found" {
			t.Errorf("got %v, %v; want a page-not-found error", got, err)
		}
	})
}

func TestRunClientWaitForFinish(t *testing.T) {
	t.Parallel()

	t.Run("UntilTerminal", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			st := client.StatusRunning
			if n.Add(1) == 3 {
				st = client.StatusFailed
			}
			writeData(w, 200, run("r1", st))
		})
		got, err := b.c.Run("r1").WaitForFinish(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != client.StatusFailed {
			t.Errorf("got status %s, want FAILED", got.Status)
		}
		reqs := b.requests()
		if len(reqs) != 3 {
			t.Fatalf("server saw %d requests, want 3", len(reqs))
		}
		for _, r := range reqs {
			if r.Path != "/v2/actor-runs/r1" || r.RawQuery != "waitForFinish=60" {
				t.Errorf("got %s?%s, want /v2/actor-runs/r1?waitForFinish=60", r.Path, r.RawQuery)
			}
		}
	})

	t.Run("TimeRunsOut", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeData(w, 200, run("r1", client.StatusRunning))
		})
		start := time.Now()
		got, err := b.c.Run("r1").WaitForFinish(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < time.Second || d > 5*time.Second {
			t.Errorf("waited %v, want about 1s", d)
		}
		if got.Status != client.StatusRunning {
			t.Errorf("got status %s, want the last seen RUNNING", got.Status)
		}
		if q := b.requests()[0].RawQuery; q != "waitForFinish=1" {
			t.Errorf("first poll sent %q, want waitForFinish=1", q)
		}
	})

	t.Run("ToleratesBriefNotFound", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= 2 {
				writeError(w, 404, "record-not-found", "Run was not found.")
				return
			}
			writeData(w, 200, run("r1", client.StatusSucceeded))
		})
		got, err := b.c.Run("r1").WaitForFinish(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != client.StatusSucceeded {
			t.Errorf("got status %s, want SUCCEEDED", got.Status)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, 404, "record-not-found", "Run was not found.")
		})
		got, err := b.c.Run("r1").WaitForFinish(context.Background(), 0)
		if got != nil || !client.IsNotFound(err) {
			t.Errorf("got %v, %v; want a not-found error", got, err)
		}
	})

	t.Run("ErrOtherErrorAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, 401, "invalid-token", "Bad token.")
		})
		if _, err := b.c.Run("r1").WaitForFinish(context.Background(), 0); err == nil {
			t.Fatal("got no error")
		}
		if got := len(b.requests()); got != 1 {
			t.Errorf("server saw %d requests, want 1", got)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done() // hold the request like a waiting server
		})
		_, err := b.c.Run("r1").WaitForFinish(ctx, 0)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
}

func TestRunClientOperations(t *testing.T) {
	t.Parallel()

	type want struct {
		method, path, query, body, contentType string
	}
	for _, tc := range []struct {
		name string
		call func(c *client.Client) (*client.Run, error)
		want want
	}{
		{"AbortGracefully", func(c *client.Client) (*client.Run, error) {
			return c.Run("r1").Abort(context.Background(), true)
		}, want{"POST", "/v2/actor-runs/r1/abort", "gracefully=1", "", ""}},
		{"AbortAtOnce", func(c *client.Client) (*client.Run, error) {
			return c.Run("r1").Abort(context.Background(), false)
		}, want{"POST", "/v2/actor-runs/r1/abort", "gracefully=0", "", ""}},
		{"Metamorph", func(c *client.Client) (*client.Run, error) {
			return c.Run("r1").Metamorph(context.Background(), "bob/other", []byte("hi"), &client.MetamorphOptions{Build: "0.1.2", ContentType: "text/plain"})
		}, want{"POST", "/v2/actor-runs/r1/metamorph", "build=0.1.2&targetActorId=bob~other", "hi", "text/plain"}},
		{"MetamorphJSONInput", func(c *client.Client) (*client.Run, error) {
			return c.Run("r1").Metamorph(context.Background(), "T1", []byte(`{"a":1}`), nil)
		}, want{"POST", "/v2/actor-runs/r1/metamorph", "targetActorId=T1", `{"a":1}`, "application/json; charset=utf-8"}},
		{"MetamorphNoInput", func(c *client.Client) (*client.Run, error) {
			return c.Run("r1").Metamorph(context.Background(), "T1", nil, nil)
		}, want{"POST", "/v2/actor-runs/r1/metamorph", "targetActorId=T1", "", ""}},
		{"Reboot", func(c *client.Client) (*client.Run, error) {
			return c.Run("r1").Reboot(context.Background())
		}, want{"POST", "/v2/actor-runs/r1/reboot", "", "", ""}},
		{"Resurrect", func(c *client.Client) (*client.Run, error) {
			return c.Run("r1").Resurrect(context.Background(), &client.ResurrectOptions{
				Build: "latest", MemoryMbytes: client.Ptr(256), TimeoutSecs: client.Ptr(0),
				MaxItems: client.Ptr(10), MaxTotalChargeUsd: client.Ptr(1.5), RestartOnError: client.Ptr(false),
			})
		}, want{"POST", "/v2/actor-runs/r1/resurrect", "build=latest&maxItems=10&maxTotalChargeUsd=1.5&memory=256&restartOnError=0&timeout=0", "", ""}},
		{"ResurrectDefaults", func(c *client.Client) (*client.Run, error) {
			return c.Run("r1").Resurrect(context.Background(), nil)
		}, want{"POST", "/v2/actor-runs/r1/resurrect", "", "", ""}},
		{"Update", func(c *client.Client) (*client.Run, error) {
			return c.Run("r1").Update(context.Background(), &client.RunUpdate{StatusMessage: client.Ptr("half way"), IsStatusMessageTerminal: client.Ptr(false)})
		}, want{"PUT", "/v2/actor-runs/r1", "", `{"statusMessage":"half way","isStatusMessageTerminal":false}`, "application/json; charset=utf-8"}},
		{"UpdateGeneralAccess", func(c *client.Client) (*client.Run, error) {
			return c.Run("r1").Update(context.Background(), &client.RunUpdate{GeneralAccess: client.Ptr("RESTRICTED")})
		}, want{"PUT", "/v2/actor-runs/r1", "", `{"generalAccess":"RESTRICTED"}`, "application/json; charset=utf-8"}},
		{"LastRunAbort", func(c *client.Client) (*client.Run, error) {
			return c.Actor("alice/hello").LastRun("RUNNING").Abort(context.Background(), true)
		}, want{"POST", "/v2/actors/alice~hello/runs/last/abort", "gracefully=1&status=RUNNING", "", ""}},
		{"LastRunGet", func(c *client.Client) (*client.Run, error) {
			return c.Actor("A1").LastRun("").Get(context.Background())
		}, want{"GET", "/v2/actors/A1/runs/last", "", "", ""}},
		{"Start", func(c *client.Client) (*client.Run, error) {
			return c.Actor("alice/hello").Start(context.Background(), []byte(`{"n":1}`), &client.StartOptions{
				Build: "beta", TimeoutSecs: client.Ptr(30), MemoryMbytes: client.Ptr(512), MaxItems: client.Ptr(5),
				RestartOnError: client.Ptr(true), WaitForFinish: 10,
			})
		}, want{"POST", "/v2/actors/alice~hello/runs", "build=beta&maxItems=5&memory=512&restartOnError=1&timeout=30&waitForFinish=10", `{"n":1}`, "application/json; charset=utf-8"}},
		{"StartNoInput", func(c *client.Client) (*client.Run, error) {
			return c.Actor("A1").Start(context.Background(), nil, nil)
		}, want{"POST", "/v2/actors/A1/runs", "", "", ""}},
		{"StartContentType", func(c *client.Client) (*client.Run, error) {
			return c.Actor("A1").Start(context.Background(), []byte("plain"), &client.StartOptions{ContentType: "text/plain"})
		}, want{"POST", "/v2/actors/A1/runs", "", "plain", "text/plain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(w http.ResponseWriter, r *http.Request) {
				status := 200
				if strings.HasSuffix(r.URL.Path, "/runs") {
					status = 201
				}
				writeData(w, status, run("r1", client.StatusRunning))
			})
			got, err := tc.call(b.c)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != "r1" {
				t.Errorf("got run %q, want r1", got.ID)
			}
			req := b.last(t)
			if req.Method != tc.want.method || req.Path != tc.want.path || req.RawQuery != tc.want.query {
				t.Errorf("got %s %s?%s, want %s %s?%s", req.Method, req.Path, req.RawQuery, tc.want.method, tc.want.path, tc.want.query)
			}
			if req.Body != tc.want.body || req.ContentType != tc.want.contentType {
				t.Errorf("got body %q (%q), want %q (%q)", req.Body, req.ContentType, tc.want.body, tc.want.contentType)
			}
		})
	}
}

func TestRunClientDelete(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
		if err := b.c.Run("r1").Delete(context.Background()); err != nil {
			t.Fatal(err)
		}
		if req := b.last(t); req.Method != "DELETE" || req.Path != "/v2/actor-runs/r1" {
			t.Errorf("got %s %s", req.Method, req.Path)
		}
	})

	t.Run("NotFoundIsNoError", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, 404, "record-not-found", "Run was not found.")
		})
		if err := b.c.Run("r1").Delete(context.Background()); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrRunning", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, 400, "cannot-remove-running-run", "Run is running.")
		})
		var e *client.Error
		if err := b.c.Run("r1").Delete(context.Background()); !errors.As(err, &e) || e.Type != "cannot-remove-running-run" {
			t.Fatalf("got %v, want cannot-remove-running-run", err)
		}
	})
}

func TestLogClient(t *testing.T) {
	t.Parallel()

	t.Run("Get", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "2024-01-02T03:04:05.000Z hello\n")
		})
		got, err := b.c.Run("r1").Log().Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got != "2024-01-02T03:04:05.000Z hello\n" {
			t.Errorf("got %q", got)
		}
		if req := b.last(t); req.Path != "/v2/actor-runs/r1/log" || req.RawQuery != "" {
			t.Errorf("got %s?%s", req.Path, req.RawQuery)
		}
	})

	t.Run("Stream", func(t *testing.T) {
		t.Parallel()
		next := make(chan struct{})
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "line 1\n")
			w.(http.Flusher).Flush()
			<-next
			_, _ = io.WriteString(w, "line 2\n")
		})
		rc, err := b.c.Build("b1").Log().Stream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		buf := make([]byte, 7)
		if _, err := io.ReadFull(rc, buf); err != nil || string(buf) != "line 1\n" {
			t.Fatalf("got %q, %v before the job wrote on", buf, err)
		}
		close(next)
		rest, err := io.ReadAll(rc)
		if err != nil || string(rest) != "line 2\n" {
			t.Fatalf("got %q, %v", rest, err)
		}
		if req := b.last(t); req.Path != "/v2/actor-builds/b1/log" || req.RawQuery != "raw=1&stream=1" {
			t.Errorf("got %s?%s", req.Path, req.RawQuery)
		}
	})

	t.Run("LastRunInheritsStatus", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "x") })
		if _, err := b.c.Actor("A1").LastRun("SUCCEEDED").Log().Get(context.Background()); err != nil {
			t.Fatal(err)
		}
		if req := b.last(t); req.Path != "/v2/actors/A1/runs/last/log" || req.RawQuery != "status=SUCCEEDED" {
			t.Errorf("got %s?%s", req.Path, req.RawQuery)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, 404, "record-not-found", "Log was not found.")
		})
		if _, err := b.c.Log("x").Stream(context.Background()); !client.IsNotFound(err) {
			t.Errorf("got %v, want not found", err)
		}
		if req := b.last(t); req.Path != "/v2/logs/x" {
			t.Errorf("got %s", req.Path)
		}
	})
}

func TestRunCollectionClientList(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		writeData(w, 200, map[string]any{
			"total": 7, "offset": 2, "limit": 2, "count": 2, "desc": true,
			"items": []*client.Run{run("r1", client.StatusRunning), run("r2", client.StatusSucceeded)},
		})
	})
	after := time.Date(2024, 1, 2, 3, 4, 5, 600_000_000, time.FixedZone("X", 3600))
	got, err := b.c.Runs().List(context.Background(), &client.RunListOptions{
		Offset: 2, Limit: 2, Desc: true, Status: []string{"RUNNING", "SUCCEEDED"}, StartedAfter: &after,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 7 || got.Offset != 2 || got.Limit != 2 || got.Count != 2 || !got.Desc || len(got.Items) != 2 || got.Items[1].ID != "r2" {
		t.Errorf("got %+v", got)
	}
	req := b.last(t)
	if req.Path != "/v2/actor-runs" {
		t.Errorf("got path %s", req.Path)
	}
	for k, v := range map[string]string{
		"offset": "2", "limit": "2", "desc": "1", "status": "RUNNING,SUCCEEDED", "startedAfter": "2024-01-02T02:04:05.600Z",
	} {
		if got := req.Query.Get(k); got != v {
			t.Errorf("query %s = %q, want %q", k, got, v)
		}
	}
	if _, ok := req.Query["startedBefore"]; ok {
		t.Error("startedBefore sent though not set")
	}

	if _, err := b.c.Actor("alice/hello").Runs().List(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if req := b.last(t); req.Path != "/v2/actors/alice~hello/runs" || req.RawQuery != "" {
		t.Errorf("got %s?%s", req.Path, req.RawQuery)
	}
}
