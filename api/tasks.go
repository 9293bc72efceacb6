package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/troupehq/troupe"
)

func init() {
	statusByType[troupe.ErrTaskNameNotUnique] = http.StatusConflict
}

func (s *Server) routeTasks() {
	const p = "/v2/actor-tasks"
	s.handle("GET "+p, s.listTasks)
	s.handle("POST "+p, s.createTask)
	t := p + "/{actorTaskId}"
	s.handle("GET "+t, s.getTask)
	s.handle("PUT "+t, s.updateTask)
	s.handle("DELETE "+t, s.deleteTask)
	s.handle("GET "+t+"/input", s.getTaskInput)
	s.handle("PUT "+t+"/input", s.putTaskInput)
	s.handle("GET "+t+"/runs", s.listRuns)
	s.handle("GET "+t+"/webhooks", s.listTaskWebhooks)
	// Any run may start tasks, as it may start actors (see startRun).
	s.handleGuarded("POST "+t+"/runs", allowLimited, s.runActor)
	s.handleGuarded("GET "+t+"/run-sync", allowLimited, s.runSync)
	s.handleGuarded("POST "+t+"/run-sync", allowLimited, s.runSync)
	s.handleGuarded("GET "+t+"/run-sync-get-dataset-items", allowLimited, s.runSyncItems)
	s.handleGuarded("POST "+t+"/run-sync-get-dataset-items", allowLimited, s.runSyncItems)
}

// taskByRef finds a task by id, "username~name" or "~name".
// record-not-found.
func (s *Server) taskByRef(ctx context.Context, ref string) (*troupe.Task, error) {
	ref = strings.Replace(ref, "/", "~", 1)
	var t *troupe.Task
	var err error
	if user, name, ok := strings.Cut(ref, "~"); ok {
		if user == "" {
			user = s.cfg.Username
		}
		t, err = s.store.GetTaskByName(ctx, user, name)
	} else {
		t, err = s.store.GetTask(ctx, ref)
	}
	if troupe.IsNotFound(err) {
		return nil, notFound("Actor task", ref)
	}
	return t, err
}

func (s *Server) pathTask(r *http.Request) (*troupe.Task, error) {
	return s.taskByRef(r.Context(), r.PathValue("actorTaskId"))
}

// taskView is a task as the API shows it: input null when it has none.
type taskView struct {
	*troupe.Task
	Input json.RawMessage `json:"input"`
}

func viewTask(t *troupe.Task) taskView {
	in := t.Input
	if len(in) == 0 {
		in = json.RawMessage("null")
	}
	return taskView{t, in}
}

// taskShort is an item of the task list.
type taskShort struct {
	ID          string           `json:"id"`
	UserID      string           `json:"userId"`
	ActID       string           `json:"actId"`
	ActName     *string          `json:"actName"`
	Name        string           `json:"name"`
	Username    string           `json:"username"`
	ActUsername *string          `json:"actUsername"`
	CreatedAt   time.Time        `json:"createdAt"`
	ModifiedAt  time.Time        `json:"modifiedAt"`
	Stats       troupe.TaskStats `json:"stats"`
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) error {
	o, err := queryOf(r).listOptions()
	if err != nil {
		return err
	}
	tasks, total, err := s.store.ListTasks(r.Context(), o)
	if err != nil {
		return err
	}
	actors := map[string]*troupe.Actor{}
	items := make([]taskShort, len(tasks))
	for i, t := range tasks {
		it := taskShort{ID: t.ID, UserID: t.UserID, ActID: t.ActID, Name: t.Name, Username: t.Username,
			CreatedAt: t.CreatedAt, ModifiedAt: t.ModifiedAt, Stats: t.Stats}
		a, seen := actors[t.ActID]
		if !seen {
			a, err = s.store.GetActor(r.Context(), t.ActID)
			if err != nil && !troupe.IsNotFound(err) {
				return err
			}
			actors[t.ActID] = a
		}
		if a != nil {
			it.ActName, it.ActUsername = &a.Name, &a.Username
		}
		items[i] = it
	}
	writeData(w, http.StatusOK, newPage(o, total, items))
	return nil
}

// taskFields are the fields a client may set on create (actId too) and
// update. Absent fields keep their value; a null input or options clears
// it.
type taskFields struct {
	ActID   *string         `json:"actId"`
	Name    *string         `json:"name"`
	Title   *string         `json:"title"`
	Options json.RawMessage `json:"options"`
	Input   json.RawMessage `json:"input"`
}

func (f *taskFields) apply(t *troupe.Task) error {
	if f.Name != nil {
		if !validName(*f.Name) {
			return troupe.Errorf(troupe.ErrInvalidValue, "Task name %q is not valid: use 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit.", *f.Name)
		}
		t.Name = *f.Name
	}
	if f.Title != nil {
		t.Title = *f.Title
	}
	if len(f.Options) > 0 {
		var o troupe.TaskOptions
		if string(f.Options) != "null" {
			if err := json.Unmarshal(f.Options, &o); err != nil {
				return troupe.Errorf(troupe.ErrInvalidValue, "Field options is not valid: %v.", err)
			}
		}
		if err := o.Check(); err != nil {
			return err
		}
		t.Options = o
	}
	if len(f.Input) > 0 {
		if err := troupe.CheckTaskInput(f.Input); err != nil {
			return err
		}
		t.Input = compactInput(f.Input)
	}
	return nil
}

// compactInput is a task input as kept: nil for null.
func compactInput(in json.RawMessage) json.RawMessage {
	if string(bytes.TrimSpace(in)) == "null" {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, in); err != nil {
		return in
	}
	return b.Bytes()
}

func (s *Server) createTask(w http.ResponseWriter, r *http.Request) error {
	var f taskFields
	if err := decodeJSON(r, &f); err != nil {
		return err
	}
	if f.ActID == nil || *f.ActID == "" {
		return troupe.Errorf(troupe.ErrInvalidValue, "Field actId is required.")
	}
	a, err := s.actorByRef(r.Context(), *f.ActID)
	if err != nil {
		return err
	}
	t := &troupe.Task{ID: troupe.NewID(), UserID: s.cfg.UserID, Username: s.cfg.Username, ActID: a.ID,
		Name: a.Name + "-task", CreatedAt: s.now()}
	t.ModifiedAt = t.CreatedAt
	if err := f.apply(t); err != nil {
		return err
	}
	if err := s.store.CreateTask(r.Context(), t); err != nil {
		return err
	}
	w.Header().Set("Location", absURL(r, "/v2/actor-tasks/"+t.ID))
	writeData(w, http.StatusCreated, viewTask(t))
	return nil
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) error {
	t, err := s.pathTask(r)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, viewTask(t))
	return nil
}

func (s *Server) updateTask(w http.ResponseWriter, r *http.Request) error {
	var f taskFields
	if err := decodeJSON(r, &f); err != nil {
		return err
	}
	t, err := s.pathTask(r)
	if err != nil {
		return err
	}
	if f.ActID != nil && *f.ActID != t.ActID {
		// A client that sends the whole task back names the same actor,
		// perhaps by name.
		a, err := s.actorByRef(r.Context(), *f.ActID)
		if err != nil && !troupe.IsNotFound(err) {
			return err
		}
		if a == nil || a.ID != t.ActID {
			return troupe.Errorf(troupe.ErrInvalidValue, "The actor of a task cannot change.")
		}
	}
	t, err = s.store.UpdateTask(r.Context(), t.ID, f.apply)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, viewTask(t))
	return nil
}

func (s *Server) deleteTask(w http.ResponseWriter, r *http.Request) error {
	t, err := s.pathTask(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteTask(r.Context(), t.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getTaskInput answers the task's input as it is, not in a data envelope
// (null when it has none).
func (s *Server) getTaskInput(w http.ResponseWriter, r *http.Request) error {
	t, err := s.pathTask(r)
	if err != nil {
		return err
	}
	in := t.Input
	if len(in) == 0 {
		in = json.RawMessage("null")
	}
	writeJSONStatus(w, http.StatusOK, in)
	return nil
}

// putTaskInput replaces the task's input with the body, a JSON object,
// and answers it.
func (s *Server) putTaskInput(w http.ResponseWriter, r *http.Request) error {
	var in json.RawMessage
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := troupe.CheckTaskInput(in); err != nil {
		return err
	}
	t, err := s.pathTask(r)
	if err != nil {
		return err
	}
	t, err = s.store.UpdateTask(r.Context(), t.ID, func(t *troupe.Task) error {
		t.Input = compactInput(in)
		return nil
	})
	if err != nil {
		return err
	}
	out := t.Input
	if len(out) == 0 {
		out = json.RawMessage("null")
	}
	writeJSONStatus(w, http.StatusOK, out)
	return nil
}

// startFromPath starts a run of the actor or the task the request's path
// names ({actorId} or {actorTaskId}). A task's run gets the task's input
// with the body's top-level fields put over it, and the task's options
// where the request sets none; it records the task (actorTaskId).
func (s *Server) startFromPath(r *http.Request, o troupe.StartOptions, body []byte, contentType string) (*troupe.Run, error) {
	if r.PathValue("actorTaskId") == "" {
		a, err := s.pathActor(r)
		if err != nil {
			return nil, err
		}
		return s.startRun(r, a, o, body, contentType, "")
	}
	t, err := s.pathTask(r)
	if err != nil {
		return nil, err
	}
	a, err := s.store.GetActor(r.Context(), t.ActID)
	if troupe.IsNotFound(err) {
		return nil, troupe.Errorf(troupe.ErrRecordNotFound, "The actor %s of task %s was not found.", t.ActID, t.ID)
	}
	if err != nil {
		return nil, err
	}
	input, ct, err := troupe.TaskRunInput(t, body, contentType)
	if err != nil {
		return nil, err
	}
	return s.startRun(r, a, t.Options.Under(o), input, ct, t.ID)
}

// listTaskWebhooks lists the webhooks whose condition names the task.
func (s *Server) listTaskWebhooks(w http.ResponseWriter, r *http.Request) error {
	t, err := s.pathTask(r)
	if err != nil {
		return err
	}
	o, err := queryOf(r).listOptions()
	if err != nil {
		return err
	}
	list, total, err := s.store.ListWebhooks(r.Context(), troupe.WebhookFilter{ListOptions: o, ActorTaskID: t.ID})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, newPage(o, total, list))
	return nil
}
