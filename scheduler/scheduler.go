// Package scheduler fires troupe's schedules: at each time of a schedule's
// cron expression it starts the runs of its actions. Every replica runs a
// scheduler; a firing is claimed in the store with a compare-and-set on
// the schedule's next run time, in the same transaction that creates its
// runs, so each firing happens exactly once however many replicas there
// are. A scheduler sleeps on a timer until the earliest next run time and
// wakes early when any schedule changes (Store.Watch).
package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/troupehq/troupe"
)

// Config configures a Scheduler.
type Config struct {
	Store troupe.Store
	// Wake tells the run controller about a run that was just created.
	Wake func(runID string)
	// Clock is the scheduler's source of time (default the real clock).
	Clock  clockwork.Clock
	Logger *slog.Logger
	// UserID owns the runs; Defaults apply to runs whose actor sets no
	// timeout or memory.
	UserID   string
	Defaults troupe.RunDefaults
	// RetryAfter is how long the scheduler waits after a store error
	// before it looks again (default 5 s).
	RetryAfter time.Duration
}

// Scheduler fires due schedules. Create it with New and call Run.
type Scheduler struct {
	cfg Config
	log *slog.Logger
}

// New returns a scheduler for cfg.
func New(cfg Config) *Scheduler {
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Wake == nil {
		cfg.Wake = func(string) {}
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	return &Scheduler{cfg: cfg, log: cfg.Logger}
}

// batch is how many schedules one look at the store reads.
const batch = 100

// Run fires schedules until ctx ends: every due one, then it waits for the
// earliest next run time or a change of any schedule.
func (s *Scheduler) Run(ctx context.Context) {
	changed, stop := s.cfg.Store.Watch(troupe.SchedulesChanged)
	defer stop()
	for {
		wait, err := s.FireDue(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.log.Error("fire schedules", "err", err)
			wait = s.cfg.RetryAfter
		}
		var timer clockwork.Timer
		var fire <-chan time.Time
		if wait >= 0 {
			timer = s.cfg.Clock.NewTimer(wait)
			fire = timer.Chan()
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// FireDue fires every schedule whose next run time has come and returns
// how long until the next one is due (-1 when no schedule is enabled).
func (s *Scheduler) FireDue(ctx context.Context) (time.Duration, error) {
	for {
		due, err := s.cfg.Store.DueSchedules(ctx, batch)
		if err != nil {
			return 0, err
		}
		now := s.cfg.Clock.Now()
		fired := 0
		for _, sc := range due {
			if sc.NextRunAt.After(now) {
				return sc.NextRunAt.Sub(now), nil
			}
			if err := s.fire(ctx, sc, now); err != nil {
				return 0, err
			}
			fired++
		}
		if fired == 0 {
			return -1, nil
		}
		// Fired ones have new next run times: read again.
	}
}

// fire fires one due schedule at now: it starts the runs of its actions
// and moves its next run time to the first one after now, so a schedule
// missed while no server ran fires once, not once per missed time. When
// another replica fired it first, nothing is written.
func (s *Scheduler) fire(ctx context.Context, sc *troupe.Schedule, now time.Time) error {
	due := *sc.NextRunAt
	f := &troupe.ScheduleFiring{ScheduleID: sc.ID, Due: due, At: now,
		NextRunAt: Next(sc.CronExpression, sc.Timezone, now)}
	logf := func(level, format string, args ...any) {
		f.Log = append(f.Log, troupe.ScheduleLogEntry{Level: level, CreatedAt: now, Message: fmt.Sprintf(format, args...)})
	}
	logf("INFO", "Schedule invoked")
	for _, a := range sc.Actions {
		nr, skip, err := s.prepare(ctx, sc, a, due, now)
		switch {
		case err != nil && troupe.ErrorType(err) == troupe.ErrInternal:
			return err
		case err != nil:
			logf("ERROR", "Cannot start %s: %s", actionName(a), troupe.ErrorMessage(err))
		case skip != "":
			logf("INFO", "Skipped %s: its previous run %s has not finished (isExclusive).", actionName(a), skip)
		default:
			f.Runs = append(f.Runs, *nr)
			logf("INFO", "Started %s: run %s", actionName(a), nr.Run.ID)
		}
	}
	err := s.cfg.Store.FireSchedule(ctx, f)
	if troupe.ErrorType(err) == troupe.ErrConflict || troupe.IsNotFound(err) {
		return nil // fired elsewhere, changed or deleted meanwhile: look again
	}
	if err != nil {
		return err
	}
	for _, nr := range f.Runs {
		s.cfg.Wake(nr.Run.ID)
	}
	return nil
}

func actionName(a troupe.ScheduleAction) string {
	if a.Type == troupe.ActionRunActorTask {
		return fmt.Sprintf("Actor task %q", a.ActorTaskID)
	}
	return fmt.Sprintf("Actor %q", a.ActorID)
}

// prepare makes the run of one action. skip is the id of the action's
// previous run when the schedule is exclusive and that run has not
// finished. A coded error is the action's (it is logged); another is the
// store's.
func (s *Scheduler) prepare(ctx context.Context, sc *troupe.Schedule, a troupe.ScheduleAction, due, now time.Time) (nr *troupe.NewScheduledRun, skip string, err error) {
	st := s.cfg.Store
	if prev := sc.ActionRuns[a.ID]; sc.IsExclusive && prev != "" {
		r, err := st.GetRun(ctx, prev)
		if err != nil && !troupe.IsNotFound(err) {
			return nil, "", err
		}
		if r != nil && !r.Status.Terminal() {
			return nil, prev, nil
		}
	}
	var actor *troupe.Actor
	var task *troupe.Task
	var o troupe.StartOptions
	var body []byte
	var contentType string
	switch a.Type {
	case troupe.ActionRunActorTask:
		if task, err = st.GetTask(ctx, a.ActorTaskID); err != nil {
			return nil, "", err
		}
		if actor, err = st.GetActor(ctx, task.ActID); err != nil {
			return nil, "", err
		}
		if body, contentType, err = troupe.TaskRunInput(task, a.Input, "application/json"); err != nil {
			return nil, "", err
		}
		o = task.Options.Under(o)
	default:
		if actor, err = st.GetActor(ctx, a.ActorID); err != nil {
			return nil, "", err
		}
		if a.RunInput != nil && a.RunInput.Body != "" {
			body, contentType = []byte(a.RunInput.Body), a.RunInput.ContentType
			if contentType == "" {
				contentType = "application/json"
			}
		}
		if a.RunOptions != nil {
			o = a.RunOptions.Under(o)
		}
	}
	b, err := troupe.RunBuild(ctx, st, actor, o.Build)
	if err != nil {
		return nil, "", err
	}
	at := due
	run, input, err := troupe.NewRun(troupe.NewRunParams{
		Actor: actor, Build: b, Options: o, Defaults: s.cfg.Defaults, UserID: s.cfg.UserID,
		Meta:  troupe.RunMeta{Origin: troupe.OriginScheduler, ScheduleID: sc.ID, ScheduledAt: &at},
		Input: body, ContentType: contentType, Now: now,
	})
	if err != nil {
		return nil, "", err
	}
	if task != nil {
		run.ActorTaskID = &task.ID
	}
	return &troupe.NewScheduledRun{ActionID: a.ID, Run: run, Input: input}, "", nil
}
