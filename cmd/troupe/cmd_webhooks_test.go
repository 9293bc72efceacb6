package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

// TestCLIWebhooks creates a webhook by actor name, sees it listed, sees the
// dispatch a finished run made and deletes it, against the real API.
func TestCLIWebhooks(t *testing.T) {
	t.Parallel()
	a := newLiveAPI(t)
	act := a.actor("hello", time.Now(), "0.1.1")
	id, stderr, err := a.run("webhooks", "create", "http://127.0.0.1:9/hook", "--actor", "hello",
		"--event", "ACTOR.RUN.SUCCEEDED", "--event", "ACTOR.RUN.FAILED", "--description", "ci")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, stderr)
	}
	id = strings.TrimSpace(id)
	w, err := a.store.GetWebhook(context.Background(), id)
	if err != nil || *w.Condition.ActorID != act.ID || len(w.EventTypes) != 2 || *w.Description != "ci" {
		t.Fatalf("stored webhook %+v, %v", w, err)
	}
	out, _, err := a.run("webhooks", "ls")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "actor "+act.ID) {
		t.Fatalf("ls: %v\n%s", err, out)
	}
	run := a.newRun(act, troupe.StatusRunning, time.Now(), "")
	a.finish(run.ID)
	out, _, err = a.run("webhooks", "dispatches", id)
	if err != nil || !strings.Contains(out, "ACTOR.RUN.SUCCEEDED") || !strings.Contains(out, "ACTIVE") {
		t.Fatalf("dispatches: %v\n%s", err, out)
	}
	if _, _, err := a.run("webhooks", "create", "http://127.0.0.1:9/", "--actor", "hello", "--event", "NOPE"); err == nil ||
		!strings.Contains(err.Error(), "NOPE") {
		t.Fatalf("create with an unknown event: %v", err)
	}
	if _, stderr, err := a.run("webhooks", "rm", id); err != nil {
		t.Fatalf("rm: %v\n%s", err, stderr)
	}
	if _, err := a.store.GetWebhook(context.Background(), id); troupe.ErrorType(err) != troupe.ErrRecordNotFound {
		t.Fatalf("after rm: %v", err)
	}
	if _, _, err := a.run("webhooks", "rm", id); err == nil {
		t.Fatal("rm of a missing webhook succeeded")
	}
}
