package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe/client"
)

func TestRequestQueueClientRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("AddRequest", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeData(w, 201, map[string]any{"requestId": "abc", "wasAlreadyPresent": true, "wasAlreadyHandled": false})
		})
		q := b.c.RequestQueue("alice/queue").WithClientKey("ck1")
		res, err := q.AddRequest(ctx, &client.Request{URL: "http://x/a", UserData: json.RawMessage(`{"n":1}`)}, &client.AddRequestOptions{Forefront: true})
		if err != nil {
			t.Fatal(err)
		}
		if *res != (client.RequestResult{RequestID: "abc", UniqueKey: "http://x/a", WasAlreadyPresent: true}) {
			t.Errorf("got %+v", *res)
		}
		req := b.last(t)
		if req.Method != "POST" || req.Path != "/v2/request-queues/alice~queue/requests" || req.Query.Get("clientKey") != "ck1" ||
			req.Query.Get("forefront") != "1" || !strings.HasPrefix(req.ContentType, "application/json") {
			t.Errorf("got %s %s?%s (%s)", req.Method, req.Path, req.RawQuery, req.ContentType)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(req.Body), &body); err != nil || body["url"] != "http://x/a" || body["userData"].(map[string]any)["n"] != 1.0 {
			t.Errorf("body %s", req.Body)
		}
		if q.ClientKey() != "ck1" || b.c.RequestQueue("x").ClientKey() != "" {
			t.Error("WithClientKey changed the original client")
		}
	})

	t.Run("GetUpdateDelete", func(t *testing.T) {
		t.Parallel()
		handled := time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case "GET":
				if strings.HasSuffix(r.URL.Path, "/missing") {
					writeError(w, 404, "record-not-found", "Request was not found.")
					return
				}
				writeData(w, 200, map[string]any{"id": "r1", "uniqueKey": "k", "url": "http://x/a", "method": "GET",
					"handledAt": handled, "lockExpiresAt": handled, "retryCount": 2})
			case "PUT":
				writeData(w, 200, map[string]any{"requestId": "r1", "wasAlreadyPresent": true, "wasAlreadyHandled": false})
			case "DELETE":
				w.WriteHeader(204)
			}
		})
		q := b.c.Run("run1").RequestQueue().WithClientKey("ck")
		got, err := q.GetRequest(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "r1" || got.RetryCount != 2 || got.HandledAt == nil || !got.HandledAt.Equal(handled) || got.LockExpiresAt == nil {
			t.Errorf("got %+v", got)
		}
		if req := b.last(t); req.Path != "/v2/actor-runs/run1/request-queue/requests/r1" || req.RawQuery != "" {
			t.Errorf("GET %s?%s", req.Path, req.RawQuery)
		}
		if got, err := q.GetRequest(ctx, "missing"); got != nil || err != nil {
			t.Errorf("missing request: %v, %v", got, err)
		}

		got.HandledAt = &handled
		res, err := q.UpdateRequest(ctx, got, nil)
		if err != nil || res.RequestID != "r1" || res.UniqueKey != "k" || !res.WasAlreadyPresent {
			t.Fatalf("update: %+v, %v", res, err)
		}
		req := b.last(t)
		if req.Method != "PUT" || req.Path != "/v2/actor-runs/run1/request-queue/requests/r1" || req.Query.Get("forefront") != "0" || req.Query.Get("clientKey") != "ck" {
			t.Errorf("PUT %s?%s", req.Path, req.RawQuery)
		}
		if !strings.Contains(req.Body, `"handledAt":"2025-01-02T03:04:05.006Z"`) || !strings.Contains(req.Body, `"id":"r1"`) {
			t.Errorf("PUT body %s", req.Body)
		}
		if _, err := q.UpdateRequest(ctx, &client.Request{URL: "http://x"}, nil); err == nil {
			t.Error("update without an id succeeded")
		}

		if err := q.DeleteRequest(ctx, "r1"); err != nil {
			t.Fatal(err)
		}
		if req := b.last(t); req.Method != "DELETE" || req.Path != "/v2/actor-runs/run1/request-queue/requests/r1" || req.RawQuery != "clientKey=ck" {
			t.Errorf("DELETE %s?%s", req.Path, req.RawQuery)
		}
	})

	t.Run("Get", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/nope") {
				writeError(w, 404, "record-not-found", "no")
				return
			}
			writeData(w, 200, map[string]any{"id": "q1", "totalRequestCount": 3, "hadMultipleClients": true})
		})
		st, err := b.c.RequestQueue("q1").Get(ctx)
		if err != nil || st.ID != "q1" || *st.TotalRequestCount != 3 || !*st.HadMultipleClients {
			t.Fatalf("got %+v, %v", st, err)
		}
		if st, err := b.c.RequestQueue("nope").Get(ctx); st != nil || err != nil {
			t.Fatalf("missing queue: %v, %v", st, err)
		}
	})
}

func TestRequestQueueClientBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var b *bundle
	b = setup(t, func(w http.ResponseWriter, r *http.Request) {
		// The test server has read the body already.
		var items []map[string]any
		_ = json.Unmarshal([]byte(b.last(t).Body), &items)
		switch r.Method {
		case "POST":
			res := map[string]any{"processedRequests": []any{}, "unprocessedRequests": []any{}}
			var processed []any
			for _, it := range items {
				processed = append(processed, map[string]any{"requestId": "id-" + it["url"].(string), "uniqueKey": it["url"]})
			}
			res["processedRequests"] = processed
			writeData(w, 201, res)
		case "DELETE":
			writeData(w, 200, map[string]any{"processedRequests": []any{map[string]string{"id": "x"}}, "unprocessedRequests": []any{}})
		}
	})
	q := b.c.RequestQueue("q1")
	var reqs []*client.Request
	for i := range 30 {
		reqs = append(reqs, &client.Request{URL: fmt.Sprint(i)})
	}
	res, err := q.BatchAddRequests(ctx, reqs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.ProcessedRequests) != 30 || res.ProcessedRequests[29].UniqueKey != "29" || len(res.UnprocessedRequests) != 0 {
		t.Fatalf("got %+v", res)
	}
	got := b.requests()
	if len(got) != 2 || got[0].Path != "/v2/request-queues/q1/requests/batch" || got[0].Method != "POST" || got[0].RawQuery != "forefront=0" {
		t.Fatalf("requests %+v", got)
	}
	var first, second []map[string]any
	_ = json.Unmarshal([]byte(got[0].Body), &first)
	_ = json.Unmarshal([]byte(got[1].Body), &second)
	if len(first) != 25 || len(second) != 5 {
		t.Fatalf("batches of %d and %d, want 25 and 5", len(first), len(second))
	}

	del, err := q.WithClientKey("ck").BatchDeleteRequests(ctx, []client.RequestRef{{ID: "x"}, {UniqueKey: "http://y"}})
	if err != nil || len(del.ProcessedRequests) != 1 {
		t.Fatalf("delete: %+v, %v", del, err)
	}
	req := b.last(t)
	if req.Method != "DELETE" || req.Path != "/v2/request-queues/q1/requests/batch" || req.RawQuery != "clientKey=ck" ||
		!strings.HasPrefix(req.ContentType, "application/json") || req.Body != `[{"id":"x"},{"uniqueKey":"http://y"}]` {
		t.Fatalf("DELETE %s?%s %s %s", req.Path, req.RawQuery, req.ContentType, req.Body)
	}
}

func TestRequestQueueClientList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("cursor") {
		case "":
			writeData(w, 200, map[string]any{"limit": 2, "items": []any{map[string]any{"id": "a"}, map[string]any{"id": "b"}}, "nextCursor": "c1"})
		case "c1":
			writeData(w, 200, map[string]any{"limit": 2, "items": []any{map[string]any{"id": "c"}}, "cursor": "c1"})
		}
	})
	q := b.c.RequestQueue("q1").WithClientKey("ck")
	page, err := q.ListRequests(ctx, &client.ListRequestsOptions{Limit: 2, Filter: []string{"locked", "pending"}})
	if err != nil || len(page.Items) != 2 || page.NextCursor != "c1" || page.Limit != 2 {
		t.Fatalf("page: %+v, %v", page, err)
	}
	if req := b.last(t); req.Path != "/v2/request-queues/q1/requests" || req.Query.Get("filter") != "locked,pending" ||
		req.Query.Get("limit") != "2" || req.Query.Get("clientKey") != "ck" {
		t.Errorf("GET %s?%s", req.Path, req.RawQuery)
	}

	opts := &client.ListRequestsOptions{Limit: 2, ExclusiveStartID: "start"}
	var ids []string
	for r, err := range q.ListRequestsIter(ctx, opts) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, ",") != "a,b,c" {
		t.Fatalf("iterated %v", ids)
	}
	got := b.requests()
	if q1, q2 := got[len(got)-2].Query, got[len(got)-1].Query; q1.Get("exclusiveStartId") != "start" || q2.Has("exclusiveStartId") || q2.Get("cursor") != "c1" {
		t.Errorf("iterator queries %v then %v", q1, q2)
	}
	if opts.Cursor != "" {
		t.Error("the iterator changed the caller's options")
	}

	// An error ends the iteration.
	e := setup(t, func(w http.ResponseWriter, r *http.Request) { writeError(w, 400, "invalid-parameter", "bad filter") })
	n := 0
	for _, err := range e.c.RequestQueue("q1").ListRequestsIter(ctx, nil) {
		n++
		var ce *client.Error
		if err == nil || !strings.Contains(err.Error(), "bad filter") || !errors.As(err, &ce) {
			t.Fatalf("got %v", err)
		}
	}
	if n != 1 {
		t.Fatalf("iterator yielded %d times after an error", n)
	}
}

func TestRequestQueueClientHeadAndLocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	exp := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/head"):
			writeData(w, 200, map[string]any{"limit": 5, "hadMultipleClients": true, "queueModifiedAt": exp,
				"items": []any{map[string]any{"id": "a", "uniqueKey": "ka", "url": "http://a", "method": "GET", "retryCount": 1}}})
		case strings.HasSuffix(r.URL.Path, "/head/lock"):
			writeData(w, 201, map[string]any{"limit": 25, "lockSecs": 1.5, "clientKey": "ck", "queueHasLockedRequests": true,
				"items": []any{map[string]any{"id": "a", "lockExpiresAt": exp}}})
		case strings.HasSuffix(r.URL.Path, "/lock") && r.Method == "PUT":
			writeData(w, 200, map[string]any{"lockExpiresAt": exp})
		case strings.HasSuffix(r.URL.Path, "/lock") && r.Method == "DELETE":
			w.WriteHeader(204)
		case strings.HasSuffix(r.URL.Path, "/unlock"):
			writeData(w, 200, map[string]any{"unlockedCount": 4})
		}
	})
	q := b.c.Actor("A1").LastRun("SUCCEEDED").RequestQueue().WithClientKey("ck")
	base := "/v2/actors/A1/runs/last/request-queue"

	h, err := q.ListHead(ctx, 5)
	if err != nil || h.Limit != 5 || !h.HadMultipleClients || !h.QueueModifiedAt.Equal(exp) || len(h.Items) != 1 || h.Items[0].RetryCount != 1 {
		t.Fatalf("head: %+v, %v", h, err)
	}
	if req := b.last(t); req.Method != "GET" || req.Path != base+"/head" || req.Query.Get("limit") != "5" ||
		req.Query.Get("status") != "SUCCEEDED" || req.Query.Get("clientKey") != "ck" {
		t.Errorf("GET %s?%s", req.Path, req.RawQuery)
	}

	h, err = q.ListAndLockHead(ctx, 1500*time.Millisecond, 0)
	if err != nil || h.LockSecs != 1.5 || h.ClientKey != "ck" || !h.QueueHasLockedRequests || !h.Items[0].LockExpiresAt.Equal(exp) {
		t.Fatalf("head/lock: %+v, %v", h, err)
	}
	if req := b.last(t); req.Method != "POST" || req.Path != base+"/head/lock" || req.Query.Get("lockSecs") != "1.5" || req.Query.Has("limit") {
		t.Errorf("POST %s?%s", req.Path, req.RawQuery)
	}

	got, err := q.ProlongLock(ctx, "a", time.Minute, true)
	if err != nil || !got.Equal(exp) {
		t.Fatalf("prolong: %v, %v", got, err)
	}
	if req := b.last(t); req.Method != "PUT" || req.Path != base+"/requests/a/lock" || req.Query.Get("lockSecs") != "60" || req.Query.Get("forefront") != "1" {
		t.Errorf("PUT %s?%s", req.Path, req.RawQuery)
	}

	if err := q.DeleteLock(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	if req := b.last(t); req.Method != "DELETE" || req.Path != base+"/requests/a/lock" || req.Query.Get("forefront") != "0" || req.Query.Get("clientKey") != "ck" {
		t.Errorf("DELETE %s?%s", req.Path, req.RawQuery)
	}

	n, err := q.Unlock(ctx)
	if err != nil || n != 4 {
		t.Fatalf("unlock: %d, %v", n, err)
	}
	if req := b.last(t); req.Method != "POST" || req.Path != base+"/requests/unlock" || req.Query.Get("clientKey") != "ck" {
		t.Errorf("POST %s?%s", req.Path, req.RawQuery)
	}

	// A lock held by another client is an API error.
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, 409, "conflict", "locked by another client")
	})
	_, err = c.c.RequestQueue("q").ProlongLock(ctx, "a", time.Minute, false)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.StatusCode != 409 || ce.Type != "conflict" {
		t.Fatalf("got %v", err)
	}
}
