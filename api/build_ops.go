package api

import (
	"errors"
	"net/http"

	"github.com/troupehq/troupe"
)

// maxBuildTimeoutSecs caps the timeout parameter of a new build (a day).
const maxBuildTimeoutSecs = 86400

// errUnchanged leaves a stored record as it is.
var errUnchanged = errors.New("unchanged")

// abortBuild aborts a build. A READY build ends ABORTED at once; a RUNNING
// one becomes ABORTING, and the builder running it (on any replica) kills
// its processes and marks it ABORTED. The answer waits up to AbortWait for
// that. A finished (or already aborting) build is answered unchanged.
func (s *Server) abortBuild(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("buildId")
	now := s.now()
	b, err := s.store.UpdateBuild(r.Context(), id, func(b *troupe.Build) error {
		switch b.Status {
		case troupe.StatusReady:
			b.Status, b.FinishedAt = troupe.StatusAborted, &now
			b.StatusMessage = "The build was aborted before it started."
		case troupe.StatusRunning:
			b.Status = troupe.StatusAborting
		default:
			return errUnchanged
		}
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		b, err = s.getBuild(r.Context(), id)
	case troupe.IsNotFound(err):
		return notFound("Build", id)
	case err == nil && b.Status == troupe.StatusAborting:
		// waitBuild watches before it reads, so the builder's change
		// cannot slip between the update and the wait.
		b, err = s.waitBuild(r.Context(), id, s.cfg.AbortWait)
	}
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, buildView(b))
	return nil
}

// deleteBuild deletes a finished build that no tag of its actor points at
// (Store.DeleteBuild), and answers 204. Runs of the build keep running.
func (s *Server) deleteBuild(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("buildId")
	if err := s.store.DeleteBuild(r.Context(), id); err != nil {
		if troupe.IsNotFound(err) {
			return notFound("Build", id)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
