package api

import (
	"net/http"

	"github.com/troupehq/troupe"
)

// abortRun asks for a run to be aborted. An immediate abort waits up to
// AbortWait for the run to reach ABORTED and answers the run as it is then;
// a graceful one answers ABORTING at once. A finished run is answered
// unchanged.
func (s *Server) abortRun(w http.ResponseWriter, r *http.Request) error {
	graceful, err := queryOf(r).bool("gracefully", false)
	if err != nil {
		return err
	}
	id, err := s.pathRunID(r)
	if err != nil {
		return err
	}
	now := s.now()
	changed := false
	run, err := s.updateRun(r.Context(), id, func(run *troupe.Run, _ troupe.StorageTx) error {
		var err error
		changed, err = run.RequestAbort(graceful, now)
		return err
	})
	if err != nil {
		return err
	}
	if changed {
		s.wake(id)
		if !graceful && !run.Status.Terminal() {
			// waitRun watches before it reads, so the controller's change
			// cannot slip between the update and the wait.
			if run, err = s.waitRun(r.Context(), id, s.cfg.AbortWait); err != nil {
				return err
			}
		}
	}
	writeData(w, http.StatusOK, s.runView(run))
	return nil
}

// metamorphRun turns a running run into a run of another actor's build. The
// body (with its Content-Type, the target's input schema defaults merged) is
// stored in the run's default key-value store under INPUT-METAMORPH-N in
// the same transaction.
func (s *Server) metamorphRun(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	targetRef := q.str("targetActorId")
	if targetRef == "" {
		return troupe.Errorf(troupe.ErrParameterRequired, "Parameter 'targetActorId' is required.")
	}
	id, err := s.pathRunID(r)
	if err != nil {
		return err
	}
	target, err := s.actorByRef(r.Context(), targetRef)
	if err != nil {
		return err
	}
	b, err := s.runBuild(r.Context(), target, q.str("build"))
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	input, err := troupe.RunInput("", body, r.Header.Get("Content-Type"), b.InputSchema)
	if err != nil {
		return err
	}
	now := s.now()
	run, err := s.updateRun(r.Context(), id, func(run *troupe.Run, tx troupe.StorageTx) error {
		key := run.MetamorphInputKey()
		if err := run.Metamorph(target.ID, b, troupe.BuildRef(target, q.str("build")), key, now); err != nil {
			return err
		}
		if input == nil {
			return nil
		}
		rec := *input
		rec.Key = key
		return tx.PutRecord(r.Context(), run.DefaultKeyValueStoreID, &rec)
	})
	if err != nil {
		return err
	}
	s.wake(id)
	writeData(w, http.StatusOK, s.runView(run))
	return nil
}

// rebootRun restarts a running run's process. run-not-running.
func (s *Server) rebootRun(w http.ResponseWriter, r *http.Request) error {
	id, err := s.pathRunID(r)
	if err != nil {
		return err
	}
	now := s.now()
	run, err := s.updateRun(r.Context(), id, func(run *troupe.Run, _ troupe.StorageTx) error {
		return run.Reboot(now)
	})
	if err != nil {
		return err
	}
	s.wake(id)
	writeData(w, http.StatusOK, s.runView(run))
	return nil
}

// resurrectRun brings a finished run back to RUNNING; each option defaults
// to the value the run had. run-not-finished.
func (s *Server) resurrectRun(w http.ResponseWriter, r *http.Request) error {
	o, err := parseStartOptions(queryOf(r))
	if err != nil {
		return err
	}
	run, err := s.pathRun(r)
	if err != nil {
		return err
	}
	var b *troupe.Build
	if o.Build != "" {
		a, err := s.store.GetActor(r.Context(), run.ActID)
		if err != nil {
			if troupe.IsNotFound(err) {
				return notFound("Actor", run.ActID)
			}
			return err
		}
		if b, err = s.runBuild(r.Context(), a, o.Build); err != nil {
			return err
		}
	}
	now := s.now()
	run, err = s.updateRun(r.Context(), run.ID, func(run *troupe.Run, _ troupe.StorageTx) error {
		return run.Resurrect(o.Resurrect(b), now)
	})
	if err != nil {
		return err
	}
	s.wake(run.ID)
	writeData(w, http.StatusOK, s.runView(run))
	return nil
}

// chargeRun answers a pay-per-event charge. troupe runs every actor free of
// charge, so a charge of an existing run is refused with
// cannot-charge-non-pay-per-event-actor; record-not-found for unknown runs.
func (s *Server) chargeRun(w http.ResponseWriter, r *http.Request) error {
	run, err := s.pathRun(r)
	if err != nil {
		return err
	}
	return troupe.Errorf(troupe.ErrCannotCharge, "Run %s is of an actor that is not pay-per-event; troupe charges nothing.", run.ID)
}
