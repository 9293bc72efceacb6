package api

import (
	"context"
	"net/http"
	"slices"

	"github.com/troupehq/troupe"
)

// What a run with limited permissions (LIMITED_PERMISSIONS) reaches with its
// token. Routes registered with handle refuse it; the others name a guard
// below. A limited run reaches:
//   - its own run: get, update (status message), abort, metamorph, reboot,
//     charge, log, events;
//   - the runs it started: get, abort, log;
//   - the storages it reaches (see reachesStorage);
//   - starting actors (their runs are limited too), and reading actors and
//     builds to do so (without the versions' source and variables).

// errLimited is the refusal of a request a limited run may not make.
func errLimited(c caller, r *http.Request) error {
	return troupe.Errorf(troupe.ErrInsufficientPermissions,
		"Run %s has limited permissions (LIMITED_PERMISSIONS): its token reaches only its own run, its storages and the actors it starts, not %s %s.",
		c.run.ID, r.Method, r.URL.Path)
}

// refuseLimited refuses every request of a limited run.
func refuseLimited(r *http.Request, c caller) error { return errLimited(c, r) }

// allowLimited lets a limited run's request through: the handler itself
// limits what it does (starting runs, reading an actor or a build, opening
// its own events).
func allowLimited(*http.Request, caller) error { return nil }

// runAccess is what a limited run may do to a run.
type runAccess int

const (
	// ownRun: only the caller's own run.
	ownRun runAccess = iota
	// ownOrStartedRun: the caller's own run or a run it started.
	ownOrStartedRun
)

// runGuard lets a limited run act on the run the request names when access
// allows it.
func (s *Server) runGuard(access runAccess) guard {
	return func(r *http.Request, c caller) error {
		id, err := s.pathRunID(r)
		if err != nil {
			return err
		}
		return s.checkRunAccess(r, c, id, access)
	}
}

// logGuard lets a limited run read the log of its own run or of a run it
// started (GET /v2/logs/{jobId}).
func (s *Server) logGuard(r *http.Request, c caller) error {
	return s.checkRunAccess(r, c, r.PathValue("jobId"), ownOrStartedRun)
}

func (s *Server) checkRunAccess(r *http.Request, c caller, id string, access runAccess) error {
	if c.isRun(id) {
		return nil
	}
	if access == ownOrStartedRun {
		run, err := s.store.GetRun(r.Context(), id)
		if troupe.IsNotFound(err) {
			return errLimited(c, r)
		}
		if err != nil {
			return err
		}
		if run.Control.StartedBy == c.run.ID {
			return nil
		}
	}
	return errLimited(c, r)
}

// storageGuard lets a limited run use the storage ref finds when it reaches
// it.
func (s *Server) storageGuard(ref storageRef) guard {
	return func(r *http.Request, c caller) error {
		st, err := ref(r)
		if err != nil {
			return err
		}
		return s.checkStorageAccess(r, c, st)
	}
}

func (s *Server) checkStorageAccess(r *http.Request, c caller, st *troupe.Storage) error {
	ok, err := s.reachesStorage(r.Context(), c.run, st, maxReachDepth)
	if err != nil {
		return err
	}
	if !ok {
		return errLimited(c, r)
	}
	return nil
}

// maxReachDepth bounds how far reachesStorage follows the runs that started
// runs.
const maxReachDepth = 8

// reachesStorage reports whether a limited run reaches storage st: one of
// its default storages; one a run created (actRunId) when that run is this
// one or one it started; a named storage an earlier run of the same actor
// created; or a storage its input names (InputRefs), when the input came
// from the admin or a full-permission run, or from a limited run that
// reaches it too.
func (s *Server) reachesStorage(ctx context.Context, run *troupe.Run, st *troupe.Storage, depth int) (bool, error) {
	if depth <= 0 {
		return false, nil
	}
	if st.ID == run.DefaultDatasetID || st.ID == run.DefaultKeyValueStoreID || st.ID == run.DefaultRequestQueueID {
		return true, nil
	}
	ids := run.StorageIDs
	for _, m := range []map[string]string{ids.Datasets, ids.KeyValueStores, ids.RequestQueues} {
		for _, id := range m {
			if id == st.ID {
				return true, nil
			}
		}
	}
	if st.ActRunID != nil {
		if *st.ActRunID == run.ID {
			return true, nil
		}
		if st.Name != nil && st.ActID != nil && *st.ActID == run.ActID {
			return true, nil
		}
		creator, err := s.store.GetRun(ctx, *st.ActRunID)
		if err != nil && !troupe.IsNotFound(err) {
			return false, err
		}
		if err == nil && creator.Control.StartedBy == run.ID {
			return true, nil
		}
	}
	if !slices.ContainsFunc(run.Control.InputRefs, func(ref string) bool {
		return troupe.NamesStorage(ref, st, s.cfg.Username)
	}) {
		return false, nil
	}
	if run.Control.StartedBy == "" {
		return true, nil
	}
	starter, err := s.store.GetRun(ctx, run.Control.StartedBy)
	if troupe.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if starter.PermissionLevel() == troupe.PermissionsFull {
		return true, nil
	}
	return s.reachesStorage(ctx, starter, st, depth-1)
}
