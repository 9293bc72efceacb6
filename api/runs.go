package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/troupehq/troupe"
)

// getRun returns a run; record-not-found names it.
func (s *Server) getRun(ctx context.Context, id string) (*troupe.Run, error) {
	r, err := s.store.GetRun(ctx, id)
	if troupe.IsNotFound(err) {
		return nil, notFound("Run", id)
	}
	return r, err
}

// pathRunID returns the id of the run a request names: {runId}, or, under
// /v2/actors/{actorId}/runs/last (or /v2/actor-tasks/{actorTaskId}/...),
// the actor's or the task's last run (of the status given by the status
// parameter). record-not-found.
func (s *Server) pathRunID(r *http.Request) (string, error) {
	if id := r.PathValue("runId"); id != "" {
		return id, nil
	}
	var status troupe.Status
	if st := queryOf(r).str("status"); st != "" {
		status = troupe.Status(strings.ToUpper(st))
		if !status.Valid() {
			return "", troupe.Errorf(troupe.ErrInvalidParameter, "Parameter 'status' must be one of %s.", statusList())
		}
	}
	var run *troupe.Run
	var err error
	var owner string
	if r.PathValue("actorTaskId") != "" {
		t, terr := s.pathTask(r)
		if terr != nil {
			return "", terr
		}
		owner = "Actor task " + t.ID
		run, err = s.lastTaskRun(r.Context(), t.ID, status)
	} else {
		a, aerr := s.pathActor(r)
		if aerr != nil {
			return "", aerr
		}
		owner = "Actor " + a.ID
		run, err = s.store.LastRun(r.Context(), a.ID, status)
	}
	if troupe.IsNotFound(err) {
		if status != "" {
			return "", troupe.Errorf(troupe.ErrRecordNotFound, "%s has no run with status %s.", owner, status)
		}
		return "", troupe.Errorf(troupe.ErrRecordNotFound, "%s has no runs.", owner)
	}
	if err != nil {
		return "", err
	}
	return run.ID, nil
}

// lastTaskRun returns the task's most recently started run, of the given
// status when status is not empty. record-not-found.
func (s *Server) lastTaskRun(ctx context.Context, taskID string, status troupe.Status) (*troupe.Run, error) {
	f := troupe.RunFilter{ListOptions: troupe.ListOptions{Limit: 1, Desc: true}, ActorTaskID: taskID}
	if status != "" {
		f.Statuses = []troupe.Status{status}
	}
	runs, _, err := s.store.ListRuns(ctx, f)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, troupe.Errorf(troupe.ErrRecordNotFound, "Actor task %s has no runs.", taskID)
	}
	return runs[0], nil
}

// pathRun returns the run a request names (see pathRunID).
func (s *Server) pathRun(r *http.Request) (*troupe.Run, error) {
	id, err := s.pathRunID(r)
	if err != nil {
		return nil, err
	}
	return s.getRun(r.Context(), id)
}

func statusList() string {
	names := make([]string, len(troupe.Statuses))
	for i, st := range troupe.Statuses {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}

// runView prepares a run for a response: its duration counted up to now,
// the controller's live resource sample merged in, no nil collections.
func (s *Server) runView(r *troupe.Run) *troupe.Run {
	r.UpdateDuration(s.now())
	if !r.Status.Terminal() && s.cfg.Controller != nil {
		if st, ok := s.cfg.Controller.Stats(r.ID); ok {
			r.Stats.MemCurrentBytes = st.MemCurrentBytes
			r.Stats.MemMaxBytes = max(r.Stats.MemMaxBytes, st.MemMaxBytes)
			r.Stats.MemAvgBytes = st.MemAvgBytes
			r.Stats.CPUCurrentUsage = st.CPUCurrentUsage
			r.Stats.CPUAvgUsage = st.CPUAvgUsage
			r.Stats.CPUMaxUsage = max(r.Stats.CPUMaxUsage, st.CPUMaxUsage)
		}
	}
	if r.Usage == nil {
		r.Usage = map[string]float64{}
	}
	if r.UsageUsd == nil {
		r.UsageUsd = map[string]float64{}
	}
	if _, ok := r.PricingInfo["createdAt"]; !ok { // none, or stored before it had one
		r.PricingInfo = troupe.FreePricing(r.StartedAt)
	}
	if r.ChargedEventCounts == nil {
		r.ChargedEventCounts = map[string]int{}
	}
	if r.Metamorphs == nil {
		r.Metamorphs = []troupe.Metamorph{}
	}
	return r
}

// runShort is an item of a run list.
type runShort struct {
	ID                     string         `json:"id"`
	ActID                  string         `json:"actId"`
	UserID                 string         `json:"userId"`
	ActorTaskID            *string        `json:"actorTaskId"`
	Status                 troupe.Status  `json:"status"`
	StatusMessage          *string        `json:"statusMessage"`
	StartedAt              time.Time      `json:"startedAt"`
	FinishedAt             *time.Time     `json:"finishedAt"`
	BuildID                string         `json:"buildId"`
	BuildNumber            string         `json:"buildNumber"`
	Meta                   troupe.RunMeta `json:"meta"`
	UsageTotalUsd          float64        `json:"usageTotalUsd"`
	DefaultKeyValueStoreID string         `json:"defaultKeyValueStoreId"`
	DefaultDatasetID       string         `json:"defaultDatasetId"`
	DefaultRequestQueueID  string         `json:"defaultRequestQueueId"`
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	o, err := q.listOptions()
	if err != nil {
		return err
	}
	f := troupe.RunFilter{ListOptions: o}
	if st := q.str("status"); st != "" {
		for _, part := range strings.Split(st, ",") {
			status := troupe.Status(strings.ToUpper(strings.TrimSpace(part)))
			if !status.Valid() {
				return troupe.Errorf(troupe.ErrInvalidParameter, "Parameter 'status' must be a comma-separated list of %s.", statusList())
			}
			f.Statuses = append(f.Statuses, status)
		}
	}
	if f.StartedAfter, err = q.optTime("startedAfter"); err != nil {
		return err
	}
	if f.StartedBefore, err = q.optTime("startedBefore"); err != nil {
		return err
	}
	if r.PathValue("actorId") != "" {
		a, err := s.pathActor(r)
		if err != nil {
			return err
		}
		f.ActorID = a.ID
	}
	if r.PathValue("actorTaskId") != "" {
		t, err := s.pathTask(r)
		if err != nil {
			return err
		}
		f.ActorTaskID = t.ID
	}
	runs, total, err := s.store.ListRuns(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]runShort, len(runs))
	for i, run := range runs {
		items[i] = runShort{ID: run.ID, ActID: run.ActID, UserID: run.UserID, ActorTaskID: run.ActorTaskID,
			Status: run.Status, StatusMessage: run.StatusMessage, StartedAt: run.StartedAt, FinishedAt: run.FinishedAt,
			BuildID: run.BuildID, BuildNumber: run.BuildNumber, Meta: run.Meta, UsageTotalUsd: run.UsageTotalUsd,
			DefaultKeyValueStoreID: run.DefaultKeyValueStoreID, DefaultDatasetID: run.DefaultDatasetID,
			DefaultRequestQueueID: run.DefaultRequestQueueID}
	}
	writeData(w, http.StatusOK, newPage(o, total, items))
	return nil
}

// getRunHandler answers a run, after waiting up to waitForFinish seconds
// (at most MaxWait) for it to finish.
func (s *Server) getRunHandler(w http.ResponseWriter, r *http.Request) error {
	wait, err := queryOf(r).wait("waitForFinish", s.cfg.MaxWait)
	if err != nil {
		return err
	}
	id, err := s.pathRunID(r)
	if err != nil {
		return err
	}
	if body := s.cachedRunBody(r.Context(), id); body != nil {
		writeBody(w, body) // finished and unchanged: no wait, same bytes
		return nil
	}
	run, err := s.waitRun(r.Context(), id, wait)
	if err != nil {
		return err
	}
	s.writeRun(w, s.runView(run))
	return nil
}

// runUpdate is the body of PUT on a run; unknown fields are ignored.
type runUpdate struct {
	StatusMessage           *string `json:"statusMessage"`
	IsStatusMessageTerminal *bool   `json:"isStatusMessageTerminal"`
	GeneralAccess           *string `json:"generalAccess"`
}

var generalAccessValues = []string{"FOLLOW_USER_SETTING", "ANYONE_WITH_ID_CAN_READ", "ANYONE_WITH_NAME_CAN_READ", "RESTRICTED"}

func (s *Server) updateRunHandler(w http.ResponseWriter, r *http.Request) error {
	var u runUpdate
	if err := decodeJSON(r, &u); err != nil {
		return err
	}
	if u.GeneralAccess != nil && !oneOf(*u.GeneralAccess, generalAccessValues) {
		return troupe.Errorf(troupe.ErrInvalidValue, "Field generalAccess must be one of %s.", strings.Join(generalAccessValues, ", "))
	}
	id, err := s.pathRunID(r)
	if err != nil {
		return err
	}
	run, err := s.updateRun(r.Context(), id, func(run *troupe.Run, _ troupe.StorageTx) error {
		switch {
		case u.StatusMessage != nil:
			run.SetStatusMessage(*u.StatusMessage, u.IsStatusMessageTerminal)
		case u.IsStatusMessageTerminal != nil:
			t := *u.IsStatusMessageTerminal
			run.IsStatusMessageTerminal = &t
		}
		if u.GeneralAccess != nil {
			run.GeneralAccess = *u.GeneralAccess
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, s.runView(run))
	return nil
}

func oneOf(s string, values []string) bool {
	for _, v := range values {
		if s == v {
			return true
		}
	}
	return false
}

// deleteRunHandler deletes a finished run. cannot-remove-running-run.
func (s *Server) deleteRunHandler(w http.ResponseWriter, r *http.Request) error {
	run, err := s.pathRun(r)
	if err != nil {
		return err
	}
	if !run.Status.Terminal() {
		return troupe.Errorf(troupe.ErrRunNotTerminal, "Run %s is %s; only a finished run can be deleted.", run.ID, run.Status)
	}
	if err := s.store.DeleteRun(r.Context(), run.ID); err != nil {
		if troupe.IsNotFound(err) {
			return notFound("Run", run.ID)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxUpdateTries bounds the retries of a run update that lost a race.
const maxUpdateTries = 5

// updateRun applies fn to the run in one store transaction, retrying when
// another writer changed the run in between. fn may run more than once.
func (s *Server) updateRun(ctx context.Context, id string, fn troupe.RunMutation) (*troupe.Run, error) {
	var err error
	for range maxUpdateTries {
		var r *troupe.Run
		r, err = s.store.UpdateRun(ctx, id, fn)
		if troupe.ErrorType(err) != troupe.ErrConflict {
			if troupe.IsNotFound(err) {
				return nil, notFound("Run", id)
			}
			return r, err
		}
	}
	return nil, err
}
