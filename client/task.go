package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Task is an actor task: an actor with saved input and run options.
type Task struct {
	ID         string      `json:"id"`
	UserID     string      `json:"userId"`
	ActID      string      `json:"actId"`
	Name       string      `json:"name"`
	Username   string      `json:"username"`
	Title      string      `json:"title,omitempty"`
	CreatedAt  time.Time   `json:"createdAt"`
	ModifiedAt time.Time   `json:"modifiedAt"`
	Stats      TaskStats   `json:"stats"`
	Options    TaskOptions `json:"options"`
	// Input is the task's input, a JSON object (null when it has none).
	Input json.RawMessage `json:"input"`
}

// TaskStats are a task's counters.
type TaskStats struct {
	TotalRuns int `json:"totalRuns"`
}

// TaskOptions are the run options a task (or a schedule action) saves; nil
// fields keep the actor's defaults.
type TaskOptions struct {
	Build             *string  `json:"build,omitempty"`
	TimeoutSecs       *int     `json:"timeoutSecs,omitempty"`
	MemoryMbytes      *int     `json:"memoryMbytes,omitempty"`
	MaxItems          *int     `json:"maxItems,omitempty"`
	MaxTotalChargeUsd *float64 `json:"maxTotalChargeUsd,omitempty"`
	RestartOnError    *bool    `json:"restartOnError,omitempty"`
}

// TaskShort is an item of the task list.
type TaskShort struct {
	ID          string    `json:"id"`
	UserID      string    `json:"userId"`
	ActID       string    `json:"actId"`
	ActName     string    `json:"actName"`
	Name        string    `json:"name"`
	Username    string    `json:"username"`
	ActUsername string    `json:"actUsername"`
	CreatedAt   time.Time `json:"createdAt"`
	ModifiedAt  time.Time `json:"modifiedAt"`
	Stats       TaskStats `json:"stats"`
}

// TaskList is a page of tasks.
type TaskList = Page[*TaskShort]

// TaskCollectionClient lists and creates tasks: /v2/actor-tasks. Get it
// with [Client.Tasks].
type TaskCollectionClient struct{ r resource }

// Tasks returns the client of the task collection.
func (c *Client) Tasks() *TaskCollectionClient {
	return &TaskCollectionClient{r: resource{c: c, path: "/actor-tasks"}}
}

// List returns a page of tasks ordered by createdAt.
func (tc *TaskCollectionClient) List(ctx context.Context, opts *ListOptions) (*TaskList, error) {
	return fetch[TaskList](ctx, tc.r, http.MethodGet, opts.values(), nil)
}

// TaskCreate is a new task: ActID (an actor id or "username/name") is
// required; the name defaults to the actor's name + "-task".
type TaskCreate struct {
	ActID   string          `json:"actId"`
	Name    string          `json:"name,omitempty"`
	Title   string          `json:"title,omitempty"`
	Options *TaskOptions    `json:"options,omitempty"`
	Input   json.RawMessage `json:"input,omitempty"`
}

// Create creates a task and returns it; actor-task-name-not-unique when
// the user has a task of that name.
func (tc *TaskCollectionClient) Create(ctx context.Context, t *TaskCreate) (*Task, error) {
	return fetch[Task](ctx, tc.r, http.MethodPost, nil, t)
}

// TaskClient manages one task: /v2/actor-tasks/{id}. Get it with
// [Client.Task].
type TaskClient struct{ r resource }

// Task returns the client of the task with this id, "username/name" or
// "~name".
func (c *Client) Task(idOrName string) *TaskClient {
	return &TaskClient{r: resource{c: c, path: "/actor-tasks"}.sub(safeID(idOrName))}
}

// Get returns the task, or nil and no error when there is no such task.
func (t *TaskClient) Get(ctx context.Context) (*Task, error) {
	return get[Task](ctx, t.r, nil)
}

// TaskUpdate holds the fields [TaskClient.Update] changes; nil fields are
// left as they are. Options, when set, replace all of the task's options.
type TaskUpdate struct {
	Name    *string         `json:"name,omitempty"`
	Title   *string         `json:"title,omitempty"`
	Options *TaskOptions    `json:"options,omitempty"`
	Input   json.RawMessage `json:"input,omitempty"`
}

// Update changes the task and returns it.
func (t *TaskClient) Update(ctx context.Context, u *TaskUpdate) (*Task, error) {
	if u == nil {
		u = &TaskUpdate{}
	}
	return fetch[Task](ctx, t.r, http.MethodPut, nil, u)
}

// Delete deletes the task (its runs are kept). A task that does not exist
// is not an error.
func (t *TaskClient) Delete(ctx context.Context) error {
	return remove(ctx, t.r)
}

// Input returns the task's input (JSON null when it has none).
func (t *TaskClient) Input(ctx context.Context) (json.RawMessage, error) {
	req, err := t.r.sub("input").request(ctx, http.MethodGet, nil, nil, "")
	if err != nil {
		return nil, err
	}
	body, _, err := t.r.c.doRaw(req)
	return body, err
}

// SetInput replaces the task's input with input, a JSON object.
func (t *TaskClient) SetInput(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
	req, err := t.r.sub("input").request(ctx, http.MethodPut, nil, input, jsonContentType)
	if err != nil {
		return nil, err
	}
	body, _, err := t.r.c.doRaw(req)
	return body, err
}

// Start starts a run of the task. input (nil: none) is a JSON object whose
// top-level fields the server puts over the task's input; opts override
// the task's options.
func (t *TaskClient) Start(ctx context.Context, input []byte, opts *StartOptions) (*Run, error) {
	if opts == nil {
		opts = &StartOptions{}
	}
	return sendInput[Run](ctx, t.r.sub("runs"), opts.query(), input, opts.ContentType)
}

// Call starts a run like Start and waits for it like
// [RunClient.WaitForFinish] (waitSecs 0: no limit).
func (t *TaskClient) Call(ctx context.Context, input []byte, opts *StartOptions, waitSecs int) (*Run, error) {
	run, err := t.Start(ctx, input, opts)
	if err != nil {
		return nil, err
	}
	return t.r.c.Run(run.ID).WaitForFinish(ctx, waitSecs)
}

// LastRun returns the client of the task's most recently started run, of
// this status when status is not empty.
func (t *TaskClient) LastRun(status string) *RunClient {
	r := t.r.sub("runs", "last")
	if status != "" {
		r.query = url.Values{"status": {status}}
	}
	return &RunClient{r: r}
}

// Runs returns the client of the task's runs.
func (t *TaskClient) Runs() *RunCollectionClient {
	return &RunCollectionClient{r: t.r.sub("runs")}
}
