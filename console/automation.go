package console

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/troupehq/troupe"
)

// ListLimit is how many tasks, schedules or webhooks a list page shows.
const ListLimit = 1000

type tasksData struct {
	Tasks  []*troupe.Task
	Total  int
	Names  map[string]string
	Actors []actorRef
	// Actor is the actor the create form proposes (?actor=).
	Actor string
}

// tasksPage lists the tasks, newest first, with a form that creates a task
// of an actor.
func (c *Console) tasksPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	list, total, err := c.store.ListTasks(ctx, troupe.ListOptions{Limit: ListLimit, Desc: true})
	if err != nil {
		return err
	}
	actors, names, err := c.actorNames(ctx)
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "tasks", "Tasks", "tasks",
		tasksData{Tasks: list, Total: total, Names: names, Actors: actors, Actor: r.URL.Query().Get("actor")})
}

type taskData struct {
	Task    *troupe.Task
	Actor   string
	Input   string
	Options string
	Runs    []*troupe.Run
}

// taskPage shows a task: its actor, input, options and runs, newest first.
func (c *Console) taskPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, err := c.store.GetTask(ctx, r.PathValue("id"))
	if troupe.IsNotFound(err) {
		return troupe.Errorf(troupe.ErrRecordNotFound, "There is no task %s.", r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	runs, _, err := c.store.ListRuns(ctx, troupe.RunFilter{ActorTaskID: t.ID, ListOptions: troupe.ListOptions{Limit: RunsPageSize, Desc: true}})
	if err != nil {
		return err
	}
	d := taskData{Task: t, Actor: c.actorName(ctx, t.ActID), Runs: runs, Input: "{}"}
	if len(t.Input) > 0 {
		d.Input = indent(t.Input)
	}
	opts, _ := json.MarshalIndent(t.Options, "", "  ")
	d.Options = string(opts)
	return c.render(w, r, http.StatusOK, "task", "Task "+t.Name, "tasks", d)
}

type schedulesData struct {
	Schedules []*troupe.Schedule
	Total     int
	Actors    []actorRef
	Tasks     []*troupe.Task
}

// schedulesPage lists the schedules with a form that creates one.
func (c *Console) schedulesPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	list, total, err := c.store.ListSchedules(ctx, troupe.ListOptions{Limit: ListLimit, Desc: true})
	if err != nil {
		return err
	}
	actors, _, err := c.actorNames(ctx)
	if err != nil {
		return err
	}
	tasks, _, err := c.store.ListTasks(ctx, troupe.ListOptions{Limit: ListLimit})
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "schedules", "Schedules", "schedules",
		schedulesData{Schedules: list, Total: total, Actors: actors, Tasks: tasks})
}

// actionView is a schedule action with the name of its target.
type actionView struct {
	troupe.ScheduleAction
	Target string
	Link   string
	// LastRun is the id of the last run the action started.
	LastRun string
}

type scheduleData struct {
	Schedule *troupe.Schedule
	Actions  []actionView
	Log      []troupe.ScheduleLogEntry
}

// schedulePage shows a schedule, its actions and its log, newest first.
func (c *Console) schedulePage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := c.store.GetSchedule(ctx, r.PathValue("id"))
	if troupe.IsNotFound(err) {
		return troupe.Errorf(troupe.ErrRecordNotFound, "There is no schedule %s.", r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	log, err := c.store.ScheduleLog(ctx, s.ID)
	if err != nil {
		return err
	}
	d := scheduleData{Schedule: s}
	for i := len(log) - 1; i >= 0; i-- {
		d.Log = append(d.Log, log[i])
	}
	for _, a := range s.Actions {
		v := actionView{ScheduleAction: a, LastRun: s.ActionRuns[a.ID]}
		if a.Type == troupe.ActionRunActorTask {
			v.Target, v.Link = a.ActorTaskID, "/tasks/"+a.ActorTaskID
			if t, err := c.store.GetTask(ctx, a.ActorTaskID); err == nil {
				v.Target = t.Name
			}
		} else {
			v.Target, v.Link = c.actorName(ctx, a.ActorID), "/actors/"+a.ActorID
		}
		d.Actions = append(d.Actions, v)
	}
	return c.render(w, r, http.StatusOK, "schedule", "Schedule "+s.Name, "schedules", d)
}

type webhooksData struct {
	Webhooks   []*troupe.Webhook
	Total      int
	Actors     []actorRef
	Tasks      []*troupe.Task
	EventTypes []string
	// Names are the names of actors and tasks by id.
	Names map[string]string
}

// webhookEventTypes are the event types the create form offers.
var webhookEventTypes = []string{"ACTOR.RUN.CREATED", "ACTOR.RUN.SUCCEEDED", "ACTOR.RUN.FAILED",
	"ACTOR.RUN.TIMED_OUT", "ACTOR.RUN.ABORTED", "ACTOR.RUN.RESURRECTED"}

// webhooksPage lists the webhooks with a form that creates one.
func (c *Console) webhooksPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	list, total, err := c.store.ListWebhooks(ctx, troupe.WebhookFilter{ListOptions: troupe.ListOptions{Limit: ListLimit, Desc: true}})
	if err != nil {
		return err
	}
	actors, actorNames, err := c.actorNames(ctx)
	if err != nil {
		return err
	}
	tasks, _, err := c.store.ListTasks(ctx, troupe.ListOptions{Limit: ListLimit})
	if err != nil {
		return err
	}
	names := make(map[string]string, len(actorNames)+len(tasks))
	for id, n := range actorNames {
		names[id] = n
	}
	for _, t := range tasks {
		names[t.ID] = t.Name
	}
	return c.render(w, r, http.StatusOK, "webhooks", "Webhooks", "webhooks",
		webhooksData{Webhooks: list, Total: total, Actors: actors, Tasks: tasks, EventTypes: webhookEventTypes, Names: names})
}

type webhookData struct {
	Webhook    *troupe.Webhook
	Dispatches []*troupe.WebhookDispatch
	Total      int
	// Target is the name of the actor or task of the condition.
	Target string
}

// webhookPage shows a webhook and its dispatches, newest first, each with
// its calls.
func (c *Console) webhookPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	wh, err := c.store.GetWebhook(ctx, r.PathValue("id"))
	if troupe.IsNotFound(err) {
		return troupe.Errorf(troupe.ErrRecordNotFound, "There is no webhook %s.", r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	ds, total, err := c.store.ListDispatches(ctx, wh.ID, troupe.ListOptions{Limit: RunsPageSize, Desc: true})
	if err != nil {
		return err
	}
	d := webhookData{Webhook: wh, Dispatches: ds, Total: total}
	if id := wh.Condition.ActorID; id != nil {
		d.Target = c.actorName(ctx, *id)
	} else if id := wh.Condition.ActorTaskID; id != nil {
		d.Target = *id
		if t, err := c.store.GetTask(ctx, *id); err == nil {
			d.Target = t.Name
		}
	}
	return c.render(w, r, http.StatusOK, "webhook", "Webhook "+wh.RequestURL, "webhooks", d)
}

// actorName returns the name of the actor id, or the id when it is gone.
func (c *Console) actorName(ctx context.Context, id string) string {
	if a, err := c.store.GetActor(ctx, id); err == nil {
		return a.Name
	}
	return id
}

// indent returns JSON indented, or as it is when it is not JSON.
func indent(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
