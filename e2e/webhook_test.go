package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe/client"
)

// hookReceiver records the webhook calls it gets, by dispatch.
type hookReceiver struct {
	mu    sync.Mutex
	calls map[string]int // "eventType runId" → calls
	ch    chan struct{}
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var p struct {
		EventType string `json:"eventType"`
		EventData struct {
			ActorRunID string `json:"actorRunId"`
		} `json:"eventData"`
		AdHoc string `json:"adHoc"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	key := p.EventType + " " + p.EventData.ActorRunID
	if p.AdHoc != "" {
		key = "adhoc " + p.AdHoc
	}
	h.mu.Lock()
	h.calls[key]++
	h.mu.Unlock()
	select {
	case h.ch <- struct{}{}:
	default:
	}
}

// missing returns the keys in want that got no call yet.
func (h *hookReceiver) missing(want []string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, k := range want {
		if h.calls[k] == 0 {
			out = append(out, k)
		}
	}
	return out
}

// TestWebhookDelivery has webhooks fire while their receiver is down, kills
// the server with SIGKILL, brings the receiver up and starts the server
// again on the same data: every dispatch arrives, none is lost.
func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	// The receiver's address, closed for now: calls are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	dir := t.TempDir()
	flags := []string{"--webhook-retry", "200ms", "--webhook-attempts", "40", "--webhook-timeout", "5s"}
	s, err := launch(dir, flags...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := s.waitExamples(ctx); err != nil {
		t.Fatal(err)
	}
	echo, err := s.c.Actor("~echo").Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hook, err := s.c.Webhooks().Create(ctx, &client.WebhookFields{
		EventTypes: []string{client.EventRunCreated, client.EventRunSucceeded, client.EventRunFailed},
		Condition:  &client.WebhookCondition{ActorID: echo.ID}, RequestURL: "http://" + addr + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	adhoc, err := client.AdHocWebhooks([]client.WebhookFields{{EventTypes: []string{client.EventRunSucceeded},
		RequestURL: "http://" + addr + "/adhoc", PayloadTemplate: `{"adHoc": {{resource.id}}}`}})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i, input := range []string{`{"exitCode":0}`, `{"exitCode":1}`, `{"exitCode":0}`} {
		opts := &client.StartOptions{}
		if i == 0 {
			opts.Webhooks = adhoc
		}
		run := s.finish(t, s.start(t, "echo", input, opts).ID)
		want = append(want, client.EventRunCreated+" "+run.ID)
		switch run.Status {
		case client.StatusSucceeded:
			want = append(want, client.EventRunSucceeded+" "+run.ID)
		case client.StatusFailed:
			want = append(want, client.EventRunFailed+" "+run.ID)
		default:
			t.Fatalf("run %s ended %s", run.ID, run.Status)
		}
		if i == 0 {
			want = append(want, "adhoc "+run.ID)
		}
	}
	// Every dispatch has been tried and refused at least once.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		page, err := s.c.WebhookDispatches(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		tried := 0
		for _, d := range page.Items {
			if d.Status != "ACTIVE" {
				t.Fatalf("dispatch %s is %s while its receiver is down", d.ID, d.Status)
			}
			if len(d.Calls) > 0 && d.Calls[0].ErrorMessage != nil {
				tried++
			}
		}
		if page.Total == len(want) && tried == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dispatches, %d tried; want %d", page.Total, tried, len(want))
		}
	}
	s.crash()

	rec := &hookReceiver{calls: map[string]int{}, ch: make(chan struct{}, 1)}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rec}
	go srv.Serve(ln)
	defer srv.Close()

	s2, err := launch(dir, flags...)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.stop()
	// The CLI shows the webhook and its dispatches.
	out, err := s2.cli(t, "webhooks", "ls", "--actor", "echo")
	if err != nil || !strings.Contains(out, hook.ID) || !strings.Contains(out, "actor "+echo.ID) {
		t.Fatalf("webhooks ls: %v\n%s", err, out)
	}
	wait, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for len(rec.missing(want)) > 0 {
		select {
		case <-rec.ch:
		case <-wait.Done():
			t.Fatalf("never delivered: %v", rec.missing(want))
		}
	}
	// The server records every dispatch SUCCEEDED, with the refused calls
	// before the one that got through.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		page, err := s2.c.Webhook(hook.ID).Dispatches(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, d := range page.Items {
			n := len(d.Calls)
			if d.Status == "SUCCEEDED" && n >= 2 && d.Calls[0].ErrorMessage != nil && *d.Calls[n-1].ResponseStatus == 200 {
				done++
			}
		}
		if done == len(want)-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d dispatches recorded SUCCEEDED", done, len(want)-1)
		}
	}
	out, err = s2.cli(t, "webhooks", "dispatches", hook.ID)
	if err != nil || strings.Count(out, "HTTP 200") != len(want)-1 {
		t.Fatalf("webhooks dispatches: %v\n%s", err, out)
	}
	// A test call goes through at once; rm deletes the webhook.
	if out, err = s2.cli(t, "webhooks", "test", hook.ID); err != nil || !strings.Contains(out, "dispatch ") {
		t.Fatalf("webhooks test: %v\n%s", err, out)
	}
	if out, err = s2.cli(t, "webhooks", "rm", hook.ID); err != nil {
		t.Fatalf("webhooks rm: %v\n%s", err, out)
	}
	if got, err := s2.c.Webhook(hook.ID).Get(ctx); err != nil || got != nil {
		t.Fatalf("webhook after rm: %v, %v", got, err)
	}
}
