package storetest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

var webhookTests = []struct {
	name string
	fn   func(t *testing.T, s troupe.Store)
}{
	{"Webhook/CRUD", testWebhookCRUD},
	{"Webhook/Idempotency", testWebhookIdempotency},
	{"Webhook/OutboxInRunTransaction", testWebhookOutboxRun},
	{"Webhook/AdHoc", testWebhookAdHoc},
	{"Webhook/OutboxBuild", testWebhookOutboxBuild},
}

// newWebhook returns a webhook of actor actorID on events, not yet stored.
func newWebhook(t *testing.T, actorID string, events ...string) *troupe.Webhook {
	t.Helper()
	w, err := troupe.NewWebhook(&troupe.WebhookFields{EventTypes: events,
		Condition:  &troupe.WebhookCondition{ActorID: &actorID},
		RequestURL: ptr("http://127.0.0.1:9/hook")}, "user1", base)
	must(t, err)
	return w
}

func createWebhook(t *testing.T, s troupe.Store, w *troupe.Webhook) *troupe.Webhook {
	t.Helper()
	got, created, err := s.CreateWebhook(t.Context(), w)
	must(t, err)
	if !created {
		t.Fatal("CreateWebhook: created = false for a new webhook")
	}
	return got
}

// dispatches returns every dispatch of webhook id, oldest first.
func dispatches(t *testing.T, s troupe.Store, id string) []*troupe.WebhookDispatch {
	t.Helper()
	list, total, err := s.ListDispatches(t.Context(), id, troupe.ListOptions{})
	must(t, err)
	if total != len(list) {
		t.Fatalf("ListDispatches: total %d, %d listed", total, len(list))
	}
	return list
}

func eventTypes(list []*troupe.WebhookDispatch) []string {
	out := []string{}
	for _, d := range list {
		out = append(out, d.EventType)
	}
	return out
}

func testWebhookCRUD(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	w := createWebhook(t, s, newWebhook(t, "actA", troupe.EventRunSucceeded))
	later := newWebhook(t, "actB", troupe.EventRunFailed)
	later.CreatedAt = at(1) // lists order by createdAt
	createWebhook(t, s, later)
	got, err := s.GetWebhook(ctx, w.ID)
	must(t, err)
	sameJSON(t, "GetWebhook", got, w)
	if got.PayloadTemplate != troupe.DefaultPayloadTemplate || got.LastDispatch != nil {
		t.Fatalf("new webhook: payload %q, lastDispatch %v", got.PayloadTemplate, got.LastDispatch)
	}
	list, total, err := s.ListWebhooks(ctx, troupe.WebhookFilter{})
	must(t, err)
	if total != 2 || len(list) != 2 || list[0].ID != w.ID {
		t.Fatalf("ListWebhooks: total %d, %d items", total, len(list))
	}
	list, total, err = s.ListWebhooks(ctx, troupe.WebhookFilter{ActorID: "actB"})
	must(t, err)
	if total != 1 || len(list) != 1 || *list[0].Condition.ActorID != "actB" {
		t.Fatalf("ListWebhooks of actB: total %d, %d items", total, len(list))
	}

	upd, err := s.UpdateWebhook(ctx, w.ID, func(w *troupe.Webhook) error {
		w.Condition = troupe.WebhookCondition{ActorID: ptr("actC")}
		w.Description = ptr("moved")
		return nil
	})
	must(t, err)
	if *upd.Description != "moved" || upd.ID != w.ID {
		t.Fatalf("UpdateWebhook: %+v", upd)
	}
	// The new condition is the one events match.
	r := createRun(t, s, newRun("actC", base))
	finishRun(t, s, r.ID)
	if got := eventTypes(dispatches(t, s, w.ID)); len(got) != 1 || got[0] != troupe.EventRunSucceeded {
		t.Fatalf("dispatches after the condition changed: %v", got)
	}
	got, err = s.GetWebhook(ctx, w.ID)
	must(t, err)
	if got.Stats.TotalDispatches != 1 || got.LastDispatch == nil || got.LastDispatch.Status != troupe.DispatchActive {
		t.Fatalf("stats %+v, lastDispatch %+v", got.Stats, got.LastDispatch)
	}

	_, err = s.UpdateWebhook(ctx, w.ID, func(*troupe.Webhook) error {
		return troupe.Errorf(troupe.ErrInvalidInput, "no")
	})
	wantType(t, err, troupe.ErrInvalidInput)
	must(t, s.DeleteWebhook(ctx, w.ID))
	_, err = s.GetWebhook(ctx, w.ID)
	wantType(t, err, troupe.ErrRecordNotFound)
	wantType(t, s.DeleteWebhook(ctx, w.ID), troupe.ErrRecordNotFound)
	// Its dispatch is kept.
	if len(dispatches(t, s, w.ID)) != 1 {
		t.Fatal("the deleted webhook's dispatch is gone")
	}
}

func testWebhookIdempotency(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	w := newWebhook(t, "actA", troupe.EventRunSucceeded)
	w.IdempotencyKey = ptr("key-1")
	first := createWebhook(t, s, w)
	again := newWebhook(t, "actZ", troupe.EventRunFailed)
	again.IdempotencyKey = ptr("key-1")
	got, created, err := s.CreateWebhook(ctx, again)
	must(t, err)
	if created || got.ID != first.ID || *got.Condition.ActorID != "actA" {
		t.Fatalf("second create with the same key: created %v, id %s (want %s)", created, got.ID, first.ID)
	}
	other := newWebhook(t, "actA", troupe.EventRunSucceeded)
	other.IdempotencyKey = ptr("key-2")
	createWebhook(t, s, other)
	_, total, err := s.ListWebhooks(ctx, troupe.WebhookFilter{})
	must(t, err)
	if total != 2 {
		t.Fatalf("%d webhooks, want 2", total)
	}
}

// finishRun takes run id through RUNNING to SUCCEEDED.
func finishRun(t *testing.T, s troupe.Store, id string) {
	t.Helper()
	for _, step := range []func(r *troupe.Run) error{
		func(r *troupe.Run) error { return r.MarkRunning(at(1)) },
		func(r *troupe.Run) error { return r.Finish(0, at(2)) },
	} {
		_, err := s.UpdateRun(t.Context(), id, func(r *troupe.Run, _ troupe.StorageTx) error { return step(r) })
		must(t, err)
	}
}

func testWebhookOutboxRun(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	all := createWebhook(t, s, newWebhook(t, "actA", troupe.EventRunCreated, troupe.EventRunSucceeded,
		troupe.EventRunResurrected))
	failed := createWebhook(t, s, newWebhook(t, "actA", troupe.EventRunFailed))
	other := createWebhook(t, s, newWebhook(t, "actB", troupe.EventRunCreated))

	ch, stop := s.Watch(troupe.WebhookDispatchKey)
	defer stop()
	r := createRun(t, s, newRun("actA", base))
	WaitSignal(t, ch, "a dispatch was enqueued")
	if got := eventTypes(dispatches(t, s, all.ID)); len(got) != 1 || got[0] != troupe.EventRunCreated {
		t.Fatalf("after create: %v", got)
	}
	// A mutation that fails writes no dispatch.
	_, err := s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		if err := r.MarkRunning(at(1)); err != nil {
			return err
		}
		if err := r.Finish(0, at(2)); err != nil {
			return err
		}
		return errors.New("rolled back")
	})
	if err == nil {
		t.Fatal("the failing mutation succeeded")
	}
	if n := len(dispatches(t, s, all.ID)); n != 1 {
		t.Fatalf("a rolled-back status change enqueued: %d dispatches", n)
	}
	finishRun(t, s, r.ID)
	list := dispatches(t, s, all.ID)
	if got := eventTypes(list); len(got) != 2 || got[1] != troupe.EventRunSucceeded {
		t.Fatalf("after finish: %v", got)
	}
	d := list[1]
	if d.Status != troupe.DispatchActive || d.EventData["actorRunId"] != r.ID || d.EventData["actorId"] != "actA" ||
		d.WebhookID != all.ID || d.Webhook.RequestURL != all.RequestURL {
		t.Fatalf("dispatch: %+v", d)
	}
	// The payload is the default template, rendered with the run as it was.
	var body struct {
		EventType string         `json:"eventType"`
		Resource  map[string]any `json:"resource"`
		EventData map[string]any `json:"eventData"`
	}
	must(t, jsonUnmarshal(d.Request.Payload, &body))
	if body.EventType != troupe.EventRunSucceeded || body.Resource["status"] != "SUCCEEDED" ||
		body.Resource["id"] != r.ID || body.EventData["actorRunId"] != r.ID {
		t.Fatalf("payload: %s", d.Request.Payload)
	}
	got, err := s.GetDispatch(ctx, d.ID)
	must(t, err)
	sameJSON(t, "GetDispatch", got, d)
	_, err = s.GetDispatch(ctx, "nope")
	wantType(t, err, troupe.ErrRecordNotFound)
	if n := len(dispatches(t, s, failed.ID)) + len(dispatches(t, s, other.ID)); n != 0 {
		t.Fatalf("webhooks the run does not trigger got %d dispatches", n)
	}
	// Resurrect: terminal → RUNNING.
	_, err = s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		return r.Resurrect(troupe.ResurrectOptions{}, at(3))
	})
	must(t, err)
	if got := eventTypes(dispatches(t, s, all.ID)); len(got) != 3 || got[2] != troupe.EventRunResurrected {
		t.Fatalf("after resurrect: %v", got)
	}
	_, total, err := s.ListDispatches(ctx, "", troupe.ListOptions{})
	must(t, err)
	if total != 3 { // of all; other follows another actor
		t.Fatalf("all dispatches: %d, want 3", total)
	}
}

func testWebhookAdHoc(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := newRun("actA", base)
	hooks, err := troupe.ParseAdHocWebhooks(b64(`[{"eventTypes":["ACTOR.RUN.SUCCEEDED"],
		"requestUrl":"http://127.0.0.1:9/x","payloadTemplate":"{\"run\": {{resource.id}}, \"s\": \"id={{resource.id}}\"}",
		"shouldInterpolateStrings":true}]`), "user1", r.ID, base)
	must(t, err)
	r.AdHocWebhooks = hooks
	createRun(t, s, r)
	list, _, err := s.ListWebhooks(ctx, troupe.WebhookFilter{})
	must(t, err)
	if len(list) != 1 || !list[0].IsAdHoc || *list[0].Condition.ActorRunID != r.ID {
		t.Fatalf("ad-hoc webhooks: %s", mustJSON(t, list))
	}
	finishRun(t, s, r.ID)
	ds := dispatches(t, s, list[0].ID)
	if len(ds) != 1 || string(ds[0].Request.Payload) != `{"run": "`+r.ID+`", "s": "id=`+r.ID+`"}` {
		t.Fatalf("ad-hoc dispatches: %s", mustJSON(t, ds))
	}
	// Another run of the actor does not trigger it.
	finishRun(t, s, createRun(t, s, newRun("actA", base)).ID)
	if n := len(dispatches(t, s, list[0].ID)); n != 1 {
		t.Fatalf("another run triggered the ad-hoc webhook: %d dispatches", n)
	}
	// Deleting the run deletes its ad-hoc webhooks.
	must(t, s.DeleteRun(ctx, r.ID))
	_, err = s.GetWebhook(ctx, list[0].ID)
	wantType(t, err, troupe.ErrRecordNotFound)
}

func testWebhookOutboxBuild(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	w := createWebhook(t, s, newWebhook(t, "actA", troupe.EventBuildCreated, troupe.EventBuildFailed))
	b := newBuild("actA", "0.1")
	must(t, s.CreateBuild(ctx, b))
	_, err := s.UpdateBuild(ctx, b.ID, func(b *troupe.Build) error {
		b.Status = troupe.StatusFailed
		return nil
	})
	must(t, err)
	list := dispatches(t, s, w.ID)
	if got := eventTypes(list); len(got) != 2 || got[0] != troupe.EventBuildCreated || got[1] != troupe.EventBuildFailed {
		t.Fatalf("build dispatches: %v", got)
	}
	if list[1].EventData["actorBuildId"] != b.ID {
		t.Fatalf("eventData %v", list[1].EventData)
	}
}

// testWebhookRetry follows one dispatch through failed calls on a clock the
// test moves: it is due again only at the retry time, and a claim holds it
// for its lease.
func testWebhookRetry(t *testing.T, s troupe.Store, clock *Clock) {
	ctx := t.Context()
	createWebhook(t, s, newWebhook(t, "actA", troupe.EventRunCreated))
	createRun(t, s, newRun("actA", base))
	at0 := clock.Now()
	next, ok, err := s.NextDispatchAt(ctx)
	must(t, err)
	if !ok || !next.Equal(at0) {
		t.Fatalf("NextDispatchAt = %v, %v; want %v", next, ok, at0)
	}
	claimed, err := s.ClaimDispatches(ctx, "a", time.Minute, 10)
	must(t, err)
	if len(claimed) != 1 {
		t.Fatalf("claimed %d, want 1", len(claimed))
	}
	d := claimed[0]
	if again, err := s.ClaimDispatches(ctx, "b", time.Minute, 10); err != nil || len(again) != 0 {
		t.Fatalf("a leased dispatch was claimed again: %d, %v", len(again), err)
	}
	next, _, err = s.NextDispatchAt(ctx)
	must(t, err)
	if !next.Equal(at0.Add(time.Minute)) {
		t.Fatalf("NextDispatchAt while leased = %v, want the lease end", next)
	}
	fin := at0.Add(time.Second)
	msg := "connection refused"
	must(t, s.FinishCall(ctx, d, troupe.WebhookCall{StartedAt: at0, FinishedAt: &fin, ErrorMessage: &msg},
		troupe.DispatchActive, at0.Add(10*time.Minute)))
	clock.Set(at0.Add(9 * time.Minute))
	if got, err := s.ClaimDispatches(ctx, "a", time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("claimed before the retry time: %d, %v", len(got), err)
	}
	clock.Set(at0.Add(10 * time.Minute))
	claimed, err = s.ClaimDispatches(ctx, "a", time.Minute, 10)
	must(t, err)
	if len(claimed) != 1 || len(claimed[0].Calls) != 1 || *claimed[0].Calls[0].ErrorMessage != msg {
		t.Fatalf("claimed at the retry time: %s", mustJSON(t, claimed))
	}
	stale := *claimed[0]
	// The lease runs out: another claim takes it, the first one's result
	// is refused.
	clock.Set(at0.Add(11 * time.Minute))
	claimed, err = s.ClaimDispatches(ctx, "b", time.Minute, 10)
	must(t, err)
	if len(claimed) != 1 {
		t.Fatalf("claimed after the lease: %d", len(claimed))
	}
	wantType(t, s.FinishCall(ctx, &stale, troupe.WebhookCall{StartedAt: at0, FinishedAt: &fin},
		troupe.DispatchSucceeded, time.Time{}), troupe.ErrConflict)
	status := 200
	must(t, s.FinishCall(ctx, claimed[0], troupe.WebhookCall{StartedAt: at0, FinishedAt: &fin,
		ResponseStatus: &status}, troupe.DispatchSucceeded, time.Time{}))
	got, err := s.GetDispatch(ctx, d.ID)
	must(t, err)
	if got.Status != troupe.DispatchSucceeded || len(got.Calls) != 2 {
		t.Fatalf("after success: %s", mustJSON(t, got))
	}
	if _, ok, err := s.NextDispatchAt(ctx); err != nil || ok {
		t.Fatalf("NextDispatchAt after success: ok %v, %v", ok, err)
	}
	clock.Set(at0.Add(24 * time.Hour))
	if got, err := s.ClaimDispatches(ctx, "a", time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("a finished dispatch was claimed: %d, %v", len(got), err)
	}
}

// Clock is a clock a test sets.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the time last set.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set sets the time.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// testSharedClaim has stores on one database claim the same dispatches at
// once: each dispatch is claimed by exactly one of them.
func testSharedClaim(t *testing.T, open func() troupe.Store) {
	s1, s2 := open(), open()
	w := createWebhook(t, s1, newWebhook(t, "actA", troupe.EventRunCreated))
	const runs = 20
	for range runs {
		createRun(t, s1, newRun("actA", base))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for _, s := range []troupe.Store{s1, s2, s1, s2} {
		wg.Go(func() {
			for {
				got, err := s.ClaimDispatches(t.Context(), "x", time.Hour, 3)
				if err != nil && troupe.ErrorType(err) != troupe.ErrConflict {
					t.Error(err)
					return
				}
				if err == nil && len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != runs {
		t.Fatalf("%d dispatches claimed, want %d", len(seen), runs)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("dispatch %s claimed %d times", id, n)
		}
	}
	if n := len(dispatches(t, s2, w.ID)); n != runs {
		t.Fatalf("%d dispatches listed", n)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
