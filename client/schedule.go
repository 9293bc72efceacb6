package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Schedule action types.
const (
	ActionRunActor     = "RUN_ACTOR"
	ActionRunActorTask = "RUN_ACTOR_TASK"
)

// Schedule starts runs of actors and tasks at the times of a cron
// expression.
type Schedule struct {
	ID             string           `json:"id"`
	UserID         string           `json:"userId"`
	Name           string           `json:"name"`
	CronExpression string           `json:"cronExpression"`
	Timezone       string           `json:"timezone"`
	IsEnabled      bool             `json:"isEnabled"`
	IsExclusive    bool             `json:"isExclusive"`
	Description    *string          `json:"description,omitempty"`
	Title          *string          `json:"title,omitempty"`
	CreatedAt      time.Time        `json:"createdAt"`
	ModifiedAt     time.Time        `json:"modifiedAt"`
	NextRunAt      *time.Time       `json:"nextRunAt"`
	LastRunAt      *time.Time       `json:"lastRunAt"`
	Actions        []ScheduleAction `json:"actions"`
}

// ScheduleAction is what a schedule starts: a run of an actor (RUN_ACTOR,
// ActorID, RunInput, RunOptions) or of a task (RUN_ACTOR_TASK,
// ActorTaskID, Input put over the task's input). The server gives each
// action an ID.
type ScheduleAction struct {
	ID          string            `json:"id,omitempty"`
	Type        string            `json:"type"`
	ActorID     string            `json:"actorId,omitempty"`
	ActorTaskID string            `json:"actorTaskId,omitempty"`
	RunInput    *ScheduleRunInput `json:"runInput,omitempty"`
	RunOptions  *TaskOptions      `json:"runOptions,omitempty"`
	Input       json.RawMessage   `json:"input,omitempty"`
}

// ScheduleRunInput is the input of a RUN_ACTOR action's runs.
type ScheduleRunInput struct {
	Body        string `json:"body"`
	ContentType string `json:"contentType,omitempty"`
}

// ScheduleLogEntry is one line of a schedule's log.
type ScheduleLogEntry struct {
	Message   string    `json:"message"`
	Level     string    `json:"level"`
	CreatedAt time.Time `json:"createdAt"`
}

// ScheduleList is a page of schedules (their actions without input and
// options).
type ScheduleList = Page[*Schedule]

// ScheduleFields are the fields of a new schedule, or those
// [ScheduleClient.Update] changes (nil: left as they are; Actions, when
// not nil, replace all actions).
type ScheduleFields struct {
	Name           *string          `json:"name,omitempty"`
	CronExpression *string          `json:"cronExpression,omitempty"`
	Timezone       *string          `json:"timezone,omitempty"`
	IsEnabled      *bool            `json:"isEnabled,omitempty"`
	IsExclusive    *bool            `json:"isExclusive,omitempty"`
	Description    *string          `json:"description,omitempty"`
	Title          *string          `json:"title,omitempty"`
	Actions        []ScheduleAction `json:"actions,omitempty"`
}

// ScheduleCollectionClient lists and creates schedules: /v2/schedules. Get
// it with [Client.Schedules].
type ScheduleCollectionClient struct{ r resource }

// Schedules returns the client of the schedule collection.
func (c *Client) Schedules() *ScheduleCollectionClient {
	return &ScheduleCollectionClient{r: resource{c: c, path: "/schedules"}}
}

// List returns a page of schedules ordered by createdAt.
func (sc *ScheduleCollectionClient) List(ctx context.Context, opts *ListOptions) (*ScheduleList, error) {
	return fetch[ScheduleList](ctx, sc.r, http.MethodGet, opts.values(), nil)
}

// Create creates a schedule and returns it.
func (sc *ScheduleCollectionClient) Create(ctx context.Context, f *ScheduleFields) (*Schedule, error) {
	return fetch[Schedule](ctx, sc.r, http.MethodPost, nil, f)
}

// ScheduleClient manages one schedule: /v2/schedules/{id}. Get it with
// [Client.Schedule].
type ScheduleClient struct{ r resource }

// Schedule returns the client of the schedule with this id,
// "username/name" or "~name".
func (c *Client) Schedule(idOrName string) *ScheduleClient {
	return &ScheduleClient{r: resource{c: c, path: "/schedules"}.sub(safeID(idOrName))}
}

// Get returns the schedule, or nil and no error when there is none.
func (s *ScheduleClient) Get(ctx context.Context) (*Schedule, error) {
	return get[Schedule](ctx, s.r, nil)
}

// Update changes the schedule and returns it.
func (s *ScheduleClient) Update(ctx context.Context, f *ScheduleFields) (*Schedule, error) {
	if f == nil {
		f = &ScheduleFields{}
	}
	return fetch[Schedule](ctx, s.r, http.MethodPut, nil, f)
}

// Delete deletes the schedule and its log. A schedule that does not exist
// is not an error.
func (s *ScheduleClient) Delete(ctx context.Context) error {
	return remove(ctx, s.r)
}

// Log returns the schedule's log, oldest first (the last 1000 entries).
func (s *ScheduleClient) Log(ctx context.Context) ([]ScheduleLogEntry, error) {
	var out []ScheduleLogEntry
	if err := s.r.sub("log").call(ctx, http.MethodGet, nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
