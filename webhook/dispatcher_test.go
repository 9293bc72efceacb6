package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/sqlite"
	"github.com/troupehq/troupe/webhook"
)

type received struct {
	header http.Header
	body   []byte
}

// receiver answers 503 to the first fails calls, then 200, and reports
// every call on the channel.
func receiver(t *testing.T, fails int) (*httptest.Server, <-chan received) {
	ch := make(chan received, 100)
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		n++
		fail := n <= fails
		mu.Unlock()
		ch <- received{r.Header.Clone(), body}
		if fail {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func openStore(t *testing.T) troupe.Store {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "troupe.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func startDispatcher(t *testing.T, s troupe.Store, attempts int) {
	d := webhook.New(webhook.Config{Store: s, Owner: "test", Timeout: 5 * time.Second,
		Retry: troupe.WebhookRetry{Base: 20 * time.Millisecond, Max: time.Second, Attempts: attempts}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func newRun(actorID string) *troupe.Run {
	return &troupe.Run{ID: troupe.NewID(), ActID: actorID, UserID: "user1", Status: troupe.StatusReady,
		DefaultDatasetID: troupe.NewID(), DefaultKeyValueStoreID: troupe.NewID(), DefaultRequestQueueID: troupe.NewID()}
}

func wait(t *testing.T, ch <-chan received) received {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook call")
	}
	return received{}
}

// dispatchDone waits until the dispatch d ends.
func dispatchDone(t *testing.T, s troupe.Store, id string) *troupe.WebhookDispatch {
	t.Helper()
	ch, stop := s.Watch(troupe.WebhookDispatchKey)
	defer stop()
	deadline := time.After(20 * time.Second)
	for {
		d, err := s.GetDispatch(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != troupe.DispatchActive {
			return d
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("dispatch still ACTIVE: %+v", d)
		}
	}
}

func TestDeliverWithRetries(t *testing.T) {
	s := openStore(t)
	srv, calls := receiver(t, 2)
	hook, err := troupe.NewWebhook(&troupe.WebhookFields{EventTypes: []string{troupe.EventRunCreated},
		Condition: &troupe.WebhookCondition{ActorID: new("act1")}, RequestURL: new(srv.URL + "/hook"),
		HeadersTemplate: new(`{"X-Run": {{resource.id}}}`)}, "user1", troupe.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateWebhook(t.Context(), hook); err != nil {
		t.Fatal(err)
	}
	startDispatcher(t, s, 5)
	run := newRun("act1")
	if err := s.CreateRun(t.Context(), run, nil); err != nil {
		t.Fatal(err)
	}
	var last received
	for range 3 {
		last = wait(t, calls)
	}
	var body struct {
		EventType string         `json:"eventType"`
		UserID    string         `json:"userId"`
		Resource  map[string]any `json:"resource"`
	}
	if err := json.Unmarshal(last.body, &body); err != nil {
		t.Fatalf("payload %s: %v", last.body, err)
	}
	if body.EventType != troupe.EventRunCreated || body.UserID != "user1" || body.Resource["id"] != run.ID {
		t.Fatalf("payload %s", last.body)
	}
	if last.header.Get("X-Run") != run.ID || last.header.Get("X-Apify-Webhook") != hook.ID {
		t.Fatalf("headers %v", last.header)
	}
	list, _, err := s.ListDispatches(t.Context(), hook.ID, troupe.ListOptions{})
	if err != nil || len(list) != 1 {
		t.Fatalf("dispatches: %d, %v", len(list), err)
	}
	d := dispatchDone(t, s, list[0].ID)
	if d.Status != troupe.DispatchSucceeded || len(d.Calls) != 3 || *d.Calls[0].ResponseStatus != 503 ||
		*d.Calls[2].ResponseStatus != 200 || *d.Calls[2].ResponseBody != `{"ok":true}` {
		t.Fatalf("dispatch %+v", d)
	}
	if last.header.Get("X-Apify-Webhook-Dispatch-Id") != d.ID {
		t.Fatalf("dispatch id header %q", last.header.Get("X-Apify-Webhook-Dispatch-Id"))
	}
}

func TestGiveUp(t *testing.T) {
	s := openStore(t)
	srv, calls := receiver(t, 100)
	for _, noRetry := range []bool{false, true} {
		hook, err := troupe.NewWebhook(&troupe.WebhookFields{EventTypes: []string{troupe.EventRunCreated},
			Condition: &troupe.WebhookCondition{ActorID: new("act1")}, RequestURL: new(srv.URL),
			DoNotRetry: new(noRetry)}, "user1", troupe.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateWebhook(t.Context(), hook); err != nil {
			t.Fatal(err)
		}
	}
	startDispatcher(t, s, 3)
	if err := s.CreateRun(t.Context(), newRun("act1"), nil); err != nil {
		t.Fatal(err)
	}
	list, _, err := s.ListDispatches(t.Context(), "", troupe.ListOptions{})
	if err != nil || len(list) != 2 {
		t.Fatalf("dispatches: %d, %v", len(list), err)
	}
	for _, d := range list {
		d = dispatchDone(t, s, d.ID)
		want := 3
		if d.Request.DoNotRetry {
			want = 1
		}
		if d.Status != troupe.DispatchFailed || len(d.Calls) != want || d.Calls[want-1].ErrorMessage == nil {
			t.Fatalf("dispatch (doNotRetry %v): %s, %d calls", d.Request.DoNotRetry, d.Status, len(d.Calls))
		}
	}
	if n := len(calls); n != 4 {
		t.Fatalf("%d calls, want 4", n)
	}
}
