package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
)

// finishingController ends every run it is woken for at once: SUCCEEDED,
// with its INPUT as the status message.
type finishingController struct{ store troupe.Store }

func (c finishingController) Wake(id string) {
	ctx := context.Background()
	_, _ = c.store.UpdateRun(ctx, id, func(r *troupe.Run, _ troupe.StorageTx) error {
		if r.Status != troupe.StatusReady {
			return nil
		}
		msg := "no input"
		if in, err := c.store.GetRecord(ctx, r.DefaultKeyValueStoreID, "INPUT"); err == nil {
			msg = string(in.Value)
		}
		if err := r.MarkRunning(troupe.Now()); err != nil {
			return err
		}
		if err := r.Finish(0, troupe.Now()); err != nil {
			return err
		}
		r.StatusMessage = &msg
		return nil
	})
}

func (finishingController) Stats(string) (troupe.ProcessStats, bool) {
	return troupe.ProcessStats{}, false
}

func TestCLITasks(t *testing.T) {
	t.Parallel()
	a := newLiveAPIWith(t, func(s troupe.Store) api.Controller { return finishingController{s} })
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hello := a.actor("hello", t1, "")
	b := &troupe.Build{ID: troupe.NewID(), ActID: hello.ID, UserID: liveUserID, StartedAt: t1, Status: troupe.StatusSucceeded,
		ActorVersion: "0.0", Meta: troupe.RunMeta{Origin: troupe.OriginAPI}}
	if err := a.store.CreateBuild(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.UpdateActor(context.Background(), hello.ID, func(act *troupe.Actor) error {
		act.TaggedBuilds["latest"] = &troupe.TaggedBuild{BuildID: b.ID, BuildNumber: b.BuildNumber}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	out, _, err := a.run("tasks", "create", "greet", "--actor", "hello", "--input", `{"who":"task","n":1}`, "--memory", "256", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var task struct {
		ID      string
		ActID   string
		Name    string
		Options struct{ MemoryMbytes int }
	}
	if err := json.Unmarshal([]byte(out), &task); err != nil || task.ActID != hello.ID || task.Name != "greet" || task.Options.MemoryMbytes != 256 {
		t.Fatalf("tasks create printed %q (%v)", out, err)
	}
	if _, _, err := a.run("tasks", "create", "greet", "--actor", "hello"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("a second task of the same name: err = %v", err)
	}

	out, _, err = a.run("tasks", "ls")
	if err != nil {
		t.Fatal(err)
	}
	rows := lines(out)
	if len(rows) != 2 || rows[1][0] != "greet" || rows[1][1] != task.ID || rows[1][2] != "hello" || rows[1][3] != "0" {
		t.Fatalf("tasks ls:\n%s", out)
	}

	out, errOut, err := a.run("tasks", "run", "greet", "--input", `{"n":2}`)
	if err != nil {
		t.Fatalf("tasks run: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "SUCCEEDED") || !strings.Contains(out, `{"n":2,"who":"task"}`) {
		t.Fatalf("tasks run printed %q, want SUCCEEDED and the merged input", out)
	}
	runs, _, err := a.store.ListRuns(context.Background(), troupe.RunFilter{ActorTaskID: task.ID})
	if err != nil || len(runs) != 1 || runs[0].Options.MemoryMbytes != 256 {
		t.Fatalf("the task's runs: %d (%v)", len(runs), err)
	}
	if _, _, err := a.run("tasks", "run", "nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("tasks run of an unknown task: err = %v", err)
	}

	out, _, err = a.run("tasks", "rm", "greet")
	if err != nil || !strings.Contains(out, "Deleted task greet") {
		t.Fatalf("tasks rm: %q %v", out, err)
	}
	if _, err := a.store.GetTask(context.Background(), task.ID); !troupe.IsNotFound(err) {
		t.Fatalf("task after rm: %v", err)
	}
}

func TestCLISchedules(t *testing.T) {
	t.Parallel()
	a := newLiveAPI(t)
	a.actor("hello", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "0.0.1")

	out, _, err := a.run("schedules", "create", "nightly", "--cron", "0 3 * * *", "--timezone", "Europe/Prague",
		"--actor", "hello", "--input", `{"a":1}`, "--exclusive", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var sc struct {
		ID             string
		CronExpression string
		Timezone       string
		IsEnabled      bool
		IsExclusive    bool
		NextRunAt      *time.Time
		Actions        []struct {
			Type     string
			ActorID  string
			RunInput struct{ Body string }
		}
	}
	if err := json.Unmarshal([]byte(out), &sc); err != nil || sc.CronExpression != "0 3 * * *" || sc.Timezone != "Europe/Prague" ||
		!sc.IsEnabled || !sc.IsExclusive || sc.NextRunAt == nil || len(sc.Actions) != 1 ||
		sc.Actions[0].Type != "RUN_ACTOR" || sc.Actions[0].RunInput.Body != `{"a":1}` {
		t.Fatalf("schedules create printed %q (%v)", out, err)
	}
	if loc, _ := time.LoadLocation("Europe/Prague"); sc.NextRunAt.In(loc).Hour() != 3 {
		t.Fatalf("nextRunAt %v is not 03:00 in Prague", sc.NextRunAt)
	}
	if _, _, err := a.run("schedules", "create", "bad", "--cron", "every day", "--actor", "hello"); err == nil ||
		!strings.Contains(err.Error(), "not valid") {
		t.Fatalf("a bad cron expression: err = %v", err)
	}
	if _, _, err := a.run("schedules", "create", "both", "--cron", "@daily"); err == nil || !strings.Contains(err.Error(), "--actor") {
		t.Fatalf("no action: err = %v", err)
	}

	out, _, err = a.run("schedules", "ls")
	if err != nil {
		t.Fatal(err)
	}
	rows := lines(out)
	if len(rows) != 2 || rows[1][0] != "nightly" || rows[1][1] != sc.ID || !strings.Contains(out, "Europe/Prague") {
		t.Fatalf("schedules ls:\n%s", out)
	}
	out, _, err = a.run("schedules", "log", "nightly")
	if err != nil || len(lines(out)) != 1 {
		t.Fatalf("schedules log of a schedule never fired: %q %v", out, err)
	}

	out, _, err = a.run("schedules", "rm", "nightly")
	if err != nil || !strings.Contains(out, "Deleted schedule nightly") {
		t.Fatalf("schedules rm: %q %v", out, err)
	}
	if _, _, err := a.run("schedules", "get", "nightly"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("schedules get after rm: err = %v", err)
	}
}
