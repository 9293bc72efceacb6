package api

import (
	"net/http"

	"github.com/troupehq/troupe"
)

// runEvents upgrades to the run's events websocket. The run's own process
// connects with its run token in ?token=; the admin token works too, a
// token of another run does not.
func (s *Server) runEvents(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("runId")
	if c := callerFrom(r.Context()); !c.admin && !c.isRun(id) {
		return troupe.Errorf(troupe.ErrInvalidToken, "The token is not valid for the events of run %s.", id)
	}
	if _, err := s.getRun(r.Context(), id); err != nil {
		return err
	}
	if s.cfg.Events == nil {
		return troupe.Errorf(troupe.ErrPageNotFound, "This server has no events websocket.")
	}
	s.cfg.Events.ServeRun(w, r, id)
	return nil
}
