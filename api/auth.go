package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/troupehq/troupe"
)

// caller is who made a request: the admin, or the process of one run.
type caller struct {
	admin bool
	runID string // set for a run token
}

type callerKey struct{}

func callerFrom(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// handlerFunc is a handler that returns its error; handle answers it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle registers h under pattern behind token authentication.
func (s *Server) handle(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
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

// authenticate checks the request's token: the admin token, or the current
// token of a run that has not finished (troupe.ValidRunToken).
// token-not-provided, invalid-token.
func (s *Server) authenticate(r *http.Request) (caller, error) {
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
		if err == nil && troupe.ValidRunToken(s.cfg.RunTokenSecret, run, tok) {
			return caller{runID: runID}, nil
		}
	}
	return caller{}, troupe.Errorf(troupe.ErrInvalidToken, "Authentication token is not valid.")
}
