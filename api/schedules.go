package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/scheduler"
)

func init() {
	statusByType[troupe.ErrScheduleNameNotUnique] = http.StatusConflict
}

func (s *Server) routeSchedules() {
	const p = "/v2/schedules"
	s.handle("GET "+p, s.listSchedules)
	s.handle("POST "+p, s.createSchedule)
	one := p + "/{scheduleId}"
	s.handle("GET "+one, s.getSchedule)
	s.handle("PUT "+one, s.updateSchedule)
	s.handle("DELETE "+one, s.deleteSchedule)
	s.handle("GET "+one+"/log", s.getScheduleLog)
}

// scheduleByRef finds a schedule by id, "username~name" or "~name".
// record-not-found.
func (s *Server) scheduleByRef(ctx context.Context, ref string) (*troupe.Schedule, error) {
	ref = strings.Replace(ref, "/", "~", 1)
	var sc *troupe.Schedule
	var err error
	if user, name, ok := strings.Cut(ref, "~"); ok {
		if user == "" {
			user = s.cfg.Username
		}
		sc, err = s.store.GetScheduleByName(ctx, user, name)
	} else {
		sc, err = s.store.GetSchedule(ctx, ref)
	}
	if troupe.IsNotFound(err) {
		return nil, notFound("Schedule", ref)
	}
	return sc, err
}

func (s *Server) pathSchedule(r *http.Request) (*troupe.Schedule, error) {
	return s.scheduleByRef(r.Context(), r.PathValue("scheduleId"))
}

// scheduleView is a schedule as the API shows it: no nil collections.
func scheduleView(sc *troupe.Schedule) *troupe.Schedule {
	if sc.Actions == nil {
		sc.Actions = []troupe.ScheduleAction{}
	}
	return sc
}

// scheduleShort is an item of the schedule list: actions without their
// input and options.
type scheduleShort struct {
	ID             string        `json:"id"`
	UserID         string        `json:"userId"`
	Name           string        `json:"name"`
	CronExpression string        `json:"cronExpression"`
	Timezone       string        `json:"timezone"`
	IsEnabled      bool          `json:"isEnabled"`
	IsExclusive    bool          `json:"isExclusive"`
	CreatedAt      time.Time     `json:"createdAt"`
	ModifiedAt     time.Time     `json:"modifiedAt"`
	NextRunAt      *time.Time    `json:"nextRunAt"`
	LastRunAt      *time.Time    `json:"lastRunAt"`
	Actions        []actionShort `json:"actions"`
}

type actionShort struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	ActorID     string `json:"actorId,omitempty"`
	ActorTaskID string `json:"actorTaskId,omitempty"`
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) error {
	o, err := queryOf(r).listOptions()
	if err != nil {
		return err
	}
	list, total, err := s.store.ListSchedules(r.Context(), o)
	if err != nil {
		return err
	}
	items := make([]scheduleShort, len(list))
	for i, sc := range list {
		it := scheduleShort{ID: sc.ID, UserID: sc.UserID, Name: sc.Name, CronExpression: sc.CronExpression,
			Timezone: sc.Timezone, IsEnabled: sc.IsEnabled, IsExclusive: sc.IsExclusive, CreatedAt: sc.CreatedAt,
			ModifiedAt: sc.ModifiedAt, NextRunAt: sc.NextRunAt, LastRunAt: sc.LastRunAt, Actions: []actionShort{}}
		for _, a := range sc.Actions {
			it.Actions = append(it.Actions, actionShort{a.ID, a.Type, a.ActorID, a.ActorTaskID})
		}
		items[i] = it
	}
	writeData(w, http.StatusOK, newPage(o, total, items))
	return nil
}

// scheduleFields are the fields a client may set on create and update;
// absent fields keep their value. actions, when given, replace all of the
// schedule's actions.
type scheduleFields struct {
	Name           *string                       `json:"name"`
	CronExpression *string                       `json:"cronExpression"`
	Timezone       *string                       `json:"timezone"`
	IsEnabled      *bool                         `json:"isEnabled"`
	IsExclusive    *bool                         `json:"isExclusive"`
	Description    *string                       `json:"description"`
	Title          *string                       `json:"title"`
	Notifications  *troupe.ScheduleNotifications `json:"notifications"`
	Actions        *[]troupe.ScheduleAction      `json:"actions"`
}

// maxScheduleActions bounds the actions of one schedule.
const maxScheduleActions = 100

// resolve checks the fields that need the store: the actions' actors and
// tasks (by id or name) must exist; ids are kept, not names.
func (s *Server) resolveActions(ctx context.Context, f *scheduleFields) error {
	if f.Actions == nil {
		return nil
	}
	if len(*f.Actions) > maxScheduleActions {
		return troupe.Errorf(troupe.ErrInvalidValue, "A schedule has at most %d actions.", maxScheduleActions)
	}
	acts := make([]troupe.ScheduleAction, len(*f.Actions))
	for i, a := range *f.Actions {
		out := troupe.ScheduleAction{ID: a.ID, Type: a.Type}
		if out.ID == "" {
			out.ID = troupe.NewID()
		}
		switch a.Type {
		case troupe.ActionRunActor:
			if a.ActorID == "" {
				return troupe.Errorf(troupe.ErrInvalidValue, "Action %d (RUN_ACTOR) needs actorId.", i)
			}
			actor, err := s.actorByRef(ctx, a.ActorID)
			if err != nil {
				return err
			}
			out.ActorID = actor.ID
			if a.RunOptions != nil {
				if err := a.RunOptions.Check(); err != nil {
					return err
				}
				o := *a.RunOptions
				out.RunOptions = &o
			}
			if in := a.RunInput; in != nil && in.Body != "" {
				ct := in.ContentType
				if ct == "" {
					ct = "application/json; charset=utf-8"
				}
				if troupe.IsJSONContentType(ct) && !json.Valid([]byte(in.Body)) {
					return troupe.Errorf(troupe.ErrInvalidValue, "Action %d: runInput.body is not valid JSON although its contentType is %s.", i, ct)
				}
				out.RunInput = &troupe.ScheduleRunInput{Body: in.Body, ContentType: ct}
			}
		case troupe.ActionRunActorTask:
			if a.ActorTaskID == "" {
				return troupe.Errorf(troupe.ErrInvalidValue, "Action %d (RUN_ACTOR_TASK) needs actorTaskId.", i)
			}
			t, err := s.taskByRef(ctx, a.ActorTaskID)
			if err != nil {
				return err
			}
			out.ActorTaskID = t.ID
			if in := bytes.TrimSpace(a.Input); len(in) > 0 && string(in) != "null" {
				if in[0] != '{' {
					return troupe.Errorf(troupe.ErrInvalidValue, "Action %d: input must be a JSON object.", i)
				}
				out.Input = compactInput(in)
			}
		default:
			return troupe.Errorf(troupe.ErrInvalidValue, "Action %d: type must be RUN_ACTOR or RUN_ACTOR_TASK, not %q.", i, a.Type)
		}
		acts[i] = out
	}
	*f.Actions = acts
	return nil
}

// apply sets the fields on sc and, when the schedule is new or when it
// fires changed, computes its next run time from now.
func (f *scheduleFields) apply(sc *troupe.Schedule, now time.Time) error {
	if f.Name != nil {
		if !validName(*f.Name) {
			return troupe.Errorf(troupe.ErrInvalidValue, "Schedule name %q is not valid: use 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit.", *f.Name)
		}
		sc.Name = *f.Name
	}
	before := [3]any{sc.CronExpression, sc.Timezone, sc.IsEnabled}
	if f.CronExpression != nil {
		sc.CronExpression = strings.TrimSpace(*f.CronExpression)
	}
	if f.Timezone != nil {
		sc.Timezone = *f.Timezone
	}
	if sc.Timezone == "" {
		sc.Timezone = "UTC"
	}
	if _, err := scheduler.Parse(sc.CronExpression, sc.Timezone); err != nil {
		return err
	}
	if f.IsEnabled != nil {
		sc.IsEnabled = *f.IsEnabled
	}
	if f.IsExclusive != nil {
		sc.IsExclusive = *f.IsExclusive
	}
	if f.Description != nil {
		sc.Description = f.Description
	}
	if f.Title != nil {
		sc.Title = f.Title
	}
	if f.Notifications != nil {
		sc.Notifications = *f.Notifications
	}
	if f.Actions != nil {
		sc.Actions = *f.Actions
	}
	// A new time or a change of when it fires counts from now; otherwise
	// a due firing stays due.
	switch {
	case !sc.IsEnabled:
		sc.NextRunAt = nil
	case sc.NextRunAt == nil || before != [3]any{sc.CronExpression, sc.Timezone, sc.IsEnabled}:
		sc.NextRunAt = scheduler.Next(sc.CronExpression, sc.Timezone, now)
	}
	return nil
}

func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request) error {
	var f scheduleFields
	if err := decodeJSON(r, &f); err != nil {
		return err
	}
	if err := s.resolveActions(r.Context(), &f); err != nil {
		return err
	}
	now := s.now()
	sc := &troupe.Schedule{ID: troupe.NewID(), UserID: s.cfg.UserID, Username: s.cfg.Username,
		CreatedAt: now, ModifiedAt: now, ActionRuns: map[string]string{}}
	if f.Name == nil {
		sc.Name = "schedule-" + strings.ToLower(sc.ID)
	}
	if err := f.apply(sc, now); err != nil {
		return err
	}
	if err := s.store.CreateSchedule(r.Context(), sc); err != nil {
		return err
	}
	w.Header().Set("Location", absURL(r, "/v2/schedules/"+sc.ID))
	writeData(w, http.StatusCreated, scheduleView(sc))
	return nil
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.pathSchedule(r)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, scheduleView(sc))
	return nil
}

func (s *Server) updateSchedule(w http.ResponseWriter, r *http.Request) error {
	var f scheduleFields
	if err := decodeJSON(r, &f); err != nil {
		return err
	}
	sc, err := s.pathSchedule(r)
	if err != nil {
		return err
	}
	if err := s.resolveActions(r.Context(), &f); err != nil {
		return err
	}
	sc, err = s.store.UpdateSchedule(r.Context(), sc.ID, func(sc *troupe.Schedule) error {
		return f.apply(sc, s.now())
	})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, scheduleView(sc))
	return nil
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.pathSchedule(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteSchedule(r.Context(), sc.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getScheduleLog answers the schedule's log, oldest first, at most
// troupe.ScheduleLogLimit entries.
func (s *Server) getScheduleLog(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.pathSchedule(r)
	if err != nil {
		return err
	}
	entries, err := s.store.ScheduleLog(r.Context(), sc.ID)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, entries)
	return nil
}
