package scheduler_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/pgtest"
	"github.com/troupehq/troupe/postgres"
	"github.com/troupehq/troupe/scheduler"
	"github.com/troupehq/troupe/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// t0 is half a minute before a whole minute.
var t0 = time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)

func minute(n int) time.Time { return time.Date(2026, 1, 1, 0, n, 0, 0, time.UTC) }

func TestReplicasSQLite(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "troupe.db")
	testReplicas(t, func(t *testing.T, now func() time.Time) troupe.Store {
		db, err := sqlite.Open(file, sqlite.WithClock(now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestReplicasPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	testReplicas(t, func(t *testing.T, now func() time.Time) troupe.Store {
		db, err := postgres.Open(t.Context(), url, postgres.WithClock(now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// replica is one scheduler on its own store, as a troupe server runs it.
type replica struct {
	stop func()
	done chan struct{}
}

// testReplicas runs two schedulers on two stores of one database with one
// fake clock: each firing happens once, firings missed while no scheduler
// ran happen once when they come back, and an exclusive schedule skips a
// firing while the previous run has not finished.
func testReplicas(t *testing.T, open func(t *testing.T, now func() time.Time) troupe.Store) {
	ctx := t.Context()
	clock := clockwork.NewFakeClockAt(t0)
	stores := []troupe.Store{open(t, clock.Now), open(t, clock.Now)}
	st := stores[0]

	actor := &troupe.Actor{ID: troupe.NewID(), UserID: "u1", Username: "alice", Name: "echo",
		CreatedAt: t0, ModifiedAt: t0, TaggedBuilds: map[string]*troupe.TaggedBuild{}}
	must(t, st.CreateActor(ctx, actor))
	b := &troupe.Build{ID: troupe.NewID(), ActID: actor.ID, UserID: "u1", StartedAt: t0, Status: troupe.StatusSucceeded,
		ActorVersion: "0.0", Meta: troupe.RunMeta{Origin: troupe.OriginAPI}}
	must(t, st.CreateBuild(ctx, b))
	_, err := st.UpdateActor(ctx, actor.ID, func(a *troupe.Actor) error {
		a.TaggedBuilds["latest"] = &troupe.TaggedBuild{BuildID: b.ID, BuildNumber: b.BuildNumber}
		return nil
	})
	must(t, err)
	sc := &troupe.Schedule{ID: troupe.NewID(), UserID: "u1", Username: "alice", Name: "every-minute",
		CronExpression: "* * * * *", Timezone: "UTC", IsEnabled: true,
		NextRunAt: scheduler.Next("* * * * *", "UTC", t0),
		Actions: []troupe.ScheduleAction{{ID: "a1", Type: troupe.ActionRunActor, ActorID: actor.ID,
			RunInput: &troupe.ScheduleRunInput{Body: `{"n":1}`, ContentType: "application/json"}}}}
	must(t, st.CreateSchedule(ctx, sc))

	start := func() []replica {
		var rs []replica
		for _, s := range stores {
			c, cancel := context.WithCancel(ctx)
			r := replica{stop: cancel, done: make(chan struct{})}
			sch := scheduler.New(scheduler.Config{Store: s, Clock: clock, UserID: "u1",
				Defaults: troupe.RunDefaults{TimeoutSecs: 60, MemoryMbytes: 128}})
			go func() { defer close(r.done); sch.Run(c) }()
			rs = append(rs, r)
		}
		return rs
	}
	stopAll := func(rs []replica) {
		for _, r := range rs {
			r.stop()
			<-r.done
		}
	}
	// settle waits until both schedulers sleep on their timers again: all
	// they do for the clock's time is done.
	settle := func() {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := clock.BlockUntilContext(c, 2); err != nil {
			t.Fatalf("schedulers did not go back to sleep: %v", err)
		}
	}
	runs := func() []*troupe.Run {
		t.Helper()
		list, _, err := st.ListRuns(ctx, troupe.RunFilter{ActorID: actor.ID})
		must(t, err)
		return list
	}

	rs := start()
	settle()
	if n := len(runs()); n != 0 {
		t.Fatalf("%d runs before the first firing time", n)
	}

	// Two firings, each exactly once though two replicas are awake.
	for i := 1; i <= 2; i++ {
		clock.Advance(minute(i).Sub(clock.Now()))
		settle()
		list := runs()
		if len(list) != i {
			t.Fatalf("after firing %d: %d runs, want %d", i, len(list), i)
		}
		last := list[len(list)-1]
		if last.Meta.Origin != troupe.OriginScheduler || last.Meta.ScheduleID != sc.ID ||
			last.Meta.ScheduledAt == nil || !last.Meta.ScheduledAt.Equal(minute(i)) {
			t.Fatalf("run meta = %+v, want SCHEDULER, %s, %v", last.Meta, sc.ID, minute(i))
		}
		rec, err := st.GetRecord(ctx, last.DefaultKeyValueStoreID, "INPUT")
		must(t, err)
		if string(rec.Value) != `{"n":1}` {
			t.Fatalf("run input = %s", rec.Value)
		}
	}

	// Both replicas down from 00:02:30 to 00:12:30: ten firing times pass.
	clock.Advance(30 * time.Second)
	settle()
	stopAll(rs)
	clock.Advance(10 * time.Minute)
	rs = start()
	settle()
	if n := len(runs()); n != 3 {
		t.Fatalf("after ten missed firings: %d runs, want 3 (the missed ones fire once)", n)
	}
	got, err := st.GetSchedule(ctx, sc.ID)
	must(t, err)
	if !got.NextRunAt.Equal(minute(13)) || !got.LastRunAt.Equal(minute(12).Add(30*time.Second)) {
		t.Fatalf("nextRunAt %v, lastRunAt %v; want %v, %v", got.NextRunAt, got.LastRunAt, minute(13), minute(12).Add(30*time.Second))
	}

	// Exclusive: the last run is still READY, so the next firing skips.
	_, err = st.UpdateSchedule(ctx, sc.ID, func(s *troupe.Schedule) error { s.IsExclusive = true; return nil })
	must(t, err)
	settle()
	clock.Advance(minute(13).Sub(clock.Now()))
	settle()
	list := runs()
	if len(list) != 3 {
		t.Fatalf("exclusive firing while the last run runs: %d runs, want 3", len(list))
	}
	_, err = st.UpdateRun(ctx, list[2].ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		r.Status = troupe.StatusSucceeded
		return nil
	})
	must(t, err)
	clock.Advance(time.Minute)
	settle()
	if n := len(runs()); n != 4 {
		t.Fatalf("exclusive firing after the last run finished: %d runs, want 4", n)
	}
	stopAll(rs)

	log, err := st.ScheduleLog(ctx, sc.ID)
	must(t, err)
	var invoked, skipped int
	for _, e := range log {
		switch {
		case e.Message == "Schedule invoked":
			invoked++
		case e.Level == "INFO" && len(e.Message) > 7 && e.Message[:7] == "Skipped":
			skipped++
		}
	}
	if invoked != 5 || skipped != 1 {
		t.Fatalf("schedule log: %d invocations and %d skips, want 5 and 1: %+v", invoked, skipped, log)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestActionError: an action that cannot start (its task is gone) is
// logged as an ERROR, and the schedule still moves on to its next time.
func TestActionError(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := clockwork.NewFakeClockAt(t0)
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "troupe.db"), sqlite.WithClock(clock.Now))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	due := minute(0)
	sc := &troupe.Schedule{ID: troupe.NewID(), UserID: "u1", Username: "alice", Name: "broken",
		CronExpression: "@hourly", Timezone: "UTC", IsEnabled: true, NextRunAt: &due,
		Actions: []troupe.ScheduleAction{{ID: "a1", Type: troupe.ActionRunActorTask, ActorTaskID: "gone"}}}
	must(t, st.CreateSchedule(ctx, sc))

	wait, err := scheduler.New(scheduler.Config{Store: st, Clock: clock}).FireDue(ctx)
	must(t, err)
	next := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	if wait != next.Sub(t0) {
		t.Fatalf("FireDue waits %v, want %v (until 01:00)", wait, next.Sub(t0))
	}
	got, err := st.GetSchedule(ctx, sc.ID)
	must(t, err)
	if !got.NextRunAt.Equal(next) || !got.LastRunAt.Equal(t0) {
		t.Fatalf("nextRunAt %v, lastRunAt %v; want %v, %v", got.NextRunAt, got.LastRunAt, next, t0)
	}
	log, err := st.ScheduleLog(ctx, sc.ID)
	must(t, err)
	if len(log) != 2 || log[1].Level != "ERROR" || log[1].Message != `Cannot start Actor task "gone": Actor task was not found` {
		t.Fatalf("schedule log = %+v", log)
	}
	if runs, _, err := st.ListRuns(ctx, troupe.RunFilter{}); err != nil || len(runs) != 0 {
		t.Fatalf("runs after a failed action: %d (%v)", len(runs), err)
	}
}
