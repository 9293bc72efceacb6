package troupe

import (
	"bytes"
	"context"
	"encoding/json"
	"time"
)

// ErrTaskNameNotUnique is the error type of a task whose name another task
// of the user has.
const ErrTaskNameNotUnique = "actor-task-name-not-unique"

// Task is an actor task: an actor with saved input and run options, as the
// API shows it.
type Task struct {
	ID         string    `json:"id"`
	UserID     string    `json:"userId"`
	ActID      string    `json:"actId"`
	Name       string    `json:"name"`
	Username   string    `json:"username"`
	Title      string    `json:"title,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	ModifiedAt time.Time `json:"modifiedAt"`
	Stats      TaskStats `json:"stats"`
	// Options are the task's run options; unset ones keep the actor's.
	Options TaskOptions `json:"options"`
	// Input is the task's input: a JSON object, or nil for none.
	Input json.RawMessage `json:"input,omitempty"`
}

// TaskStats are a task's counters.
type TaskStats struct {
	TotalRuns int `json:"totalRuns"`
}

// TaskOptions are run options saved in a task or a schedule action; a nil
// field keeps the actor's default.
type TaskOptions struct {
	Build             *string  `json:"build,omitempty"`
	TimeoutSecs       *int     `json:"timeoutSecs,omitempty"`
	MemoryMbytes      *int     `json:"memoryMbytes,omitempty"`
	MaxItems          *int     `json:"maxItems,omitempty"`
	MaxTotalChargeUsd *float64 `json:"maxTotalChargeUsd,omitempty"`
	RestartOnError    *bool    `json:"restartOnError,omitempty"`
}

// Under returns the start options of a run: those o sets (a request's),
// else those t saves.
func (t TaskOptions) Under(o StartOptions) StartOptions {
	if o.Build == "" && t.Build != nil {
		o.Build = *t.Build
	}
	if o.TimeoutSecs == nil {
		o.TimeoutSecs = t.TimeoutSecs
	}
	if o.MemoryMbytes == nil {
		o.MemoryMbytes = t.MemoryMbytes
	}
	if o.MaxItems == nil {
		o.MaxItems = t.MaxItems
	}
	if o.MaxTotalChargeUsd == nil {
		o.MaxTotalChargeUsd = t.MaxTotalChargeUsd
	}
	if o.RestartOnError == nil {
		o.RestartOnError = t.RestartOnError
	}
	return o
}

// Check checks the options' values: memory a power of 2 from 128 to
// 32768 MB, timeout and maxItems not negative. invalid-value.
func (t TaskOptions) Check() error {
	if m := t.MemoryMbytes; m != nil && (*m < 128 || *m > 32768 || *m&(*m-1) != 0) {
		return Errorf(ErrInvalidValue, "Option 'memoryMbytes' must be a power of 2 between 128 and 32768, not %d.", *m)
	}
	if t.TimeoutSecs != nil && *t.TimeoutSecs < 0 {
		return Errorf(ErrInvalidValue, "Option 'timeoutSecs' must not be negative.")
	}
	if t.MaxItems != nil && *t.MaxItems < 0 {
		return Errorf(ErrInvalidValue, "Option 'maxItems' must not be negative.")
	}
	if t.MaxTotalChargeUsd != nil && *t.MaxTotalChargeUsd < 0 {
		return Errorf(ErrInvalidValue, "Option 'maxTotalChargeUsd' must not be negative.")
	}
	return nil
}

// CheckTaskInput checks a task's saved input: a JSON object or null.
// invalid-input.
func CheckTaskInput(input json.RawMessage) error {
	t := bytes.TrimSpace(input)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	if t[0] != '{' || !json.Valid(t) {
		return Errorf(ErrInvalidInput, "The task input must be a JSON object.")
	}
	return nil
}

// TaskRunInput returns the input of a run of task t: t's input with the
// top-level fields of body, a JSON object, put over it. With no body (or
// JSON null) it is t's input. A body that is not a JSON object, or not
// JSON at all, is refused: invalid-input or run-input-body-not-valid-json.
func TaskRunInput(t *Task, body []byte, contentType string) ([]byte, string, error) {
	trimmed := bytes.TrimSpace(body)
	base := bytes.TrimSpace(t.Input)
	if string(base) == "null" {
		base = nil
	}
	if len(trimmed) == 0 || string(trimmed) == "null" && IsJSONContentType(contentType) {
		if len(base) == 0 {
			return nil, "", nil
		}
		return base, jsonUTF8, nil
	}
	if contentType != "" && !IsJSONContentType(contentType) {
		return nil, "", Errorf(ErrInvalidInput, "The input of a task run must be a JSON object (Content-Type: application/json), not %s.", contentType)
	}
	var over map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &over); err != nil || trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return nil, "", Errorf(ErrInputNotValidJSON, "The input is not valid JSON.")
		}
		return nil, "", Errorf(ErrInvalidInput, "The input of a task run must be a JSON object.")
	}
	if len(base) == 0 {
		return trimmed, jsonUTF8, nil
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(base, &merged); err != nil {
		return nil, "", Errorf(ErrInvalidInput, "The task's input is not a JSON object.")
	}
	for k, v := range over {
		merged[k] = v
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, "", err
	}
	return out, jsonUTF8, nil
}

// TaskStore keeps actor tasks.
type TaskStore interface {
	// CreateTask stores a new task. actor-task-name-not-unique when the
	// user has a task of that name.
	CreateTask(ctx context.Context, t *Task) error
	// GetTask returns a task by id, with its run count. record-not-found.
	GetTask(ctx context.Context, id string) (*Task, error)
	// GetTaskByName returns a task by its owner's username and its name.
	// record-not-found.
	GetTaskByName(ctx context.Context, username, name string) (*Task, error)
	// ListTasks lists tasks by createdAt; it returns the page and the total.
	ListTasks(ctx context.Context, o ListOptions) ([]*Task, int, error)
	// UpdateTask changes a task in one transaction. record-not-found,
	// actor-task-name-not-unique.
	UpdateTask(ctx context.Context, id string, fn func(t *Task) error) (*Task, error)
	// DeleteTask deletes a task; its runs are kept. record-not-found.
	DeleteTask(ctx context.Context, id string) error
}

// RunBuild resolves the build a run of actor a uses: ref is a tag or a
// build number, by default the actor's default build ("latest"). The build
// must exist and have succeeded: unknown-build-tag.
func RunBuild(ctx context.Context, st ActorStore, a *Actor, ref string) (*Build, error) {
	ref = BuildRef(a, ref)
	var b *Build
	var err error
	if tb := a.TaggedBuilds[ref]; tb != nil {
		b, err = st.GetBuild(ctx, tb.BuildID)
	} else {
		b, err = st.GetBuildByNumber(ctx, a.ID, ref)
	}
	if IsNotFound(err) {
		b, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := CheckRunBuild(a, ref, b); err != nil {
		return nil, err
	}
	return b, nil
}
