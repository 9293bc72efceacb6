package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/troupehq/troupe"
)

// caller is who made a request: the admin, or the process of one run.
type caller struct {
	admin bool
	run   *troupe.Run // the run whose token made the request, as it was then
}

// limited reports whether the caller is a run with limited permissions.
func (c caller) limited() bool {
	return c.run != nil && c.run.PermissionLevel() != troupe.PermissionsFull
}

// isRun reports whether the caller is the run with this id.
func (c caller) isRun(id string) bool { return c.run != nil && c.run.ID == id }

type callerKey struct{}

func callerFrom(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// handlerFunc is a handler that returns its error; handle answers it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// guard decides whether a run with limited permissions may make a request:
// nil lets it through, an error (insufficient-permissions) refuses it.
type guard func(r *http.Request, c caller) error

// handle registers h under pattern behind token authentication, for the
// account only: the admin and full-permission runs. Limited runs get 403
// insufficient-permissions.
func (s *Server) handle(pattern string, h handlerFunc) {
	s.handleGuarded(pattern, refuseLimited, h)
}

// handleGuarded registers h under pattern behind token authentication; a
// limited run's request reaches h only when g lets it through.
func (s *Server) handleGuarded(pattern string, g guard, h handlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, s.guarded(g, h))
}

// outlivingTimeout bounds a request handleOutliving carries out after its
// client has gone.
const outlivingTimeout = 30 * time.Second

// handleOutliving is handleGuarded for a short write that troupe carries
// out to the end even when the client hangs up before the answer (within
// outlivingTimeout): an actor's last status message comes from a process
// that may exit, closing its connection, before troupe answers (the Apify
// SDK waits a second for the update, then goes on).
func (s *Server) handleOutliving(pattern string, g guard, h handlerFunc) {
	s.patterns = append(s.patterns, pattern)
	inner := s.guarded(g, h)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), outlivingTimeout)
		defer cancel()
		defer s.cfg.RunWrites.Begin(r.PathValue("runId"))()
		inner(w, r.WithContext(ctx))
	})
}

// guarded is h behind token authentication and g.
func (s *Server) guarded(g guard, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r, s.now())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if c.limited() {
			if err := g(r, c); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// requestToken returns the token of a request: the Authorization bearer
// token, else the token query parameter.
func requestToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
	}
	return r.URL.Query().Get("token")
}

// authenticate checks the token of a request that arrived at the given
// time: the admin token, or the current token of a run that had not
// finished then (troupe.ValidRunToken). token-not-provided, invalid-token.
func (s *Server) authenticate(r *http.Request, arrived time.Time) (caller, error) {
	tok := requestToken(r)
	if tok == "" {
		return caller{}, troupe.Errorf(troupe.ErrTokenNotProvided, "Authentication token was not provided.")
	}
	if s.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) == 1 {
		return caller{admin: true}, nil
	}
	if runID, ok := troupe.RunTokenID(tok); ok && len(s.cfg.RunTokenSecret) > 0 {
		run, err := s.store.GetRun(r.Context(), runID)
		if err != nil && !troupe.IsNotFound(err) {
			return caller{}, err
		}
		if err == nil && troupe.ValidRunToken(s.cfg.RunTokenSecret, run, tok, arrived) {
			return caller{run: run}, nil
		}
	}
	return caller{}, troupe.Errorf(troupe.ErrInvalidToken, "Authentication token is not valid.")
}
