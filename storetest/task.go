package storetest

import (
	"encoding/json"
	"testing"

	"github.com/troupehq/troupe"
)

var taskTests = []struct {
	name string
	fn   func(t *testing.T, s troupe.Store)
}{
	{"Task/CRUD", testTaskCRUD},
	{"Task/NameNotUnique", testTaskNameNotUnique},
	{"Task/List", testTaskList},
	{"Task/Runs", testTaskRuns},
}

func newTask(actID, name string) *troupe.Task {
	return &troupe.Task{ID: troupe.NewID(), UserID: "user1", Username: "alice", ActID: actID, Name: name,
		CreatedAt: base, ModifiedAt: base, Input: json.RawMessage(`{"a":1}`),
		Options: troupe.TaskOptions{Build: ptr("latest"), MemoryMbytes: ptr(256)}}
}

func testTaskCRUD(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	tk := newTask("act1", "daily")
	must(t, s.CreateTask(ctx, tk))
	got, err := s.GetTask(ctx, tk.ID)
	must(t, err)
	sameJSON(t, "GetTask", got, tk)
	got, err = s.GetTaskByName(ctx, "alice", "daily")
	must(t, err)
	if got.ID != tk.ID {
		t.Fatalf("GetTaskByName id = %s, want %s", got.ID, tk.ID)
	}
	_, err = s.GetTaskByName(ctx, "bob", "daily")
	wantType(t, err, troupe.ErrRecordNotFound)

	upd, err := s.UpdateTask(ctx, tk.ID, func(t *troupe.Task) error {
		t.Name, t.ActID, t.Input = "weekly", "other", json.RawMessage(`{"b":2}`)
		return nil
	})
	must(t, err)
	if upd.Name != "weekly" || upd.ActID != "act1" || string(upd.Input) != `{"b":2}` {
		t.Fatalf("UpdateTask = name %q actId %q input %s; want weekly, act1 (kept), {\"b\":2}", upd.Name, upd.ActID, upd.Input)
	}
	got, err = s.GetTask(ctx, tk.ID)
	must(t, err)
	sameJSON(t, "GetTask after update", got, upd)
	_, err = s.UpdateTask(ctx, tk.ID, func(*troupe.Task) error { return errBoom })
	if err != errBoom {
		t.Fatalf("UpdateTask with a failing fn: err = %v, want boom", err)
	}

	must(t, s.DeleteTask(ctx, tk.ID))
	_, err = s.GetTask(ctx, tk.ID)
	wantType(t, err, troupe.ErrRecordNotFound)
	wantType(t, s.DeleteTask(ctx, tk.ID), troupe.ErrRecordNotFound)
	_, err = s.UpdateTask(ctx, tk.ID, func(*troupe.Task) error { return nil })
	wantType(t, err, troupe.ErrRecordNotFound)
}

func testTaskNameNotUnique(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	must(t, s.CreateTask(ctx, newTask("act1", "one")))
	wantType(t, s.CreateTask(ctx, newTask("act2", "one")), troupe.ErrTaskNameNotUnique)
	other := newTask("act1", "one")
	other.Username = "bob"
	must(t, s.CreateTask(ctx, other))
	two := newTask("act1", "two")
	must(t, s.CreateTask(ctx, two))
	_, err := s.UpdateTask(ctx, two.ID, func(t *troupe.Task) error { t.Name = "one"; return nil })
	wantType(t, err, troupe.ErrTaskNameNotUnique)
}

func testTaskList(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	var ids []string
	for i, name := range []string{"a", "b", "c"} {
		tk := newTask("act1", name)
		tk.CreatedAt = at(i)
		must(t, s.CreateTask(ctx, tk))
		ids = append(ids, tk.ID)
	}
	list, total, err := s.ListTasks(ctx, troupe.ListOptions{Offset: 1, Limit: 1, Desc: true})
	must(t, err)
	if total != 3 || len(list) != 1 || list[0].ID != ids[1] {
		t.Fatalf("ListTasks(offset 1, limit 1, desc) = %d of %d, want the middle task of 3", len(list), total)
	}
}

// testTaskRuns: a task counts its runs, and runs list and come last by task.
func testTaskRuns(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	tk := newTask("act1", "counted")
	must(t, s.CreateTask(ctx, tk))
	var ids []string
	for i := range 3 {
		r := newRun("act1", at(i))
		if i != 1 {
			r.ActorTaskID = &tk.ID
			ids = append(ids, r.ID)
		}
		createRun(t, s, r)
	}
	got, err := s.GetTask(ctx, tk.ID)
	must(t, err)
	if got.Stats.TotalRuns != 2 {
		t.Fatalf("task stats.totalRuns = %d, want 2", got.Stats.TotalRuns)
	}
	runs, total, err := s.ListRuns(ctx, troupe.RunFilter{ActorTaskID: tk.ID, ListOptions: troupe.ListOptions{Desc: true}})
	must(t, err)
	if total != 2 || len(runs) != 2 || runs[0].ID != ids[1] || runs[1].ID != ids[0] {
		t.Fatalf("ListRuns(task) = %v (total %d), want %v newest first", runIDs(runs), total, ids)
	}
	if runs[0].ActorTaskID == nil || *runs[0].ActorTaskID != tk.ID {
		t.Fatalf("run actorTaskId = %v, want %s", runs[0].ActorTaskID, tk.ID)
	}
	runs, total, err = s.ListRuns(ctx, troupe.RunFilter{ActorTaskID: tk.ID, Statuses: []troupe.Status{troupe.StatusSucceeded}})
	must(t, err)
	if total != 0 || len(runs) != 0 {
		t.Fatalf("ListRuns(task, SUCCEEDED) = %d of %d, want none", len(runs), total)
	}
}
