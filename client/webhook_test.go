package client_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/troupehq/troupe/client"
)

func TestWebhookClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/webhooks/W1/test":
			writeData(w, 201, &client.WebhookDispatch{ID: "D1", EventType: "TEST"})
		case "/v2/webhooks/W1/dispatches", "/v2/webhook-dispatches":
			writeData(w, 200, &client.WebhookDispatchList{Total: 1, Items: []*client.WebhookDispatch{{ID: "D1"}}})
		case "/v2/webhooks/nope":
			writeError(w, 404, "record-not-found", "Webhook was not found.")
		default:
			writeData(w, 201, &client.Webhook{ID: "W1"})
		}
	})
	got, err := b.c.Webhooks().Create(ctx, &client.WebhookFields{EventTypes: []string{client.EventRunSucceeded},
		Condition: &client.WebhookCondition{ActorID: "A1"}, RequestURL: "http://127.0.0.1/x", IdempotencyKey: "k"})
	if err != nil || got.ID != "W1" {
		t.Fatalf("create: %+v, %v", got, err)
	}
	if req := b.last(t); req.Method != "POST" || req.Path != "/v2/webhooks" ||
		req.Body != `{"eventTypes":["ACTOR.RUN.SUCCEEDED"],"condition":{"actorId":"A1"},"requestUrl":"http://127.0.0.1/x","idempotencyKey":"k"}` {
		t.Errorf("create sent %s %s %s", req.Method, req.Path, req.Body)
	}
	if d, err := b.c.Webhook("W1").Test(ctx); err != nil || d.ID != "D1" {
		t.Fatalf("test: %+v, %v", d, err)
	}
	if l, err := b.c.Webhook("W1").Dispatches(ctx, nil); err != nil || l.Total != 1 {
		t.Fatalf("dispatches: %+v, %v", l, err)
	}
	if l, err := b.c.WebhookDispatches(ctx, nil); err != nil || l.Items[0].ID != "D1" {
		t.Fatalf("all dispatches: %+v, %v", l, err)
	}
	if w, err := b.c.Webhook("nope").Get(ctx); w != nil || err != nil {
		t.Fatalf("missing webhook: %v, %v", w, err)
	}
	if err := b.c.Webhook("nope").Delete(ctx); err != nil {
		t.Fatalf("delete missing: %v", err)
	}
	if _, err := b.c.Actor("A1").Webhooks().List(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if req := b.last(t); req.Path != "/v2/actors/A1/webhooks" {
		t.Errorf("actor webhooks path %s", req.Path)
	}
	opt, err := client.AdHocWebhooks([]client.WebhookFields{{EventTypes: []string{client.EventRunFailed}, RequestURL: "http://h/"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(opt)
	if string(raw) != `[{"eventTypes":["ACTOR.RUN.FAILED"],"requestUrl":"http://h/"}]` {
		t.Errorf("ad-hoc option %s", raw)
	}
}
