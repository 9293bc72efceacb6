package troupe

import (
	"context"
	"encoding/json"
	"time"
)

// Schedule action types.
const (
	ActionRunActor     = "RUN_ACTOR"
	ActionRunActorTask = "RUN_ACTOR_TASK"
)

// Schedule starts runs of actors and tasks at the times of a cron
// expression, as the API shows it.
type Schedule struct {
	ID     string `json:"id"`
	UserID string `json:"userId"`
	Name   string `json:"name"`
	// Username is the owner's, for lookups by "username~name".
	Username       string `json:"-"`
	CronExpression string `json:"cronExpression"`
	// Timezone is an IANA time zone name (default "UTC").
	Timezone      string                `json:"timezone"`
	IsEnabled     bool                  `json:"isEnabled"`
	IsExclusive   bool                  `json:"isExclusive"`
	Description   *string               `json:"description,omitempty"`
	Title         *string               `json:"title,omitempty"`
	Notifications ScheduleNotifications `json:"notifications"`
	CreatedAt     time.Time             `json:"createdAt"`
	ModifiedAt    time.Time             `json:"modifiedAt"`
	// NextRunAt is the next firing time; nil when the schedule is disabled.
	NextRunAt *time.Time       `json:"nextRunAt"`
	LastRunAt *time.Time       `json:"lastRunAt"`
	Actions   []ScheduleAction `json:"actions"`
	// ActionRuns maps an action's id to the id of the last run it started
	// (isExclusive looks at it).
	ActionRuns map[string]string `json:"-"`
}

// ScheduleNotifications are a schedule's notification settings (kept,
// not acted on: troupe sends no e-mail).
type ScheduleNotifications struct {
	Email bool `json:"email"`
}

// ScheduleAction is what a schedule starts at each firing: a run of an
// actor (RUN_ACTOR, with runInput and runOptions) or of a task
// (RUN_ACTOR_TASK, with input put over the task's).
type ScheduleAction struct {
	ID          string            `json:"id"`
	Type        string            `json:"type"`
	ActorID     string            `json:"actorId,omitempty"`
	ActorTaskID string            `json:"actorTaskId,omitempty"`
	RunInput    *ScheduleRunInput `json:"runInput,omitempty"`
	RunOptions  *TaskOptions      `json:"runOptions,omitempty"`
	Input       json.RawMessage   `json:"input,omitempty"`
}

// ScheduleRunInput is the input a RUN_ACTOR action gives its runs: the
// body as text and its content type.
type ScheduleRunInput struct {
	Body        string `json:"body"`
	ContentType string `json:"contentType"`
}

// ScheduleLogEntry is one line of a schedule's log.
type ScheduleLogEntry struct {
	Message   string    `json:"message"`
	Level     string    `json:"level"`
	CreatedAt time.Time `json:"createdAt"`
}

// ScheduleLogLimit is how many log entries a schedule keeps.
const ScheduleLogLimit = 1000

// NewScheduledRun is a run a schedule firing creates, with its INPUT
// record (nil for none) and the action that made it.
type NewScheduledRun struct {
	ActionID string
	Run      *Run
	Input    *Record
}

// ScheduleFiring is what one firing of a schedule writes, all at once.
type ScheduleFiring struct {
	ScheduleID string
	// Due is the schedule's nextRunAt the firing claims; the firing is
	// written only while the schedule still has it.
	Due time.Time
	// At is the firing's time (the new lastRunAt); NextRunAt the next
	// firing time.
	At        time.Time
	NextRunAt *time.Time
	Runs      []NewScheduledRun
	Log       []ScheduleLogEntry
}

// ScheduleStore keeps schedules and their logs.
type ScheduleStore interface {
	// CreateSchedule stores a new schedule. conflict when the user has a
	// schedule of that name (schedule-name-not-unique).
	CreateSchedule(ctx context.Context, s *Schedule) error
	// GetSchedule returns a schedule by id. record-not-found.
	GetSchedule(ctx context.Context, id string) (*Schedule, error)
	// GetScheduleByName returns a schedule by its owner's username and its
	// name. record-not-found.
	GetScheduleByName(ctx context.Context, username, name string) (*Schedule, error)
	// ListSchedules lists schedules by createdAt; it returns the page and
	// the total.
	ListSchedules(ctx context.Context, o ListOptions) ([]*Schedule, int, error)
	// DueSchedules returns the enabled schedules that have a nextRunAt,
	// earliest first, at most limit of them.
	DueSchedules(ctx context.Context, limit int) ([]*Schedule, error)
	// UpdateSchedule changes a schedule in one transaction.
	// record-not-found, schedule-name-not-unique.
	UpdateSchedule(ctx context.Context, id string, fn func(s *Schedule) error) (*Schedule, error)
	// DeleteSchedule deletes a schedule and its log. record-not-found.
	DeleteSchedule(ctx context.Context, id string) error
	// FireSchedule writes a firing in one transaction: it moves the
	// schedule's nextRunAt from f.Due to f.NextRunAt (a compare-and-set:
	// conflict when the schedule no longer has f.Due, as when another
	// replica fired it), sets lastRunAt, creates the runs (as CreateRun)
	// and records their ids as the actions' last runs, and appends f.Log.
	// record-not-found.
	FireSchedule(ctx context.Context, f *ScheduleFiring) error
	// ScheduleLog returns a schedule's log, oldest first (the last
	// ScheduleLogLimit entries). record-not-found.
	ScheduleLog(ctx context.Context, id string) ([]ScheduleLogEntry, error)
}

// ErrScheduleNameNotUnique is the error type of a schedule whose name
// another schedule of the user has.
const ErrScheduleNameNotUnique = "schedule-name-not-unique"

// SchedulesChanged is the id Store.Watch signals after any schedule
// changes, so that schedulers on every replica look again.
const SchedulesChanged = "schedules"
