package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
)

// testClock is a clock a test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// setupQueue starts a server whose clock the test moves, and creates a
// request queue; it returns the queue's path.
func setupQueue(t *testing.T) (*bundle, *testClock, string) {
	t.Helper()
	clock := &testClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	b := setup(t, false, func(c *api.Config) { c.Now = clock.now })
	var st troupe.Storage
	b.call("POST", "/v2/request-queues", nil).ok(t, http.StatusCreated, &st)
	return b, clock, "/v2/request-queues/" + st.ID
}

// keys returns the sorted keys of a JSON object.
func keys(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not an object: %s", raw)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// data checks the status and returns the raw data of the envelope.
func (r response) data(t *testing.T, status int) json.RawMessage {
	t.Helper()
	var raw json.RawMessage
	r.ok(t, status, &raw)
	return raw
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

type opResult struct {
	RequestID         string
	WasAlreadyPresent bool
	WasAlreadyHandled bool
}

type headView struct {
	Limit                  int
	QueueModifiedAt        time.Time
	HadMultipleClients     bool
	QueueHasLockedRequests bool
	ClientKey              string
	LockSecs               float64
	Items                  []troupe.HeadItem
}

func headURLs(h headView) string {
	var out []string
	for _, it := range h.Items {
		out = append(out, strings.TrimPrefix(it.URL, "http://x/"))
	}
	return strings.Join(out, ",")
}

func (b *bundle) addURL(queue, u, query string) string {
	b.t.Helper()
	res := decode[opResult](b.t, b.callJSON("POST", queue+"/requests"+query, map[string]any{"url": u}).data(b.t, 201))
	return res.RequestID
}

func TestRequestQueueRequests(t *testing.T) {
	t.Parallel()
	b, clock, q := setupQueue(t)

	raw := b.callJSON("POST", q+"/requests?clientKey=c1&forefront=0", map[string]any{
		"url": "http://x/a", "uniqueKey": "key-a", "userData": map[string]any{"label": "START"},
		"sessionRotationCount": 2,
	}).data(t, http.StatusCreated)
	if got := keys(t, raw); got != "requestId,wasAlreadyHandled,wasAlreadyPresent" {
		t.Fatalf("add answer keys %s", got)
	}
	res := decode[opResult](t, raw)
	id := troupe.RequestID("key-a")
	if res != (opResult{RequestID: id}) {
		t.Fatalf("add = %+v", res)
	}
	res = decode[opResult](t, b.callJSON("POST", q+"/requests?clientKey=c1", map[string]any{"url": "http://x/a", "uniqueKey": "key-a"}).data(t, 201))
	if !res.WasAlreadyPresent || res.WasAlreadyHandled {
		t.Fatalf("second add = %+v", res)
	}

	raw = b.call("GET", q+"/requests/"+id, nil).data(t, http.StatusOK)
	if got, want := keys(t, raw), "errorMessages,headers,id,method,noRetry,retryCount,sessionRotationCount,uniqueKey,url,userData"; got != want {
		t.Fatalf("request keys %s, want %s", got, want)
	}
	req := decode[troupe.Request](t, raw)
	if req.ID != id || req.URL != "http://x/a" || req.Method != "GET" || string(req.UserData) != `{"label":"START"}` || req.HandledAt != nil {
		t.Fatalf("request = %s", raw)
	}

	// Marking it handled (the body is the whole request).
	handled := clock.now()
	req.HandledAt = &handled
	raw = b.callJSON("PUT", q+"/requests/"+id+"?clientKey=c1", &req).data(t, http.StatusOK)
	if got := keys(t, raw); got != "requestId,wasAlreadyHandled,wasAlreadyPresent" {
		t.Fatalf("update answer keys %s", got)
	}
	if res := decode[opResult](t, raw); res != (opResult{RequestID: id, WasAlreadyPresent: true}) {
		t.Fatalf("update = %+v", res)
	}
	res = decode[opResult](t, b.callJSON("POST", q+"/requests", map[string]any{"url": "http://x/a", "uniqueKey": "key-a"}).data(t, 201))
	if !res.WasAlreadyPresent || !res.WasAlreadyHandled {
		t.Fatalf("add of a handled request = %+v", res)
	}
	b.addURL(q, "http://x/b", "")

	var st troupe.Storage
	b.call("GET", q, nil).ok(t, 200, &st)
	if *st.TotalRequestCount != 2 || *st.HandledRequestCount != 1 || *st.PendingRequestCount != 1 || !*st.HadMultipleClients {
		t.Fatalf("queue = %s", b.call("GET", q, nil).body)
	}

	// Errors.
	b.callJSON("PUT", q+"/requests/"+id, map[string]any{"id": "other", "url": "http://x/a", "uniqueKey": "key-a"}).fails(t, 400, troupe.ErrRequestIDInvalid)
	b.callJSON("PUT", q+"/requests/"+id, map[string]any{"url": "http://x/a", "uniqueKey": "changed"}).fails(t, 400, troupe.ErrRequestIDInvalid)
	b.callJSON("POST", q+"/requests", map[string]any{"uniqueKey": "no-url"}).fails(t, 400, troupe.ErrInvalidInput)
	b.callJSON("POST", q+"/requests", []string{"http://x/a"}).fails(t, 400, troupe.ErrInvalidInput)
	b.call("POST", q+"/requests", []byte(`{"url":`), "Content-Type", "application/json").fails(t, 400, troupe.ErrInvalidInput)
	b.callJSON("POST", q+"/requests?clientKey="+strings.Repeat("k", 33), map[string]any{"url": "http://x/c"}).fails(t, 400, troupe.ErrInvalidParameter)
	b.callJSON("POST", q+"/requests?forefront=maybe", map[string]any{"url": "http://x/c"}).fails(t, 400, troupe.ErrInvalidParameter)
	b.callJSON("POST", "/v2/request-queues/nope/requests", map[string]any{"url": "http://x/c"}).fails(t, 404, troupe.ErrRecordNotFound)

	// Delete.
	if r := b.call("DELETE", q+"/requests/"+id+"?clientKey=c1", nil); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("DELETE = %d %q", r.status, r.body)
	}
	b.call("GET", q+"/requests/"+id, nil).fails(t, 404, troupe.ErrRecordNotFound)
	b.call("DELETE", q+"/requests/"+id, nil).fails(t, 404, troupe.ErrRecordNotFound)
}

func TestRequestQueueHeadAndLocks(t *testing.T) {
	t.Parallel()
	b, clock, q := setupQueue(t)
	ids := map[string]string{}
	for _, u := range []string{"a", "b", "c"} {
		ids[u] = b.addURL(q, "http://x/"+u, "?clientKey=c1")
	}
	ids["f"] = b.addURL(q, "http://x/f", "?clientKey=c1&forefront=true")

	raw := b.call("GET", q+"/head?limit=3&clientKey=c1", nil).data(t, 200)
	if got := keys(t, raw); got != "hadMultipleClients,items,limit,queueModifiedAt" {
		t.Fatalf("head keys %s", got)
	}
	h := decode[headView](t, raw)
	if headURLs(h) != "f,a,b" || h.Limit != 3 || h.HadMultipleClients || !h.QueueModifiedAt.Equal(clock.now()) {
		t.Fatalf("head = %s", raw)
	}
	var items []json.RawMessage
	json.Unmarshal(decode[map[string]json.RawMessage](t, raw)["items"], &items)
	if got := keys(t, items[0]); got != "id,method,retryCount,uniqueKey,url" {
		t.Fatalf("head item keys %s", got)
	}

	b.call("POST", q+"/head/lock?clientKey=c1", nil).fails(t, 400, troupe.ErrParameterRequired)
	for _, v := range []string{"0", "-5", "soon"} {
		b.call("POST", q+"/head/lock?clientKey=c1&lockSecs="+v, nil).fails(t, 400, troupe.ErrInvalidParameter)
	}
	b.call("PUT", q+"/requests/"+ids["a"]+"/lock?clientKey=c1", nil).fails(t, 400, troupe.ErrParameterRequired)

	clock.advance(time.Second)
	raw = b.call("POST", q+"/head/lock?clientKey=c1&lockSecs=60&limit=2", nil).data(t, http.StatusCreated)
	if got, want := keys(t, raw), "clientKey,hadMultipleClients,items,limit,lockSecs,queueHasLockedRequests,queueModifiedAt"; got != want {
		t.Fatalf("head/lock keys %s, want %s", got, want)
	}
	h = decode[headView](t, raw)
	expires := clock.now().Add(time.Minute)
	if headURLs(h) != "f,a" || h.ClientKey != "c1" || h.LockSecs != 60 || h.Limit != 2 || !h.QueueHasLockedRequests ||
		!h.QueueModifiedAt.Equal(clock.now()) || h.Items[0].LockExpiresAt == nil || !h.Items[0].LockExpiresAt.Equal(expires) {
		t.Fatalf("head/lock = %s", raw)
	}
	json.Unmarshal(decode[map[string]json.RawMessage](t, raw)["items"], &items)
	if got := keys(t, items[0]); got != "id,lockExpiresAt,method,retryCount,uniqueKey,url" {
		t.Fatalf("locked item keys %s", got)
	}
	// The lock shows on the request and hides it from the head.
	req := decode[troupe.Request](t, b.call("GET", q+"/requests/"+ids["a"], nil).data(t, 200))
	if req.LockExpiresAt == nil || !req.LockExpiresAt.Equal(expires) {
		t.Fatalf("locked request lockExpiresAt = %v", req.LockExpiresAt)
	}
	if h := decode[headView](t, b.call("GET", q+"/head?clientKey=c2", nil).data(t, 200)); headURLs(h) != "b,c" || !h.HadMultipleClients {
		t.Fatalf("head for c2 = %+v", h)
	}

	// Only c1 may prolong or release its locks.
	b.call("PUT", q+"/requests/"+ids["a"]+"/lock?clientKey=c2&lockSecs=10", nil).fails(t, 409, troupe.ErrConflict)
	b.call("DELETE", q+"/requests/"+ids["a"]+"/lock?clientKey=c2", nil).fails(t, 409, troupe.ErrConflict)
	raw = b.call("PUT", q+"/requests/"+ids["a"]+"/lock?clientKey=c1&lockSecs=120", nil).data(t, 200)
	if got := keys(t, raw); got != "lockExpiresAt" {
		t.Fatalf("prolong keys %s", got)
	}
	if got := decode[struct{ LockExpiresAt *time.Time }](t, raw).LockExpiresAt; got == nil || !got.Equal(clock.now().Add(2*time.Minute)) {
		t.Fatalf("prolonged to %v", got)
	}
	b.call("PUT", q+"/requests/nosuchrequest00/lock?clientKey=c1&lockSecs=120", nil).fails(t, 404, troupe.ErrRecordNotFound)

	// Releasing f with forefront puts it first again.
	if r := b.call("DELETE", q+"/requests/"+ids["f"]+"/lock?clientKey=c1&forefront=1", nil); r.status != 204 {
		t.Fatalf("DELETE lock = %d %s", r.status, r.body)
	}
	if h := decode[headView](t, b.call("GET", q+"/head", nil).data(t, 200)); headURLs(h) != "f,b,c" {
		t.Fatalf("head = %s", headURLs(h))
	}

	// Without a clientKey head/lock makes one up and says which.
	h = decode[headView](t, b.call("POST", q+"/head/lock?lockSecs=30&limit=100", nil).data(t, 201))
	if h.ClientKey == "" || h.Limit != troupe.MaxBatchRequests || headURLs(h) != "f,b,c" {
		t.Fatalf("anonymous head/lock = %+v", h)
	}
	n := decode[struct{ UnlockedCount int }](t, b.call("POST", q+"/requests/unlock?clientKey="+h.ClientKey, nil).data(t, 200))
	if n.UnlockedCount != 3 {
		t.Fatalf("unlocked %d, want 3", n.UnlockedCount)
	}

	// Locks expire with the clock: c1's lock of a ends after 120s.
	clock.advance(119 * time.Second)
	if h := decode[headView](t, b.call("POST", q+"/head/lock?clientKey=c3&lockSecs=5", nil).data(t, 201)); headURLs(h) != "f,b,c" {
		t.Fatalf("c3 locked %s before the expiry", headURLs(h))
	}
	clock.advance(time.Second)
	h = decode[headView](t, b.call("POST", q+"/head/lock?clientKey=c4&lockSecs=5", nil).data(t, 201))
	if headURLs(h) != "a" {
		t.Fatalf("c4 locked %s, want a", headURLs(h))
	}
	clock.advance(5 * time.Second)
	if got := decode[troupe.Request](t, b.call("GET", q+"/requests/"+ids["a"], nil).data(t, 200)).LockExpiresAt; got != nil {
		t.Fatalf("expired lock still shown: %v", got)
	}
	if raw := b.call("POST", q+"/requests/unlock?clientKey=c4", nil).data(t, 200); string(raw) != `{"unlockedCount":0}` {
		t.Fatalf("unlock after expiry = %s", raw)
	}
}

func TestRequestQueueBatch(t *testing.T) {
	t.Parallel()
	b, _, q := setupQueue(t)
	var batch []map[string]any
	for i := range 26 {
		batch = append(batch, map[string]any{"url": fmt.Sprintf("http://x/%02d", i)})
	}
	b.callJSON("POST", q+"/requests/batch?clientKey=c1", batch).fails(t, 400, troupe.ErrInvalidInput)
	b.callJSON("POST", q+"/requests/batch", map[string]any{"url": "http://x/1"}).fails(t, 400, troupe.ErrInvalidInput)
	b.callJSON("POST", q+"/requests/batch", []any{"http://x/1"}).fails(t, 400, troupe.ErrInvalidInput)

	b.addURL(q, "http://x/00", "")
	batch = batch[:25]
	batch[7] = map[string]any{"uniqueKey": "no-url", "method": "POST"}
	// Clients compress bodies of 1 kB and more.
	body, _ := json.Marshal(batch)
	raw := b.call("POST", q+"/requests/batch?clientKey=c1&forefront=true", compress(t, "gzip", body),
		"Content-Type", "application/json; charset=utf-8", "Content-Encoding", "gzip").data(t, http.StatusCreated)
	if got := keys(t, raw); got != "processedRequests,unprocessedRequests" {
		t.Fatalf("batch add keys %s", got)
	}
	res := decode[troupe.BatchAddResult](t, raw)
	if len(res.ProcessedRequests) != 24 || len(res.UnprocessedRequests) != 1 ||
		res.UnprocessedRequests[0] != (troupe.UnprocessedRequest{UniqueKey: "no-url", Method: "POST"}) {
		t.Fatalf("batch add = %s", raw)
	}
	var processed []json.RawMessage
	json.Unmarshal(decode[map[string]json.RawMessage](t, raw)["processedRequests"], &processed)
	if got := keys(t, processed[0]); got != "requestId,uniqueKey,wasAlreadyHandled,wasAlreadyPresent" {
		t.Fatalf("processed keys %s", got)
	}
	if p := res.ProcessedRequests[0]; p.UniqueKey != "http://x/00" || !p.WasAlreadyPresent || p.RequestID != troupe.RequestID("http://x/00") {
		t.Fatalf("processed[0] = %+v", p)
	}
	if h := decode[headView](t, b.call("GET", q+"/head?limit=2", nil).data(t, 200)); headURLs(h) != "01,02" {
		t.Fatalf("head after a forefront batch = %s", headURLs(h))
	}

	// Batch delete: by id or uniqueKey; needs a JSON body.
	refs := []map[string]string{{"id": troupe.RequestID("http://x/01")}, {"uniqueKey": "http://x/02"}}
	refBody, _ := json.Marshal(refs)
	b.call("DELETE", q+"/requests/batch", refBody, "Content-Type", "text/plain").fails(t, 400, troupe.ErrInvalidInput)
	raw = b.callJSON("DELETE", q+"/requests/batch?clientKey=c1", refs).data(t, http.StatusOK)
	del := decode[troupe.BatchDeleteResult](t, raw)
	if len(del.ProcessedRequests) != 2 || len(del.UnprocessedRequests) != 0 ||
		del.ProcessedRequests[1] != (troupe.RequestRef{ID: troupe.RequestID("http://x/02"), UniqueKey: "http://x/02"}) {
		t.Fatalf("batch delete = %s", raw)
	}
	var st troupe.Storage
	b.call("GET", q, nil).ok(t, 200, &st)
	if *st.TotalRequestCount != 22 || *st.PendingRequestCount != 22 {
		t.Fatalf("queue after batches: %s", b.call("GET", q, nil).body)
	}
	b.callJSON("DELETE", q+"/requests/batch", make([]map[string]string, 26)).fails(t, 400, troupe.ErrInvalidInput)
}

func TestRequestQueueList(t *testing.T) {
	t.Parallel()
	b, _, q := setupQueue(t)
	want := map[string]bool{}
	for i := range 5 {
		want[b.addURL(q, fmt.Sprintf("http://x/%d", i), "")] = true
	}
	type page struct {
		Items      []troupe.Request
		Limit      int
		Cursor     string
		NextCursor string
	}
	seen := map[string]bool{}
	path := q + "/requests?limit=2&clientKey=c1"
	pages := 0
	for {
		raw := b.call("GET", path, nil).data(t, 200)
		p := decode[page](t, raw)
		pages++
		for _, r := range p.Items {
			if seen[r.ID] || !want[r.ID] {
				t.Fatalf("page %d lists %s again or unknown", pages, r.ID)
			}
			seen[r.ID] = true
		}
		if p.Limit != 2 {
			t.Fatalf("limit = %d", p.Limit)
		}
		if p.NextCursor == "" {
			if k := keys(t, raw); k != "cursor,items,limit" {
				t.Fatalf("last page keys %s", k)
			}
			break
		}
		path = q + "/requests?limit=2&cursor=" + url.QueryEscape(p.NextCursor)
	}
	if len(seen) != 5 || pages != 3 {
		t.Fatalf("listed %d requests in %d pages", len(seen), pages)
	}
	// The deprecated exclusiveStartId pages too.
	all := decode[page](t, b.call("GET", q+"/requests", nil).data(t, 200))
	rest := decode[page](t, b.call("GET", q+"/requests?exclusiveStartId="+all.Items[2].ID, nil).data(t, 200))
	if len(all.Items) != 5 || all.Limit != 1000 || len(rest.Items) != 2 || rest.Items[0].ID != all.Items[3].ID {
		t.Fatalf("all %d (limit %d), after the third %d", len(all.Items), all.Limit, len(rest.Items))
	}

	b.call("POST", q+"/head/lock?lockSecs=60&limit=2", nil).data(t, 201)
	if p := decode[page](t, b.call("GET", q+"/requests?filter=locked", nil).data(t, 200)); len(p.Items) != 2 || p.Items[0].LockExpiresAt == nil {
		t.Fatalf("locked filter: %+v", p)
	}
	if p := decode[page](t, b.call("GET", q+"/requests?filter=locked,pending", nil).data(t, 200)); len(p.Items) != 5 {
		t.Fatalf("locked,pending filter: %d", len(p.Items))
	}
	b.call("GET", q+"/requests?filter=handled", nil).fails(t, 400, troupe.ErrInvalidParameter)
	b.call("GET", q+"/requests?cursor=garbage!", nil).fails(t, 400, troupe.ErrInvalidParameter)
	b.call("GET", q+"/requests?cursor=abc&exclusiveStartId=x", nil).fails(t, 400, troupe.ErrInvalidParameter)
}

func TestRequestQueueRunShortcuts(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("crawler", "")
	run := b.start(a.ID, "", nil, "")
	for _, p := range []string{
		"/v2/actor-runs/" + run.ID + "/request-queue",
		"/v2/actors/" + a.ID + "/runs/last/request-queue",
		"/v2/acts/" + username + "~crawler/runs/last/request-queue",
		"/v2/request-queues/" + run.DefaultRequestQueueID,
	} {
		b.addURL(p, "http://x/"+url.PathEscape(p), "?clientKey=run")
		h := decode[headView](t, b.call("POST", p+"/head/lock?lockSecs=60&clientKey=run", nil).data(t, 201))
		if len(h.Items) != 1 {
			t.Fatalf("%s: locked %d", p, len(h.Items))
		}
		id := h.Items[0].ID
		b.call("GET", p+"/requests/"+id, nil).ok(t, 200, nil)
		b.call("PUT", p+"/requests/"+id+"/lock?lockSecs=60&clientKey=run", nil).ok(t, 200, nil)
		if r := b.call("DELETE", p+"/requests/"+id+"/lock?clientKey=run", nil); r.status != 204 {
			t.Fatalf("%s: DELETE lock = %d", p, r.status)
		}
		b.call("GET", p+"/head?clientKey=run", nil).ok(t, 200, nil)
		b.call("GET", p+"/requests?clientKey=run", nil).ok(t, 200, nil)
		b.call("POST", p+"/requests/unlock?clientKey=run", nil).ok(t, 200, nil)
		b.callJSON("DELETE", p+"/requests/batch?clientKey=run", []map[string]string{{"id": id}}).ok(t, 200, nil)
	}
	var st troupe.Storage
	b.call("GET", "/v2/actor-runs/"+run.ID+"/request-queue", nil).ok(t, 200, &st)
	if st.ID != run.DefaultRequestQueueID || *st.TotalRequestCount != 0 || *st.HadMultipleClients {
		t.Fatalf("run's queue = %s", b.call("GET", "/v2/request-queues/"+st.ID, nil).body)
	}
	b.call("GET", "/v2/actor-runs/nope/request-queue/head", nil).fails(t, 404, troupe.ErrRecordNotFound)
}

// TestRequestQueueConcurrentLock has eight clients lock the head of one
// queue over HTTP at the same time: no request is handed out twice.
func TestRequestQueueConcurrentLock(t *testing.T) {
	t.Parallel()
	b, _, q := setupQueue(t)
	const clients, perClient = 8, 50
	total := clients * perClient
	for i := 0; i < total; i += troupe.MaxBatchRequests {
		var batch []map[string]any
		for j := i; j < i+troupe.MaxBatchRequests; j++ {
			batch = append(batch, map[string]any{"url": fmt.Sprintf("http://x/%d", j)})
		}
		b.callJSON("POST", q+"/requests/batch?clientKey=producer", batch).ok(t, 201, nil)
	}
	var (
		mu    sync.Mutex
		owner = map[string]int{}
		wg    sync.WaitGroup
		errs  = make(chan string, clients)
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r := b.call("POST", fmt.Sprintf("%s/head/lock?lockSecs=600&limit=%d&clientKey=client-%d", q, 3+c, c), nil)
				if r.status != http.StatusCreated {
					errs <- fmt.Sprintf("client %d: head/lock = %d %s", c, r.status, r.body)
					return
				}
				var env struct{ Data headView }
				if err := json.Unmarshal(r.body, &env); err != nil {
					errs <- err.Error()
					return
				}
				if len(env.Data.Items) == 0 {
					return
				}
				mu.Lock()
				for _, it := range env.Data.Items {
					if prev, dup := owner[it.ID]; dup {
						mu.Unlock()
						errs <- fmt.Sprintf("request %s handed to clients %d and %d", it.ID, prev, c)
						return
					}
					owner[it.ID] = c
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if len(owner) != total {
		t.Fatalf("%d requests handed out, want %d", len(owner), total)
	}
}
