package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

// queueTests are the request queue tests; Run runs them with the others.
var queueTests = []struct {
	name string
	fn   func(t *testing.T, s troupe.Store)
}{
	{"Queue/AddDedup", testQueueAddDedup},
	{"Queue/RoundTrip", testQueueRoundTrip},
	{"Queue/ForefrontOrder", testQueueForefrontOrder},
	{"Queue/HeadSkipsHandledAndLocked", testQueueHeadSkips},
	{"Queue/LockExpiry", testQueueLockExpiry},
	{"Queue/ProlongAndDeleteLock", testQueueProlongDeleteLock},
	{"Queue/Unlock", testQueueUnlock},
	{"Queue/Update", testQueueUpdate},
	{"Queue/Delete", testQueueDelete},
	{"Queue/Batch", testQueueBatch},
	{"Queue/List", testQueueList},
	{"Queue/Counters", testQueueCounters},
	{"Queue/HadMultipleClients", testQueueMultipleClients},
	{"Queue/ModifiedAt", testQueueModifiedAt},
	{"Queue/NotFound", testQueueNotFound},
	{"Queue/ConcurrentLockHead", testQueueConcurrentLock},
}

// newQueue creates an empty request queue and returns its id.
func newQueue(t *testing.T, s troupe.Store) string {
	t.Helper()
	q, _, err := s.CreateStorage(t.Context(), &troupe.Storage{Kind: troupe.KindRequestQueue})
	must(t, err)
	return q.ID
}

// who is client key acting at second sec of the test clock.
func who(key string, sec int) troupe.QueueCaller {
	return troupe.QueueCaller{ClientKey: key, Now: at(sec)}
}

func newRequest(url string) *troupe.Request { return &troupe.Request{URL: url} }

func addURLs(t *testing.T, s troupe.Store, queue string, forefront bool, urls ...string) []string {
	t.Helper()
	var ids []string
	for _, u := range urls {
		res, err := s.AddRequest(t.Context(), queue, newRequest(u), forefront, who("c1", 0))
		must(t, err)
		ids = append(ids, res.RequestID)
	}
	return ids
}

// headURLs returns the URLs of the queue's head.
func headURLs(t *testing.T, s troupe.Store, queue string, c troupe.QueueCaller) string {
	t.Helper()
	h, err := s.Head(t.Context(), queue, 0, c)
	must(t, err)
	return itemURLs(h.Items)
}

func itemURLs(items []troupe.HeadItem) string {
	var out []string
	for _, it := range items {
		out = append(out, strings.TrimPrefix(it.URL, "http://x/"))
	}
	return strings.Join(out, ",")
}

// lock locks up to limit head requests for key at second sec for 60s.
func lock(t *testing.T, s troupe.Store, queue, key string, sec, limit int) *troupe.QueueHead {
	t.Helper()
	h, err := s.LockHead(t.Context(), queue, troupe.LockOptions{QueueCaller: who(key, sec), Lock: time.Minute, Limit: limit})
	must(t, err)
	return h
}

// counts returns the queue's total, handled and pending counters.
func counts(t *testing.T, s troupe.Store, queue string) string {
	t.Helper()
	q, err := s.GetStorage(t.Context(), troupe.KindRequestQueue, queue)
	must(t, err)
	return fmt.Sprintf("total %d, handled %d, pending %d", *q.TotalRequestCount, *q.HandledRequestCount, *q.PendingRequestCount)
}

func wantCounts(t *testing.T, s troupe.Store, queue string, total, handled int) {
	t.Helper()
	want := fmt.Sprintf("total %d, handled %d, pending %d", total, handled, total-handled)
	if got := counts(t, s, queue); got != want {
		t.Fatalf("counters: %s; want %s", got, want)
	}
}

func testQueueAddDedup(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	q := newQueue(t, s)
	res, err := s.AddRequest(ctx, q, &troupe.Request{URL: "http://x/a", UniqueKey: "key-a"}, false, who("c1", 0))
	must(t, err)
	want := troupe.RequestResult{RequestID: troupe.RequestID("key-a"), UniqueKey: "key-a"}
	if *res != want {
		t.Fatalf("first add = %+v, want %+v", *res, want)
	}
	// The same uniqueKey again, even with another URL: the stored request
	// stays as it was.
	res, err = s.AddRequest(ctx, q, &troupe.Request{URL: "http://x/other", UniqueKey: "key-a"}, true, who("c1", 1))
	must(t, err)
	want.WasAlreadyPresent = true
	if *res != want {
		t.Fatalf("second add = %+v, want %+v", *res, want)
	}
	got, err := s.GetRequest(ctx, q, want.RequestID)
	must(t, err)
	if got.URL != "http://x/a" {
		t.Fatalf("a duplicate add changed the URL to %s", got.URL)
	}
	wantCounts(t, s, q, 1, 0)

	// Without a uniqueKey the URL is the key.
	res, err = s.AddRequest(ctx, q, newRequest("http://x/b"), false, who("c1", 2))
	must(t, err)
	if res.UniqueKey != "http://x/b" || res.RequestID != troupe.RequestID("http://x/b") || res.WasAlreadyPresent {
		t.Fatalf("add without uniqueKey = %+v", *res)
	}

	// A handled request is reported as such.
	now := at(3)
	got.HandledAt = &now
	_, err = s.UpdateRequest(ctx, q, got, false, who("c1", 3))
	must(t, err)
	res, err = s.AddRequest(ctx, q, &troupe.Request{URL: "http://x/a", UniqueKey: "key-a"}, false, who("c1", 4))
	must(t, err)
	if !res.WasAlreadyPresent || !res.WasAlreadyHandled {
		t.Fatalf("add of a handled request = %+v, want present and handled", *res)
	}
	wantCounts(t, s, q, 2, 1)

	// A request added handled counts as handled and is not in the head.
	_, err = s.AddRequest(ctx, q, &troupe.Request{URL: "http://x/c", HandledAt: &now}, false, who("c1", 5))
	must(t, err)
	wantCounts(t, s, q, 3, 2)
	if got := headURLs(t, s, q, who("c1", 5)); got != "b" {
		t.Fatalf("head = %s, want b", got)
	}

	// Validation.
	_, err = s.AddRequest(ctx, q, &troupe.Request{UniqueKey: "no-url"}, false, who("c1", 6))
	wantType(t, err, troupe.ErrInvalidInput)
	_, err = s.AddRequest(ctx, q, &troupe.Request{ID: "wrongid", URL: "http://x/d"}, false, who("c1", 6))
	wantType(t, err, troupe.ErrRequestIDInvalid)
	_, err = s.AddRequest(ctx, q, &troupe.Request{ID: troupe.RequestID("http://x/d"), URL: "http://x/d"}, false, who("c1", 6))
	must(t, err)
	wantCounts(t, s, q, 4, 2)
}

func testQueueRoundTrip(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	q := newQueue(t, s)
	payload, loaded := `{"q":1}`, "http://x/loaded"
	handled := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
	in := &troupe.Request{
		UniqueKey: "ünïcode-key-😀", URL: "http://x/a?b=1", Method: "post", Payload: &payload,
		Headers: map[string]string{"X-A": "1"}, UserData: json.RawMessage(`{"label":"DETAIL","n":[1,2]}`),
		RetryCount: 2, NoRetry: true, ErrorMessages: []string{"boom"}, LoadedURL: &loaded, HandledAt: &handled,
		Extra: map[string]json.RawMessage{"sessionRotationCount": json.RawMessage(`3`)},
	}
	res, err := s.AddRequest(ctx, q, in, false, who("c1", 0))
	must(t, err)
	if in.ID != "" || in.Method != "post" {
		t.Fatal("AddRequest changed the caller's request")
	}
	got, err := s.GetRequest(ctx, q, res.RequestID)
	must(t, err)
	h := handled.UTC().Truncate(time.Millisecond)
	want := *in
	want.ID, want.Method, want.HandledAt = troupe.RequestID(in.UniqueKey), "POST", &h
	sameJSON(t, "request", got, &want)
	if got.LockExpiresAt != nil {
		t.Fatal("an unlocked request has lockExpiresAt")
	}

	// A bare request reads back with the defaults the API shows.
	res, err = s.AddRequest(ctx, q, newRequest("http://x/bare"), false, who("c1", 0))
	must(t, err)
	got, err = s.GetRequest(ctx, q, res.RequestID)
	must(t, err)
	b, err := json.Marshal(got)
	must(t, err)
	wantJSON := `{"id":"` + res.RequestID + `","uniqueKey":"http://x/bare","url":"http://x/bare","method":"GET",` +
		`"headers":{},"userData":{},"retryCount":0,"noRetry":false,"errorMessages":[]}`
	if string(b) != wantJSON {
		t.Fatalf("bare request:\n got %s\nwant %s", b, wantJSON)
	}
}

func testQueueForefrontOrder(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	q := newQueue(t, s)
	addURLs(t, s, q, false, "http://x/a", "http://x/b")
	addURLs(t, s, q, true, "http://x/c")
	_, err := s.BatchAddRequests(ctx, q, []*troupe.Request{newRequest("http://x/d"), newRequest("http://x/e")}, true, who("c1", 0))
	must(t, err)
	addURLs(t, s, q, false, "http://x/f")
	_, err = s.BatchAddRequests(ctx, q, []*troupe.Request{newRequest("http://x/g"), newRequest("http://x/h")}, false, who("c1", 0))
	must(t, err)
	if got, want := headURLs(t, s, q, who("c1", 0)), "d,e,c,a,b,f,g,h"; got != want {
		t.Fatalf("head = %s, want %s", got, want)
	}
	h, err := s.Head(ctx, q, 3, who("c1", 0))
	must(t, err)
	if got := itemURLs(h.Items); got != "d,e,c" || h.Limit != 3 {
		t.Fatalf("head with limit 3 = %s (limit %d)", got, h.Limit)
	}
	it := h.Items[0]
	if it.ID != troupe.RequestID("http://x/d") || it.UniqueKey != "http://x/d" || it.Method != "GET" || it.RetryCount != 0 || it.LockExpiresAt != nil {
		t.Fatalf("head item = %+v", it)
	}
	// Locking takes the same order.
	if got := itemURLs(lock(t, s, q, "c1", 0, 4).Items); got != "d,e,c,a" {
		t.Fatalf("locked %s, want d,e,c,a", got)
	}
}

func testQueueHeadSkips(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	q := newQueue(t, s)
	ids := addURLs(t, s, q, false, "http://x/a", "http://x/b", "http://x/c", "http://x/d")
	h := lock(t, s, q, "c1", 0, 1)
	if itemURLs(h.Items) != "a" {
		t.Fatalf("c1 locked %s, want a", itemURLs(h.Items))
	}
	// Handle b.
	b, err := s.GetRequest(ctx, q, ids[1])
	must(t, err)
	now := at(1)
	b.HandledAt = &now
	_, err = s.UpdateRequest(ctx, q, b, false, who("c2", 1))
	must(t, err)
	// Neither the locked nor the handled request is in anyone's head.
	for _, key := range []string{"c1", "c2"} {
		if got := headURLs(t, s, q, who(key, 2)); got != "c,d" {
			t.Fatalf("head of %s = %s, want c,d", key, got)
		}
	}
	if got := itemURLs(lock(t, s, q, "c2", 2, 0).Items); got != "c,d" {
		t.Fatalf("c2 locked %s, want c,d", got)
	}
	if got := itemURLs(lock(t, s, q, "c3", 3, 0).Items); got != "" {
		t.Fatalf("c3 locked %s, want nothing", got)
	}
}

func testQueueLockExpiry(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	q := newQueue(t, s)
	ids := addURLs(t, s, q, false, "http://x/a", "http://x/b")
	h, err := s.LockHead(ctx, q, troupe.LockOptions{QueueCaller: who("c1", 0), Lock: 30 * time.Second, Limit: 1})
	must(t, err)
	if len(h.Items) != 1 || h.Items[0].LockExpiresAt == nil || !h.Items[0].LockExpiresAt.Equal(at(30)) {
		t.Fatalf("locked %s", mustJSON(t, h.Items))
	}
	if !h.QueueHasLockedRequests || h.Limit != 1 {
		t.Fatalf("queueHasLockedRequests %v, limit %d; want true, 1", h.QueueHasLockedRequests, h.Limit)
	}
	got, err := s.GetRequest(ctx, q, ids[0])
	must(t, err)
	if got.LockExpiresAt == nil || !got.LockExpiresAt.Equal(at(30)) {
		t.Fatalf("GetRequest lockExpiresAt = %v, want %v", got.LockExpiresAt, at(30))
	}
	// Until the lock expires only b is available; a lock lasts up to, not
	// including, its expiry.
	if got := itemURLs(lock(t, s, q, "c2", 29, 0).Items); got != "b" {
		t.Fatalf("c2 at 29s locked %s, want b", got)
	}
	h = lock(t, s, q, "c3", 30, 0)
	if got := itemURLs(h.Items); got != "a" {
		t.Fatalf("c3 at 30s locked %s, want a", got)
	}
	if !h.QueueHasLockedRequests {
		t.Fatal("queueHasLockedRequests = false with two locks held")
	}
	// Once every lock expired, the queue has no locked requests.
	h = lock(t, s, q, "c4", 200, 0)
	if len(h.Items) != 2 || !h.QueueHasLockedRequests {
		t.Fatalf("c4 at 200s locked %s (queueHasLockedRequests %v)", itemURLs(h.Items), h.QueueHasLockedRequests)
	}
	h = lock(t, s, q, "c5", 1000, 0)
	if len(h.Items) != 2 {
		t.Fatalf("c5 at 1000s locked %s, want both", itemURLs(h.Items))
	}

	_, err = s.LockHead(ctx, q, troupe.LockOptions{QueueCaller: who("c1", 0)})
	wantType(t, err, troupe.ErrInvalidValue)
}

func testQueueProlongDeleteLock(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	q := newQueue(t, s)
	ids := addURLs(t, s, q, false, "http://x/a", "http://x/b", "http://x/c")
	lock(t, s, q, "c1", 0, 2) // a and b, until 60s
	prolong := func(key string, sec int, id string, forefront bool) (time.Time, error) {
		return s.ProlongRequestLock(ctx, q, id, troupe.LockOptions{QueueCaller: who(key, sec), Lock: 100 * time.Second, Forefront: forefront})
	}

	exp, err := prolong("c1", 50, ids[0], false)
	must(t, err)
	if !exp.Equal(at(150)) {
		t.Fatalf("prolonged to %v, want %v", exp, at(150))
	}
	if got := itemURLs(lock(t, s, q, "c2", 100, 0).Items); got != "b,c" {
		t.Fatalf("c2 at 100s locked %s, want b,c (a was prolonged)", got)
	}
	// Another client can neither prolong nor release c1's lock.
	_, err = prolong("c2", 100, ids[0], false)
	wantType(t, err, troupe.ErrConflict)
	_, err = prolong("", 100, ids[0], false)
	wantType(t, err, troupe.ErrConflict)
	wantType(t, s.DeleteRequestLock(ctx, q, ids[0], false, who("c2", 100)), troupe.ErrConflict)
	wantType(t, s.DeleteRequestLock(ctx, q, ids[0], false, who("", 100)), troupe.ErrConflict)

	// The owner releases the lock; with forefront the request goes first.
	must(t, s.DeleteRequestLock(ctx, q, ids[0], true, who("c1", 100)))
	got, err := s.GetRequest(ctx, q, ids[0])
	must(t, err)
	if got.LockExpiresAt != nil {
		t.Fatalf("lockExpiresAt after delete lock = %v", got.LockExpiresAt)
	}
	must(t, s.DeleteRequestLock(ctx, q, ids[2], false, who("c2", 100)))
	if got := headURLs(t, s, q, who("c1", 100)); got != "a,c" {
		t.Fatalf("head = %s, want a,c", got)
	}
	// Releasing a lock nobody holds changes nothing.
	must(t, s.DeleteRequestLock(ctx, q, ids[0], false, who("c1", 100)))
	// Prolonging with forefront moves the request to the front as well.
	_, err = prolong("c2", 100, ids[2], true)
	must(t, err)
	must(t, s.DeleteRequestLock(ctx, q, ids[2], false, who("c2", 100)))
	if got := headURLs(t, s, q, who("c1", 100)); got != "c,a" {
		t.Fatalf("head = %s, want c,a", got)
	}
	// A request without a lock can be locked through prolong.
	exp, err = prolong("c3", 100, ids[0], false)
	must(t, err)
	if !exp.Equal(at(200)) {
		t.Fatalf("prolonged to %v", exp)
	}
	if got := headURLs(t, s, q, who("c1", 100)); got != "c" {
		t.Fatalf("head = %s, want c", got)
	}
	// A handled request cannot be locked; an unknown one is not found.
	r, err := s.GetRequest(ctx, q, ids[1])
	must(t, err)
	now := at(101)
	r.HandledAt = &now
	_, err = s.UpdateRequest(ctx, q, r, false, who("c2", 101))
	must(t, err)
	_, err = prolong("c2", 101, ids[1], false)
	wantType(t, err, troupe.ErrConflict)
	_, err = prolong("c2", 101, "nosuchrequest00", false)
	wantType(t, err, troupe.ErrRecordNotFound)
	wantType(t, s.DeleteRequestLock(ctx, q, "nosuchrequest00", false, who("c2", 101)), troupe.ErrRecordNotFound)
	_, err = s.ProlongRequestLock(ctx, q, ids[0], troupe.LockOptions{QueueCaller: who("c3", 101)})
	wantType(t, err, troupe.ErrInvalidValue)
}

func testQueueUnlock(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	q := newQueue(t, s)
	addURLs(t, s, q, false, "http://x/a", "http://x/b", "http://x/c", "http://x/d", "http://x/e", "http://x/f")
	lock(t, s, q, "c1", 0, 3)
	lock(t, s, q, "c2", 0, 2)
	n, err := s.UnlockRequests(ctx, q, who("c1", 10))
	must(t, err)
	if n != 3 {
		t.Fatalf("unlocked %d, want 3", n)
	}
	if got := headURLs(t, s, q, who("c1", 10)); got != "a,b,c,f" {
		t.Fatalf("head after unlock = %s, want a,b,c,f", got)
	}
	// Nothing left to unlock; an anonymous client holds no locks; expired
	// locks do not count.
	for _, c := range []troupe.QueueCaller{who("c1", 10), who("", 10), who("c2", 60)} {
		if n, err := s.UnlockRequests(ctx, q, c); err != nil || n != 0 {
			t.Fatalf("UnlockRequests(%q at %v) = %d, %v; want 0", c.ClientKey, c.Now, n, err)
		}
	}
}

func testQueueUpdate(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	q := newQueue(t, s)
	ids := addURLs(t, s, q, false, "http://x/a", "http://x/b", "http://x/c")
	lock(t, s, q, "c1", 0, 2)

	// Updating a locked request keeps its lock; without forefront it goes
	// to the back of the queue (a retry), with forefront to the front.
	r, err := s.GetRequest(ctx, q, ids[0])
	must(t, err)
	r.RetryCount, r.ErrorMessages = 1, []string{"timeout"}
	res, err := s.UpdateRequest(ctx, q, r, false, who("c1", 1))
	must(t, err)
	if *res != (troupe.RequestResult{RequestID: ids[0], UniqueKey: "http://x/a", WasAlreadyPresent: true}) {
		t.Fatalf("update = %+v", *res)
	}
	got, err := s.GetRequest(ctx, q, ids[0])
	must(t, err)
	if got.RetryCount != 1 || len(got.ErrorMessages) != 1 || got.LockExpiresAt == nil {
		t.Fatalf("after update: %s", mustJSON(t, got))
	}
	must(t, s.DeleteRequestLock(ctx, q, ids[0], false, who("c1", 1)))
	if got := headURLs(t, s, q, who("c1", 1)); got != "c,a" {
		t.Fatalf("head = %s, want c,a", got)
	}
	h, err := s.Head(ctx, q, 2, who("c1", 1))
	must(t, err)
	if h.Items[1].RetryCount != 1 {
		t.Fatalf("head item %+v, want retryCount 1", h.Items[1])
	}
	_, err = s.UpdateRequest(ctx, q, got, true, who("c1", 2))
	must(t, err)
	if got := headURLs(t, s, q, who("c1", 2)); got != "a,c" {
		t.Fatalf("head = %s, want a,c", got)
	}

	// Handling a locked request releases its lock.
	b, err := s.GetRequest(ctx, q, ids[1])
	must(t, err)
	now := at(3)
	b.HandledAt = &now
	res, err = s.UpdateRequest(ctx, q, b, false, who("c1", 3))
	must(t, err)
	if !res.WasAlreadyPresent || res.WasAlreadyHandled {
		t.Fatalf("update = %+v", *res)
	}
	b, err = s.GetRequest(ctx, q, ids[1])
	must(t, err)
	if b.LockExpiresAt != nil || b.HandledAt == nil || !b.HandledAt.Equal(now) {
		t.Fatalf("handled request: %s", mustJSON(t, b))
	}
	wantCounts(t, s, q, 3, 1)
	h = lock(t, s, q, "c2", 3, 0)
	if got := itemURLs(h.Items); got != "a,c" || h.QueueHasLockedRequests != true {
		t.Fatalf("locked %s", got)
	}
	// Handled again: reported, counted once.
	res, err = s.UpdateRequest(ctx, q, b, false, who("c1", 4))
	must(t, err)
	if !res.WasAlreadyHandled {
		t.Fatal("second handling not reported as already handled")
	}
	wantCounts(t, s, q, 3, 1)
	// Clearing handledAt puts it back into the queue.
	b.HandledAt = nil
	_, err = s.UpdateRequest(ctx, q, b, true, who("c1", 5))
	must(t, err)
	wantCounts(t, s, q, 3, 0)
	if got := headURLs(t, s, q, who("c1", 5)); got != "b" {
		t.Fatalf("head = %s, want b (a and c are locked)", got)
	}

	// An id that does not match the uniqueKey is refused; an update of an
	// unknown request creates it; an empty id is derived.
	_, err = s.UpdateRequest(ctx, q, &troupe.Request{ID: ids[0], UniqueKey: "other", URL: "http://x/a"}, false, who("c1", 6))
	wantType(t, err, troupe.ErrRequestIDInvalid)
	res, err = s.UpdateRequest(ctx, q, &troupe.Request{URL: "http://x/new"}, false, who("c1", 6))
	must(t, err)
	if res.WasAlreadyPresent || res.RequestID != troupe.RequestID("http://x/new") {
		t.Fatalf("update of a new request = %+v", *res)
	}
	wantCounts(t, s, q, 4, 0)
}

func testQueueDelete(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	q := newQueue(t, s)
	ids := addURLs(t, s, q, false, "http://x/a", "http://x/b")
	r, err := s.GetRequest(ctx, q, ids[1])
	must(t, err)
	now := at(1)
	r.HandledAt = &now
	_, err = s.UpdateRequest(ctx, q, r, false, who("c1", 1))
	must(t, err)
	must(t, s.DeleteRequest(ctx, q, ids[0], who("c1", 2)))
	wantCounts(t, s, q, 1, 1)
	must(t, s.DeleteRequest(ctx, q, ids[1], who("c1", 2)))
	wantCounts(t, s, q, 0, 0)
	_, err = s.GetRequest(ctx, q, ids[0])
	wantType(t, err, troupe.ErrRecordNotFound)
	wantType(t, s.DeleteRequest(ctx, q, ids[0], who("c1", 2)), troupe.ErrRecordNotFound)
	// A deleted request can be added again.
	res, err := s.AddRequest(ctx, q, newRequest("http://x/a"), false, who("c1", 3))
	must(t, err)
	if res.WasAlreadyPresent {
		t.Fatal("a deleted request is still present")
	}
	// Deleting the queue deletes its requests.
	must(t, s.DeleteStorage(ctx, troupe.KindRequestQueue, q))
	_, err = s.GetRequest(ctx, q, ids[0])
	wantType(t, err, troupe.ErrRecordNotFound)
}

func testQueueBatch(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	q := newQueue(t, s)
	var batch []*troupe.Request
	for i := range troupe.MaxBatchRequests + 1 {
		batch = append(batch, newRequest(fmt.Sprintf("http://x/%02d", i)))
	}
	_, err := s.BatchAddRequests(ctx, q, batch, false, who("c1", 0))
	wantType(t, err, troupe.ErrInvalidValue)
	wantCounts(t, s, q, 0, 0)

	addURLs(t, s, q, false, "http://x/00")
	batch = batch[:troupe.MaxBatchRequests]
	batch[3] = &troupe.Request{UniqueKey: "no-url"}
	batch[5] = newRequest("http://x/04") // the same as batch[4]
	res, err := s.BatchAddRequests(ctx, q, batch, false, who("c1", 1))
	must(t, err)
	if len(res.ProcessedRequests) != 24 || len(res.UnprocessedRequests) != 1 || res.UnprocessedRequests[0].UniqueKey != "no-url" {
		t.Fatalf("batch add: %s", mustJSON(t, res))
	}
	for i, p := range res.ProcessedRequests {
		present := i == 0 || p.UniqueKey == "http://x/04" && i == 4
		if p.RequestID != troupe.RequestID(p.UniqueKey) || p.WasAlreadyPresent != present || p.WasAlreadyHandled {
			t.Fatalf("processed[%d] = %+v, want present %v", i, p, present)
		}
	}
	wantCounts(t, s, q, 23, 0)

	del, err := s.BatchDeleteRequests(ctx, q, []troupe.RequestRef{
		{ID: troupe.RequestID("http://x/00")}, {UniqueKey: "http://x/01"}, {UniqueKey: "http://x/never"}, {},
	}, who("c1", 2))
	must(t, err)
	want := `{"processedRequests":[{"id":"` + troupe.RequestID("http://x/00") + `","uniqueKey":"http://x/00"},` +
		`{"id":"` + troupe.RequestID("http://x/01") + `","uniqueKey":"http://x/01"},` +
		`{"id":"` + troupe.RequestID("http://x/never") + `","uniqueKey":"http://x/never"}],"unprocessedRequests":[{}]}`
	if got := mustJSON(t, del); got != want {
		t.Fatalf("batch delete:\n got %s\nwant %s", got, want)
	}
	wantCounts(t, s, q, 21, 0)
	_, err = s.BatchDeleteRequests(ctx, q, make([]troupe.RequestRef, troupe.MaxBatchRequests+1), who("c1", 2))
	wantType(t, err, troupe.ErrInvalidValue)
}

func testQueueList(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	q := newQueue(t, s)
	var urls []string
	for i := range 7 {
		urls = append(urls, fmt.Sprintf("http://x/%d", i))
	}
	ids := addURLs(t, s, q, false, urls...)
	byID := map[string]string{}
	for i, id := range ids {
		byID[id] = urls[i]
	}

	// Pages of 3 by id, each starting after the last id of the previous.
	var seen []string
	after := ""
	for page := 0; ; page++ {
		p, err := s.ListRequests(ctx, q, troupe.RequestListOptions{QueueCaller: who("c1", 0), Limit: 3, After: after})
		must(t, err)
		for _, r := range p.Items {
			if len(seen) > 0 && r.ID <= seen[len(seen)-1] {
				t.Fatalf("ids not ascending: %s after %s", r.ID, seen[len(seen)-1])
			}
			if byID[r.ID] != r.URL {
				t.Fatalf("listed %s with url %s", r.ID, r.URL)
			}
			seen = append(seen, r.ID)
		}
		if wantMore := page < 2; p.More != wantMore {
			t.Fatalf("page %d: more = %v, want %v", page, p.More, wantMore)
		}
		if !p.More {
			break
		}
		after = seen[len(seen)-1]
	}
	if len(seen) != 7 {
		t.Fatalf("listed %d requests, want 7", len(seen))
	}

	// Filters: locked, pending and their union.
	lock(t, s, q, "c1", 0, 2)
	r, err := s.GetRequest(ctx, q, ids[6])
	must(t, err)
	now := at(1)
	r.HandledAt = &now
	_, err = s.UpdateRequest(ctx, q, r, false, who("c1", 1))
	must(t, err)
	count := func(locked, pending bool, sec int) int {
		p, err := s.ListRequests(ctx, q, troupe.RequestListOptions{QueueCaller: who("c1", sec), Locked: locked, Pending: pending})
		must(t, err)
		if p.More {
			t.Fatal("more after a full list")
		}
		return len(p.Items)
	}
	for _, c := range []struct {
		locked, pending bool
		sec, want       int
	}{
		{false, false, 1, 7}, {true, false, 1, 2}, {false, true, 1, 6}, {true, true, 1, 6}, {true, false, 100, 0},
	} {
		if got := count(c.locked, c.pending, c.sec); got != c.want {
			t.Fatalf("list locked=%v pending=%v at %ds: %d requests, want %d", c.locked, c.pending, c.sec, got, c.want)
		}
	}
	p, err := s.ListRequests(ctx, q, troupe.RequestListOptions{QueueCaller: who("c1", 1), Locked: true})
	must(t, err)
	for _, r := range p.Items {
		if r.LockExpiresAt == nil {
			t.Fatalf("locked request %s listed without lockExpiresAt", r.ID)
		}
	}
}

func testQueueCounters(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	q := newQueue(t, s)
	wantCounts(t, s, q, 0, 0)
	ids := addURLs(t, s, q, false, "http://x/a", "http://x/b", "http://x/c")
	addURLs(t, s, q, false, "http://x/a")
	wantCounts(t, s, q, 3, 0)
	lock(t, s, q, "c1", 0, 3)
	wantCounts(t, s, q, 3, 0)
	for i, id := range ids[:2] {
		r, err := s.GetRequest(ctx, q, id)
		must(t, err)
		now := at(i)
		r.HandledAt = &now
		_, err = s.UpdateRequest(ctx, q, r, false, who("c1", 1))
		must(t, err)
	}
	wantCounts(t, s, q, 3, 2)
	_, err := s.BatchDeleteRequests(ctx, q, []troupe.RequestRef{{ID: ids[0]}, {ID: ids[2]}}, who("c1", 2))
	must(t, err)
	wantCounts(t, s, q, 1, 1)
	// A run's default queue has counters too.
	r := createRun(t, s, newRun("act1", base))
	_, err = s.AddRequest(ctx, r.DefaultRequestQueueID, newRequest("http://x/run"), false, who("c1", 0))
	must(t, err)
	wantCounts(t, s, r.DefaultRequestQueueID, 1, 0)
}

func testQueueMultipleClients(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	multi := func(q string) bool {
		t.Helper()
		st, err := s.GetStorage(ctx, troupe.KindRequestQueue, q)
		must(t, err)
		return *st.HadMultipleClients
	}
	q := newQueue(t, s)
	ids := addURLs(t, s, q, false, "http://x/a", "http://x/b") // client c1
	lock(t, s, q, "c1", 0, 1)
	h, err := s.Head(ctx, q, 0, who("c1", 0))
	must(t, err)
	_, err = s.GetRequest(ctx, q, ids[0]) // carries no client
	must(t, err)
	if multi(q) || h.HadMultipleClients {
		t.Fatal("hadMultipleClients with one client")
	}
	// A second client, even one that only reads the head.
	h, err = s.Head(ctx, q, 0, who("c2", 0))
	must(t, err)
	if !h.HadMultipleClients || !multi(q) {
		t.Fatal("hadMultipleClients = false after a second client")
	}
	// It stays set.
	if h := lock(t, s, q, "c1", 0, 1); !h.HadMultipleClients {
		t.Fatal("hadMultipleClients was reset")
	}

	// Anonymous clients are new clients every time.
	q = newQueue(t, s)
	_, err = s.ListRequests(ctx, q, troupe.RequestListOptions{QueueCaller: who("", 0)})
	must(t, err)
	if multi(q) {
		t.Fatal("hadMultipleClients after one anonymous call")
	}
	_, err = s.AddRequest(ctx, q, newRequest("http://x/a"), false, who("", 0))
	must(t, err)
	if !multi(q) {
		t.Fatal("hadMultipleClients = false after two anonymous calls")
	}
	q = newQueue(t, s)
	addURLs(t, s, q, false, "http://x/a")
	if _, err := s.UnlockRequests(ctx, q, who("", 0)); err != nil || !multi(q) {
		t.Fatalf("hadMultipleClients = %v (%v) after an anonymous call following c1", multi(q), err)
	}
}

func testQueueModifiedAt(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	q := newQueue(t, s)
	modified := func() time.Time {
		t.Helper()
		st, err := s.GetStorage(ctx, troupe.KindRequestQueue, q)
		must(t, err)
		return st.ModifiedAt
	}
	_, err := s.AddRequest(ctx, q, newRequest("http://x/a"), false, who("c1", 10))
	must(t, err)
	if got := modified(); !got.Equal(at(10)) {
		t.Fatalf("modifiedAt after add = %v, want %v", got, at(10))
	}
	h, err := s.Head(ctx, q, 0, who("c1", 20))
	must(t, err)
	if !h.QueueModifiedAt.Equal(at(10)) || !modified().Equal(at(10)) {
		t.Fatalf("reading the head changed queueModifiedAt to %v", h.QueueModifiedAt)
	}
	h = lock(t, s, q, "c1", 30, 0)
	if !h.QueueModifiedAt.Equal(at(30)) || !modified().Equal(at(30)) {
		t.Fatalf("queueModifiedAt after a lock = %v, want %v", h.QueueModifiedAt, at(30))
	}
	h = lock(t, s, q, "c1", 40, 0) // nothing left to lock
	if !h.QueueModifiedAt.Equal(at(30)) {
		t.Fatalf("queueModifiedAt after an empty lock = %v, want %v", h.QueueModifiedAt, at(30))
	}
	n, err := s.UnlockRequests(ctx, q, who("c1", 50))
	must(t, err)
	if n != 1 || !modified().Equal(at(50)) {
		t.Fatalf("unlock: %d, modifiedAt %v", n, modified())
	}
}

func testQueueNotFound(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	ds, _, err := s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindDataset})
	must(t, err)
	for _, q := range []string{"nosuchqueue", ds.ID} {
		c := who("c1", 0)
		_, err := s.AddRequest(ctx, q, newRequest("http://x/a"), false, c)
		wantType(t, err, troupe.ErrRecordNotFound)
		_, err = s.BatchAddRequests(ctx, q, []*troupe.Request{newRequest("http://x/a")}, false, c)
		wantType(t, err, troupe.ErrRecordNotFound)
		_, err = s.UpdateRequest(ctx, q, newRequest("http://x/a"), false, c)
		wantType(t, err, troupe.ErrRecordNotFound)
		_, err = s.GetRequest(ctx, q, troupe.RequestID("http://x/a"))
		wantType(t, err, troupe.ErrRecordNotFound)
		wantType(t, s.DeleteRequest(ctx, q, "x", c), troupe.ErrRecordNotFound)
		_, err = s.BatchDeleteRequests(ctx, q, []troupe.RequestRef{{ID: "x"}}, c)
		wantType(t, err, troupe.ErrRecordNotFound)
		_, err = s.ListRequests(ctx, q, troupe.RequestListOptions{QueueCaller: c})
		wantType(t, err, troupe.ErrRecordNotFound)
		_, err = s.Head(ctx, q, 0, c)
		wantType(t, err, troupe.ErrRecordNotFound)
		_, err = s.LockHead(ctx, q, troupe.LockOptions{QueueCaller: c, Lock: time.Second})
		wantType(t, err, troupe.ErrRecordNotFound)
		_, err = s.ProlongRequestLock(ctx, q, "x", troupe.LockOptions{QueueCaller: c, Lock: time.Second})
		wantType(t, err, troupe.ErrRecordNotFound)
		wantType(t, s.DeleteRequestLock(ctx, q, "x", false, c), troupe.ErrRecordNotFound)
		_, err = s.UnlockRequests(ctx, q, c)
		wantType(t, err, troupe.ErrRecordNotFound)
	}
}

// testQueueConcurrentLock has several clients lock the head of one queue at
// the same time until it is empty: every request is handed out exactly
// once.
func testQueueConcurrentLock(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	const clients, perClient = 8, 50
	q := newQueue(t, s)
	total := clients * perClient
	for i := 0; i < total; i += troupe.MaxBatchRequests {
		var batch []*troupe.Request
		for j := i; j < min(i+troupe.MaxBatchRequests, total); j++ {
			batch = append(batch, newRequest(fmt.Sprintf("http://x/%d", j)))
		}
		_, err := s.BatchAddRequests(ctx, q, batch, false, who("producer", 0))
		must(t, err)
	}

	var mu sync.Mutex
	owner := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("client-%d", c)
			for {
				h, err := s.LockHead(ctx, q, troupe.LockOptions{QueueCaller: who(key, 1), Lock: time.Hour, Limit: 1 + c%troupe.MaxBatchRequests})
				if err != nil {
					errs <- err
					return
				}
				if len(h.Items) == 0 {
					return
				}
				mu.Lock()
				for _, it := range h.Items {
					if prev, dup := owner[it.ID]; dup {
						mu.Unlock()
						errs <- fmt.Errorf("request %s handed to client %d and client %d", it.ID, prev, c)
						return
					}
					owner[it.ID] = c
				}
				mu.Unlock()
				// Handle every other batch, so handling and locking interleave.
				if len(h.Items)%2 == 0 {
					now := at(2)
					r, err := s.GetRequest(ctx, q, h.Items[0].ID)
					if err == nil {
						r.HandledAt = &now
						_, err = s.UpdateRequest(ctx, q, r, false, who(key, 2))
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(owner) != total {
		t.Fatalf("%d requests handed out, want %d", len(owner), total)
	}
	if st, err := s.GetStorage(ctx, troupe.KindRequestQueue, q); err != nil || !*st.HadMultipleClients || *st.TotalRequestCount != int64(total) {
		t.Fatalf("queue after the race: %s, %v", mustJSON(t, st), err)
	}
}
