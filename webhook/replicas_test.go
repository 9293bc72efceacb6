package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/pgtest"
	"github.com/troupehq/troupe/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestReplicas runs two dispatchers on two stores sharing one PostgreSQL
// database, as two troupe replicas do: every dispatch is sent once, by one
// of them.
func TestReplicas(t *testing.T) {
	url := pgtest.NewDatabase(t)
	var stores []troupe.Store
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		db, err := postgres.Open(ctx, url)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		stores = append(stores, db)
	}
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.Header.Get("X-Apify-Webhook-Dispatch-Id")]++
		mu.Unlock()
	}))
	defer srv.Close()
	hook, err := troupe.NewWebhook(&troupe.WebhookFields{EventTypes: []string{troupe.EventRunCreated},
		Condition: &troupe.WebhookCondition{ActorID: new("act1")}, RequestURL: new(srv.URL)}, "user1", troupe.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := stores[0].CreateWebhook(t.Context(), hook); err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		startDispatcher(t, s, 5)
	}
	const runs = 30
	for i := range runs {
		if err := stores[i%2].CreateRun(t.Context(), newRun("act1"), nil); err != nil {
			t.Fatal(err)
		}
	}
	list, total, err := stores[1].ListDispatches(t.Context(), hook.ID, troupe.ListOptions{})
	if err != nil || total != runs {
		t.Fatalf("%d dispatches, %v", total, err)
	}
	for _, d := range list {
		d = dispatchDone(t, stores[0], d.ID)
		if d.Status != troupe.DispatchSucceeded || len(d.Calls) != 1 {
			t.Fatalf("dispatch %s: %s after %d calls", d.ID, d.Status, len(d.Calls))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != runs {
		t.Fatalf("%d dispatches called, want %d", len(calls), runs)
	}
	for id, n := range calls {
		if n != 1 {
			t.Fatalf("dispatch %s called %d times", id, n)
		}
	}
}

// TestTakeOver has a replica claim a dispatch and die before it calls: when
// the claim's lease ends, the other replica's dispatcher, asleep until then,
// sends it.
func TestTakeOver(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stores []troupe.Store
	for range 2 {
		db, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		stores = append(stores, db)
	}
	srv, calls := receiver(t, 0)
	hook, err := troupe.NewWebhook(&troupe.WebhookFields{EventTypes: []string{troupe.EventRunCreated},
		Condition: &troupe.WebhookCondition{ActorID: new("act1")}, RequestURL: new(srv.URL)}, "user1", troupe.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := stores[0].CreateWebhook(ctx, hook); err != nil {
		t.Fatal(err)
	}
	if err := stores[0].CreateRun(ctx, newRun("act1"), nil); err != nil {
		t.Fatal(err)
	}
	// The replica that dies: it claims the dispatch for 2 s and never calls.
	claimed, err := stores[0].ClaimDispatches(ctx, "dead", 2*time.Second, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %d, %v", len(claimed), err)
	}
	start := time.Now()
	startDispatcher(t, stores[1], 5)
	call := wait(t, calls)
	if took := time.Since(start); took < time.Second {
		t.Fatalf("the survivor called %v after start, before the lease ended", took)
	}
	if call.header.Get("X-Apify-Webhook-Dispatch-Id") != claimed[0].ID {
		t.Fatalf("called for %q", call.header.Get("X-Apify-Webhook-Dispatch-Id"))
	}
	d := dispatchDone(t, stores[1], claimed[0].ID)
	if d.Status != troupe.DispatchSucceeded || len(d.Calls) != 1 {
		t.Fatalf("dispatch %s after %d calls", d.Status, len(d.Calls))
	}
	// The dead replica's late result is refused.
	fin := troupe.Now()
	if err := stores[0].FinishCall(ctx, claimed[0], troupe.WebhookCall{StartedAt: fin, FinishedAt: &fin},
		troupe.DispatchFailed, time.Time{}); troupe.ErrorType(err) != troupe.ErrConflict {
		t.Fatalf("late FinishCall: %v", err)
	}
}
