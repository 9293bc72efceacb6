package api_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/troupehq/troupe"
)

func TestWebhookCRUD(t *testing.T) {
	b := setup(t, false)
	a := b.actor("hooked", "")
	var w troupe.Webhook
	b.callJSON("POST", "/v2/webhooks", map[string]any{
		"eventTypes": []string{"ACTOR.RUN.SUCCEEDED"}, "condition": map[string]any{"actorId": a.ID},
		"requestUrl": "http://127.0.0.1:9/hook", "description": "first",
	}).ok(t, http.StatusCreated, &w)
	if w.ID == "" || w.UserID != userID || w.PayloadTemplate != troupe.DefaultPayloadTemplate || w.IsAdHoc ||
		*w.Description != "first" || w.ActionType != "HTTP_REQUEST" || w.Stats.TotalDispatches != 0 {
		t.Fatalf("created: %+v", w)
	}
	var got troupe.Webhook
	b.call("GET", "/v2/webhooks/"+w.ID, nil).ok(t, 200, &got)
	if got.ID != w.ID || !got.CreatedAt.Equal(w.CreatedAt) {
		t.Fatalf("get: %+v", got)
	}
	var list listPage[troupe.Webhook]
	b.call("GET", "/v2/actors/"+a.ID+"/webhooks", nil).ok(t, 200, &list)
	if list.Total != 1 || list.Items[0].ID != w.ID {
		t.Fatalf("actor webhooks: %+v", list)
	}
	b.callJSON("PUT", "/v2/webhooks/"+w.ID, map[string]any{"eventTypes": []string{"ACTOR.RUN.FAILED", "ACTOR.RUN.SUCCEEDED"}}).
		ok(t, 200, &got)
	if len(got.EventTypes) != 2 || *got.Description != "first" {
		t.Fatalf("updated: %+v", got)
	}

	// A finished run enqueues a dispatch the API lists.
	run := b.start(a.ID, "", nil, "")
	b.finish(run.ID, 0)
	var ds listPage[troupe.WebhookDispatch]
	b.call("GET", "/v2/webhooks/"+w.ID+"/dispatches", nil).ok(t, 200, &ds)
	if ds.Total != 1 || ds.Items[0].EventType != troupe.EventRunSucceeded || ds.Items[0].EventData["actorRunId"] != run.ID ||
		ds.Items[0].Status != troupe.DispatchActive {
		t.Fatalf("dispatches: %+v", ds)
	}
	var d troupe.WebhookDispatch
	b.call("GET", "/v2/webhook-dispatches/"+ds.Items[0].ID, nil).ok(t, 200, &d)
	b.call("POST", "/v2/webhooks/"+w.ID+"/test", nil).ok(t, http.StatusCreated, &d)
	if d.EventType != troupe.EventTest || d.WebhookID != w.ID || d.EventData["actorRunId"] != run.ID {
		t.Fatalf("test dispatch: %+v", d)
	}
	b.call("GET", "/v2/webhook-dispatches", nil).ok(t, 200, &ds)
	if ds.Total != 2 {
		t.Fatalf("all dispatches: %d", ds.Total)
	}
	b.call("GET", "/v2/webhooks/"+w.ID, nil).ok(t, 200, &got)
	if got.Stats.TotalDispatches != 2 || got.LastDispatch == nil || got.LastDispatch.Status != troupe.DispatchActive {
		t.Fatalf("stats %+v, last %+v", got.Stats, got.LastDispatch)
	}

	for _, bad := range []map[string]any{
		{"eventTypes": []string{"ACTOR.RUN.EXPLODED"}, "condition": map[string]any{"actorId": a.ID}, "requestUrl": "http://x/"},
		{"eventTypes": []string{"ACTOR.RUN.FAILED"}, "condition": map[string]any{}, "requestUrl": "http://x/"},
		{"eventTypes": []string{"ACTOR.RUN.FAILED"}, "condition": map[string]any{"actorId": a.ID}, "requestUrl": "ftp://x/"},
		{"eventTypes": []string{"ACTOR.RUN.FAILED"}, "condition": map[string]any{"actorId": a.ID}, "requestUrl": "http://x/",
			"payloadTemplate": `{"a": {{nope}}}`},
		{"condition": map[string]any{"actorId": a.ID}, "requestUrl": "http://x/"},
	} {
		b.callJSON("POST", "/v2/webhooks", bad).fails(t, 400, troupe.ErrInvalidInput)
	}
	b.call("DELETE", "/v2/webhooks/"+w.ID, nil).ok(t, http.StatusNoContent, nil)
	b.call("GET", "/v2/webhooks/"+w.ID, nil).fails(t, 404, troupe.ErrRecordNotFound)
	b.call("GET", "/v2/webhook-dispatches/nope", nil).fails(t, 404, troupe.ErrRecordNotFound)
}

// TestWebhookRunOption starts a run with the webhooks option: its ad-hoc
// webhooks follow that run only.
func TestWebhookRunOption(t *testing.T) {
	b := setup(t, false)
	a := b.actor("adhoc", "")
	opt := base64.StdEncoding.EncodeToString([]byte(
		`[{"eventTypes":["ACTOR.RUN.SUCCEEDED"],"requestUrl":"http://127.0.0.1:9/done","idempotencyKey":"k1"}]`))
	run := b.start(a.ID, "?webhooks="+url.QueryEscape(opt), nil, "")
	var list listPage[troupe.Webhook]
	b.call("GET", "/v2/webhooks", nil).ok(t, 200, &list)
	if list.Total != 1 || !list.Items[0].IsAdHoc || *list.Items[0].Condition.ActorRunID != run.ID {
		t.Fatalf("webhooks: %+v", list)
	}
	b.call("POST", "/v2/actors/"+a.ID+"/runs?webhooks=notbase64!", nil).fails(t, 400, troupe.ErrInvalidParameter)
	bad := base64.StdEncoding.EncodeToString([]byte(`[{"eventTypes":["X"],"requestUrl":"http://a/"}]`))
	b.call("POST", "/v2/actors/"+a.ID+"/runs?webhooks="+url.QueryEscape(bad), nil).fails(t, 400, troupe.ErrInvalidParameter)
}

// TestWebhookFromRun is Actor.addWebhook: a limited run adds an ad-hoc
// webhook of its own run, once per idempotency key, and nothing else.
func TestWebhookFromRun(t *testing.T) {
	b := setup(t, false)
	a := b.actor("sdk", "")
	run := b.start(a.ID, "", nil, "")
	other := b.start(a.ID, "", nil, "")
	tok := troupe.RunToken(runSecret, b.running(run.ID))
	body := `{"isAdHoc":true,"eventTypes":["ACTOR.RUN.SUCCEEDED"],"condition":{"actorRunId":"` + run.ID +
		`"},"requestUrl":"http://127.0.0.1:9/x","idempotencyKey":"once"}`
	var first, second troupe.Webhook
	b.asRun(tok, "POST", "/v2/webhooks", []byte(body), "Content-Type", "application/json").ok(t, 201, &first)
	b.asRun(tok, "POST", "/v2/webhooks", []byte(body), "Content-Type", "application/json").ok(t, 201, &second)
	if first.ID != second.ID || !first.IsAdHoc {
		t.Fatalf("idempotent create: %s then %s", first.ID, second.ID)
	}
	for _, cond := range []string{`{"actorRunId":"` + other.ID + `"}`, `{"actorId":"` + a.ID + `"}`} {
		b.asRun(tok, "POST", "/v2/webhooks", []byte(`{"eventTypes":["ACTOR.RUN.SUCCEEDED"],"condition":`+cond+
			`,"requestUrl":"http://127.0.0.1:9/x"}`), "Content-Type", "application/json").
			fails(t, 403, troupe.ErrInsufficientPermissions)
	}
	b.asRun(tok, "GET", "/v2/webhooks", nil).fails(t, 403, troupe.ErrInsufficientPermissions)
	// Another run with the same idempotency key does not get the webhook.
	otherTok := troupe.RunToken(runSecret, b.running(other.ID))
	b.asRun(otherTok, "POST", "/v2/webhooks", []byte(strings.ReplaceAll(body, run.ID, other.ID)),
		"Content-Type", "application/json").fails(t, 403, troupe.ErrInsufficientPermissions)
	// A run adds at most MaxWebhooksPerRun webhooks.
	for i := 1; i < troupe.MaxWebhooksPerRun; i++ {
		b.asRun(tok, "POST", "/v2/webhooks", []byte(strings.ReplaceAll(body, `"once"`, `"k`+strconv.Itoa(i)+`"`)),
			"Content-Type", "application/json").ok(t, 201, nil)
	}
	b.asRun(tok, "POST", "/v2/webhooks", []byte(strings.ReplaceAll(body, `"once"`, `"one-too-many"`)),
		"Content-Type", "application/json").fails(t, 400, troupe.ErrInvalidInput)
}

// TestWebhookTaskCondition: a run of a task triggers the webhooks of the
// task and of its actor; a run of the actor alone only the actor's.
func TestWebhookTaskCondition(t *testing.T) {
	b := setup(t, false)
	a := b.actor("tasked", "")
	var task struct {
		ID string `json:"id"`
	}
	b.callJSON("POST", "/v2/actor-tasks", map[string]any{"actId": a.ID, "name": "tasked-task"}).ok(t, 201, &task)
	var byTask, byActor troupe.Webhook
	for _, h := range []struct {
		w    *troupe.Webhook
		cond map[string]any
	}{{&byTask, map[string]any{"actorTaskId": task.ID}}, {&byActor, map[string]any{"actorId": a.ID}}} {
		b.callJSON("POST", "/v2/webhooks", map[string]any{"eventTypes": []string{"ACTOR.RUN.SUCCEEDED"},
			"condition": h.cond, "requestUrl": "http://127.0.0.1:9/"}).ok(t, 201, h.w)
	}
	var run troupe.Run
	b.call("POST", "/v2/actor-tasks/"+task.ID+"/runs", nil).ok(t, 201, &run)
	b.finish(run.ID, 0)
	b.finish(b.start(a.ID, "", nil, "").ID, 0)
	var ds listPage[troupe.WebhookDispatch]
	b.call("GET", "/v2/webhooks/"+byTask.ID+"/dispatches", nil).ok(t, 200, &ds)
	if ds.Total != 1 || ds.Items[0].EventData["actorTaskId"] != task.ID || ds.Items[0].EventData["actorRunId"] != run.ID {
		t.Fatalf("task webhook dispatches: %+v", ds)
	}
	b.call("GET", "/v2/webhooks/"+byActor.ID+"/dispatches", nil).ok(t, 200, &ds)
	if ds.Total != 2 {
		t.Fatalf("actor webhook dispatches: %d, want 2", ds.Total)
	}
}
