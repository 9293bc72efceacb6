package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

var scheduleTests = []struct {
	name string
	fn   func(t *testing.T, s troupe.Store)
}{
	{"Schedule/CRUD", testScheduleCRUD},
	{"Schedule/NameNotUnique", testScheduleNameNotUnique},
	{"Schedule/DueAndList", testScheduleDue},
	{"Schedule/Fire", testScheduleFire},
	{"Schedule/FireIsAtomic", testScheduleFireAtomic},
	{"Schedule/LogLimit", testScheduleLogLimit},
	{"Schedule/Watch", testScheduleWatch},
}

// newSchedule returns an enabled schedule due at next (disabled when nil)
// with one RUN_ACTOR action.
func newSchedule(name string, next *time.Time) *troupe.Schedule {
	return &troupe.Schedule{ID: troupe.NewID(), UserID: "user1", Username: "alice", Name: name,
		CronExpression: "0 * * * *", Timezone: "Europe/Prague", IsEnabled: next != nil, IsExclusive: true,
		CreatedAt: base, ModifiedAt: base, NextRunAt: next, Title: ptr("Hourly"),
		Actions: []troupe.ScheduleAction{{ID: "a1", Type: troupe.ActionRunActor, ActorID: "act1",
			RunInput:   &troupe.ScheduleRunInput{Body: `{"x":1}`, ContentType: "application/json"},
			RunOptions: &troupe.TaskOptions{TimeoutSecs: ptr(30)}}},
		ActionRuns: map[string]string{}}
}

func testScheduleCRUD(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	sc := newSchedule("hourly", ptr(at(60)))
	must(t, s.CreateSchedule(ctx, sc))
	got, err := s.GetSchedule(ctx, sc.ID)
	must(t, err)
	sameJSON(t, "GetSchedule", got, sc)
	got, err = s.GetScheduleByName(ctx, "alice", "hourly")
	must(t, err)
	if got.ID != sc.ID || got.Username != "alice" {
		t.Fatalf("GetScheduleByName = %s (%s), want %s of alice", got.ID, got.Username, sc.ID)
	}
	_, err = s.GetScheduleByName(ctx, "bob", "hourly")
	wantType(t, err, troupe.ErrRecordNotFound)

	upd, err := s.UpdateSchedule(ctx, sc.ID, func(sc *troupe.Schedule) error {
		sc.IsEnabled = false
		sc.Name = "paused"
		return nil
	})
	must(t, err)
	if upd.NextRunAt != nil || upd.Name != "paused" {
		t.Fatalf("disabled schedule: nextRunAt %v, name %q; want nil, paused", upd.NextRunAt, upd.Name)
	}
	got, err = s.GetSchedule(ctx, sc.ID)
	must(t, err)
	sameJSON(t, "GetSchedule after update", got, upd)

	must(t, s.DeleteSchedule(ctx, sc.ID))
	_, err = s.GetSchedule(ctx, sc.ID)
	wantType(t, err, troupe.ErrRecordNotFound)
	wantType(t, s.DeleteSchedule(ctx, sc.ID), troupe.ErrRecordNotFound)
	_, err = s.ScheduleLog(ctx, sc.ID)
	wantType(t, err, troupe.ErrRecordNotFound)
	_, err = s.UpdateSchedule(ctx, sc.ID, func(*troupe.Schedule) error { return nil })
	wantType(t, err, troupe.ErrRecordNotFound)
}

func testScheduleNameNotUnique(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	must(t, s.CreateSchedule(ctx, newSchedule("one", nil)))
	wantType(t, s.CreateSchedule(ctx, newSchedule("one", nil)), troupe.ErrScheduleNameNotUnique)
	two := newSchedule("two", nil)
	must(t, s.CreateSchedule(ctx, two))
	_, err := s.UpdateSchedule(ctx, two.ID, func(sc *troupe.Schedule) error { sc.Name = "one"; return nil })
	wantType(t, err, troupe.ErrScheduleNameNotUnique)
}

func testScheduleDue(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	late := newSchedule("late", ptr(at(300)))
	early := newSchedule("early", ptr(at(100)))
	off := newSchedule("off", nil)
	for _, sc := range []*troupe.Schedule{late, early, off} {
		must(t, s.CreateSchedule(ctx, sc))
	}
	due, err := s.DueSchedules(ctx, 10)
	must(t, err)
	if len(due) != 2 || due[0].ID != early.ID || due[1].ID != late.ID {
		t.Fatalf("DueSchedules = %d schedules, want early then late (not the disabled one)", len(due))
	}
	due, err = s.DueSchedules(ctx, 1)
	must(t, err)
	if len(due) != 1 || due[0].ID != early.ID {
		t.Fatalf("DueSchedules(1) = %d schedules, want early", len(due))
	}
	list, total, err := s.ListSchedules(ctx, troupe.ListOptions{Desc: true})
	must(t, err)
	if total != 3 || len(list) != 3 {
		t.Fatalf("ListSchedules = %d of %d, want 3", len(list), total)
	}
}

// testScheduleFire: a firing moves nextRunAt, sets lastRunAt, creates its
// runs with their input, records the action's last run and appends the
// log; a second firing of the same time is a conflict that writes nothing.
func testScheduleFire(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	sc := newSchedule("fired", ptr(at(60)))
	must(t, s.CreateSchedule(ctx, sc))
	run := newRun("act1", at(61))
	input := &troupe.Record{Key: "INPUT", Value: []byte(`{"x":1}`), ContentType: "application/json"}
	f := &troupe.ScheduleFiring{ScheduleID: sc.ID, Due: at(60), At: at(61), NextRunAt: ptr(at(3660)),
		Runs: []troupe.NewScheduledRun{{ActionID: "a1", Run: run, Input: input}},
		Log:  []troupe.ScheduleLogEntry{{Message: "Schedule invoked", Level: "INFO", CreatedAt: at(61)}}}
	must(t, s.FireSchedule(ctx, f))

	got, err := s.GetSchedule(ctx, sc.ID)
	must(t, err)
	if !got.NextRunAt.Equal(at(3660)) || got.LastRunAt == nil || !got.LastRunAt.Equal(at(61)) {
		t.Fatalf("after firing: nextRunAt %v, lastRunAt %v; want %v, %v", got.NextRunAt, got.LastRunAt, at(3660), at(61))
	}
	if got.ActionRuns["a1"] != run.ID {
		t.Fatalf("action a1's last run = %q, want %s", got.ActionRuns["a1"], run.ID)
	}
	if _, err := s.GetRun(ctx, run.ID); err != nil {
		t.Fatalf("the firing's run: %v", err)
	}
	rec, err := s.GetRecord(ctx, run.DefaultKeyValueStoreID, "INPUT")
	must(t, err)
	if string(rec.Value) != `{"x":1}` {
		t.Fatalf("run INPUT = %s", rec.Value)
	}
	log, err := s.ScheduleLog(ctx, sc.ID)
	must(t, err)
	if len(log) != 1 || log[0].Message != "Schedule invoked" || !log[0].CreatedAt.Equal(at(61)) {
		t.Fatalf("schedule log = %+v", log)
	}

	again := *f
	again.Runs = []troupe.NewScheduledRun{{ActionID: "a1", Run: newRun("act1", at(62))}}
	wantType(t, s.FireSchedule(ctx, &again), troupe.ErrConflict)
	if _, err := s.GetRun(ctx, again.Runs[0].Run.ID); !troupe.IsNotFound(err) {
		t.Fatalf("a conflicting firing created its run: err = %v", err)
	}
	if log, _ := s.ScheduleLog(ctx, sc.ID); len(log) != 1 {
		t.Fatalf("a conflicting firing wrote the log: %d entries", len(log))
	}
	wantType(t, s.FireSchedule(ctx, &troupe.ScheduleFiring{ScheduleID: "nope", Due: at(60)}), troupe.ErrRecordNotFound)
}

// testScheduleFireAtomic: of many firings of one time at once, exactly one
// is written.
func testScheduleFireAtomic(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	sc := newSchedule("raced", ptr(at(60)))
	must(t, s.CreateSchedule(ctx, sc))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	runs := make([]*troupe.Run, n)
	for i := range n {
		runs[i] = newRun("act1", at(61))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.FireSchedule(ctx, &troupe.ScheduleFiring{ScheduleID: sc.ID, Due: at(60), At: at(61),
				NextRunAt: ptr(at(3660)), Runs: []troupe.NewScheduledRun{{ActionID: "a1", Run: runs[i]}}})
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case troupe.ErrorType(err) != troupe.ErrConflict:
			t.Fatalf("firing %d: %v, want nil or conflict", i, err)
		}
	}
	list, _, err := s.ListRuns(ctx, troupe.RunFilter{ActorID: "act1"})
	must(t, err)
	if won != 1 || len(list) != 1 {
		t.Fatalf("%d firings won and %d runs exist, want exactly 1 of each", won, len(list))
	}
}

func testScheduleLogLimit(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	sc := newSchedule("chatty", ptr(at(0)))
	must(t, s.CreateSchedule(ctx, sc))
	entries := make([]troupe.ScheduleLogEntry, troupe.ScheduleLogLimit+5)
	for i := range entries {
		entries[i] = troupe.ScheduleLogEntry{Message: fmt.Sprint(i), Level: "INFO", CreatedAt: at(1)}
	}
	must(t, s.FireSchedule(ctx, &troupe.ScheduleFiring{ScheduleID: sc.ID, Due: at(0), At: at(1), NextRunAt: ptr(at(2)), Log: entries}))
	log, err := s.ScheduleLog(ctx, sc.ID)
	must(t, err)
	if len(log) != troupe.ScheduleLogLimit || log[0].Message != "5" || log[len(log)-1].Message != fmt.Sprint(len(entries)-1) {
		t.Fatalf("log has %d entries from %q, want the last %d", len(log), log[0].Message, troupe.ScheduleLogLimit)
	}
}

// testScheduleWatch: every schedule change signals SchedulesChanged.
func testScheduleWatch(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	ch, stop := s.Watch(troupe.SchedulesChanged)
	defer stop()
	sc := newSchedule("watched", ptr(at(60)))
	must(t, s.CreateSchedule(ctx, sc))
	WaitSignal(t, ch, "CreateSchedule")
	_, err := s.UpdateSchedule(ctx, sc.ID, func(sc *troupe.Schedule) error { sc.Title = ptr("x"); return nil })
	must(t, err)
	WaitSignal(t, ch, "UpdateSchedule")
	must(t, s.FireSchedule(ctx, &troupe.ScheduleFiring{ScheduleID: sc.ID, Due: at(60), At: at(60), NextRunAt: ptr(at(120))}))
	WaitSignal(t, ch, "FireSchedule")
	must(t, s.DeleteSchedule(ctx, sc.ID))
	WaitSignal(t, ch, "DeleteSchedule")
}
