package api

import (
	"net/http"
	"strconv"

	"github.com/troupehq/troupe"
)

// errRunFailed is the error type of a run-sync whose run did not succeed.
const errRunFailed = "run-failed"

// parseStartOptions reads build, timeout, memory, maxItems,
// maxTotalChargeUsd, restartOnError, forcePermissionLevel and webhooks
// (checked when the run is made, troupe.NewRun).
func parseStartOptions(q query) (troupe.StartOptions, error) {
	var o troupe.StartOptions
	var err error
	o.Build = q.str("build")
	if o.TimeoutSecs, err = q.optSeconds("timeout"); err != nil {
		return o, err
	}
	if o.MemoryMbytes, err = q.optInt("memory", 0); err != nil {
		return o, err
	}
	if o.MemoryMbytes != nil {
		if err := checkMemory("memory", *o.MemoryMbytes); err != nil {
			return o, err
		}
	}
	if o.MaxItems, err = q.optInt("maxItems", 1); err != nil {
		return o, err
	}
	if s := q.str("maxTotalChargeUsd"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 {
			return o, invalidParam("maxTotalChargeUsd", "a non-negative number")
		}
		o.MaxTotalChargeUsd = &f
	}
	if o.RestartOnError, err = q.optBool("restartOnError"); err != nil {
		return o, err
	}
	if o.ForcePermissionLevel = q.str("forcePermissionLevel"); o.ForcePermissionLevel != "" && !troupe.ValidPermissionLevel(o.ForcePermissionLevel) {
		return o, invalidParam("forcePermissionLevel", "LIMITED_PERMISSIONS or FULL_PERMISSIONS")
	}
	o.Webhooks = q.str("webhooks")
	return o, nil
}

// checkMemory checks a memory size: a power of 2 from 128 to 32768 MB.
func checkMemory(name string, mb int) error {
	if mb < 128 || mb > 32768 || mb&(mb-1) != 0 {
		return troupe.Errorf(troupe.ErrInvalidValue, "Value of '%s' must be a power of 2 between 128 and 32768 (megabytes), not %d.", name, mb)
	}
	return nil
}

// startRun makes a new READY run of actor a with the given options and
// input body (see [troupe.NewRun]), stores it and wakes the controller. (The
// store counts runs on actors.) A run started with a run's token records
// that run; a limited run may not ask for FULL_PERMISSIONS
// (insufficient-permissions), and its runs are limited.
// A run of a task (taskID not empty) records it.
func (s *Server) startRun(r *http.Request, a *troupe.Actor, o troupe.StartOptions, body []byte, contentType, taskID string) (*troupe.Run, error) {
	ctx := r.Context()
	c := callerFrom(ctx)
	if c.limited() && o.ForcePermissionLevel == troupe.PermissionsFull {
		return nil, troupe.Errorf(troupe.ErrInsufficientPermissions,
			"Run %s has limited permissions (LIMITED_PERMISSIONS) and cannot start a run with FULL_PERMISSIONS.", c.run.ID)
	}
	meta := troupe.RunMeta{Origin: troupe.OriginAPI, ClientIP: clientIP(r), UserAgent: r.UserAgent()}
	if c.run != nil {
		meta.Origin = troupe.OriginActor
	}
	b, err := troupe.RunBuild(ctx, s.store, a, o.Build)
	if err != nil {
		return nil, err
	}
	run, input, err := troupe.NewRun(troupe.NewRunParams{
		Actor:       a,
		Build:       b,
		Options:     o,
		Defaults:    troupe.RunDefaults{TimeoutSecs: s.cfg.DefaultTimeoutSecs, MemoryMbytes: s.cfg.DefaultMemoryMbytes},
		UserID:      s.cfg.UserID,
		Meta:        meta,
		Input:       body,
		ContentType: contentType,
		Now:         s.now(),
		StartedBy:   c.run,
	})
	if err != nil {
		return nil, err
	}
	if taskID != "" {
		run.ActorTaskID = &taskID
	}
	if err := s.store.CreateRun(ctx, run, input); err != nil {
		return nil, err
	}
	if nw, ok := s.cfg.Controller.(newRunWaker); ok {
		nw.WakeNew(run, a, b)
	} else {
		s.wake(run.ID)
	}
	return run, nil
}

// newRunWaker is a Controller that can be handed a run just created, as
// the store has it, with the actor and build it was created from, so that
// it need not read them back. None of them is changed afterwards.
type newRunWaker interface {
	WakeNew(run *troupe.Run, actor *troupe.Actor, build *troupe.Build)
}

// wake tells the controller a run's desired state changed.
func (s *Server) wake(runID string) {
	if s.cfg.Controller != nil {
		s.cfg.Controller.Wake(runID)
	}
}

// runActor starts a run: POST /v2/actors/{actorId}/runs (or a task's). The body and its
// Content-Type become the run's INPUT record.
func (s *Server) runActor(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	o, err := parseStartOptions(q)
	if err != nil {
		return err
	}
	wait, err := q.wait("waitForFinish", s.cfg.MaxWait)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	run, err := s.startFromPath(r, o, body, r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	if wait > 0 {
		if run, err = s.waitRun(r.Context(), run.ID, wait); err != nil {
			return err
		}
	}
	w.Header().Set("Location", absURL(r, "/v2/actor-runs/"+run.ID))
	writeData(w, http.StatusCreated, s.runView(run))
	return nil
}

// runSync starts a run, waits up to SyncWait for it to finish and answers
// its output record (outputRecordKey, default OUTPUT) as stored.
// run-timeout-exceeded when the run is still going; run-failed when it did
// not succeed.
func (s *Server) runSync(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	o, err := parseStartOptions(q)
	if err != nil {
		return err
	}
	key := q.str("outputRecordKey")
	if key == "" {
		key = "OUTPUT"
	}
	if !troupe.ValidRecordKey(key) {
		return errInvalidKey(key)
	}
	run, err := s.runToSuccess(r, o)
	if err != nil {
		return err
	}
	rec, err := s.store.GetRecord(r.Context(), run.DefaultKeyValueStoreID, key)
	if troupe.IsNotFound(err) {
		return troupe.Errorf(troupe.ErrRecordNotFound, "Actor run %s stored no %s record.", run.ID, key)
	}
	if err != nil {
		return err
	}
	writeRecord(w, r, rec, http.StatusCreated)
	return nil
}

// runToSuccess starts a run of the request's actor (with the POST body as
// its input), waits for it up to SyncWait and returns it once it succeeded:
// run-timeout-exceeded while it still runs, run-failed when it ended
// otherwise.
func (s *Server) runToSuccess(r *http.Request, o troupe.StartOptions) (*troupe.Run, error) {
	var body []byte
	var err error
	if r.Method == http.MethodPost {
		if body, err = readBody(r); err != nil {
			return nil, err
		}
	}
	run, err := s.startFromPath(r, o, body, r.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	if run, err = s.waitRun(r.Context(), run.ID, s.cfg.SyncWait); err != nil {
		return nil, err
	}
	if !run.Status.Terminal() {
		return nil, troupe.Errorf(troupe.ErrRunTimeoutExceeded, "Actor run %s did not finish in %d seconds; it goes on running.", run.ID, int(s.cfg.SyncWait.Seconds()))
	}
	if run.Status != troupe.StatusSucceeded {
		return nil, troupe.Errorf(errRunFailed, "Actor run did not succeed (run ID: %s, status: %s).", run.ID, run.Status)
	}
	return run, nil
}
