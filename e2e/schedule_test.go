package e2e_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/troupehq/troupe/client"
)

// TestScheduledTaskRun has a real server's scheduler fire a schedule whose
// action runs a task; a webhook on the task announces the run's end.
func TestScheduledTaskRun(t *testing.T) {
	t.Parallel()
	s := shared
	ctx := testCtx(t)
	ended := make(chan string, 16)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p struct {
			EventData struct {
				ActorRunID string `json:"actorRunId"`
			} `json:"eventData"`
		}
		if json.Unmarshal(body, &p) == nil {
			select {
			case ended <- p.EventData.ActorRunID:
			default:
			}
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	task, err := s.c.Tasks().Create(ctx, &client.TaskCreate{ActID: "~echo", Name: uniqueName("scheduled-echo"),
		Input: json.RawMessage(`{"message":"from the task","from":"task"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Webhooks().Create(ctx, &client.WebhookFields{EventTypes: []string{client.EventRunSucceeded},
		Condition: &client.WebhookCondition{ActorTaskID: task.ID}, RequestURL: "http://" + ln.Addr().String() + "/"}); err != nil {
		t.Fatal(err)
	}
	// Every second, one run at a time.
	sc, err := s.c.Schedules().Create(ctx, &client.ScheduleFields{Name: client.Ptr(uniqueName("every-second")),
		CronExpression: client.Ptr("* * * * * *"), IsEnabled: client.Ptr(true), IsExclusive: client.Ptr(true),
		Actions: []client.ScheduleAction{{Type: client.ActionRunActorTask, ActorTaskID: task.ID,
			Input: json.RawMessage(`{"message":"from the schedule"}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	var runID string
	select {
	case runID = <-ended:
	case <-ctx.Done():
		t.Fatal("no scheduled run of the task ended")
	}
	if err := s.c.Schedule(sc.ID).Delete(ctx); err != nil {
		t.Fatal(err)
	}

	run, err := s.c.Run(runID).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != client.StatusSucceeded || run.ActorTaskID == nil || *run.ActorTaskID != task.ID ||
		run.Meta.Origin != "SCHEDULER" || run.Meta.ScheduleID != sc.ID || run.Meta.ScheduledAt == nil {
		t.Fatalf("scheduled run: status %s, task %v, meta %+v", run.Status, run.ActorTaskID, run.Meta)
	}
	in, _ := s.record(t, runID, "OUTPUT")["input"].(map[string]any)
	if got := in; got["message"] != "from the schedule" || got["from"] != "task" {
		t.Fatalf("the run's OUTPUT = %v, want the schedule's message over the task's input", got)
	}
	runs, err := s.c.Task(task.ID).Runs().List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs.Items {
		if r.Meta.ScheduleID != sc.ID {
			t.Fatalf("task run %s has meta %+v", r.ID, r.Meta)
		}
	}
	if runs.Total < 1 {
		t.Fatal("the task lists no runs")
	}
}
