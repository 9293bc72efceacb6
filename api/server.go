// Package api is troupe's HTTP server for the Apify API v2 (/v2/...): it
// routes requests, authenticates them, validates their parameters, records
// what the user asked for in the store and answers in the API's JSON
// envelope. It never touches processes: a run operation writes the run's
// desired state and new status in one store transaction and wakes the
// controller. Waiting (waitForFinish, log streams) follows Store.Watch.
package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/inflight"
)

// Controller is the part of the run controller the API needs.
type Controller interface {
	// Wake tells the controller that the run's desired state changed in the
	// store.
	Wake(runID string)
	// Stats returns a live resource sample of a running run, if this server
	// runs its process.
	Stats(runID string) (troupe.ProcessStats, bool)
}

// Builder builds actor versions.
type Builder interface {
	// Enqueue asks for a READY build that was just stored to be built.
	Enqueue(buildID string)
}

// Events serves the per-run events websocket.
type Events interface {
	// ServeRun upgrades the request to the run's events websocket.
	ServeRun(w http.ResponseWriter, r *http.Request, runID string)
}

// Config configures a Server.
type Config struct {
	Store      troupe.Store
	Controller Controller
	Builder    Builder
	Events     Events
	// Token is the admin token: it grants full access.
	Token string
	// RunTokenSecret checks run tokens (troupe.ValidRunToken); a run token
	// works while its run has not finished.
	RunTokenSecret []byte
	// RunWrites, when set, counts the run updates (PUT on a run: status
	// messages) under way per run id, so that the controller can wait for
	// an actor's last status message before it records the run's end.
	RunWrites *inflight.Tracker
	// UserID and Username name the single account troupe serves.
	UserID, Username string
	Logger           *slog.Logger
	// Now is the clock (default troupe.Now).
	Now func() time.Time
	// MaxWait clamps waitForFinish (default 60s).
	MaxWait time.Duration
	// AbortWait is how long an immediate abort waits for the run to reach
	// ABORTED before it answers (default 10s).
	AbortWait time.Duration
	// SyncWait is how long run-sync waits for the run to finish before it
	// answers 408 run-timeout-exceeded (default 300s).
	SyncWait time.Duration
	// DefaultMemoryMbytes (default 1024) and DefaultTimeoutSecs (default
	// 3600) apply to runs whose actor and request set none.
	DefaultMemoryMbytes int
	DefaultTimeoutSecs  int
	// Connection limits of HTTPServer. ReadHeaderTimeout bounds reading a
	// request's headers (default 10 s); ReadTimeout its headers and body
	// (default 300 s: 9 MB at 30 KB/s); IdleTimeout closes a keep-alive
	// connection that waits that long for its next request (default 120
	// s); WriteStallTimeout cuts off a client that reads nothing of a
	// response for that long (default 60 s); MaxHeaderBytes bounds the
	// request headers (default 64 KiB).
	ReadHeaderTimeout, ReadTimeout, IdleTimeout, WriteStallTimeout time.Duration
	MaxHeaderBytes                                                 int
	// Instrument, when set, wraps the server's handler (e.g. to time
	// requests). The request the wrapper passes on is the one the API's
	// ServeMux routes: once it returns, its Pattern names the route that
	// served it (empty when none did).
	Instrument func(http.Handler) http.Handler
	// FinishWoken, when set, is called when a request waiting for a run to
	// finish (waitForFinish, run-sync, an immediate abort) is woken by a
	// change of the run and finds it finished, with the run's finishedAt.
	FinishWoken func(finishedAt time.Time)
	// ProxyConfigured says whether the operator gave runs an upstream proxy
	// (see GET /v2/proxy-status).
	ProxyConfigured bool
}

// The defaults of runs whose actor and request set no memory or timeout.
const (
	DefaultRunMemoryMbytes = 1024
	DefaultRunTimeoutSecs  = 3600
)

// Server is the /v2 HTTP handler. Create it with New.
type Server struct {
	cfg   Config
	store troupe.Store
	log   *slog.Logger
	now   func() time.Time
	mux   *http.ServeMux
	// handler serves every request: serve, wrapped by Config.Instrument.
	handler http.Handler
	// patterns lists the routes in the order they were registered.
	patterns []string
	// runBodies keeps the GET bodies of finished runs (see runcache.go).
	runBodies runBodies
}

var _ http.Handler = (*Server)(nil)

// New returns a server for cfg, with the defaults filled in.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = troupe.Now
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 60 * time.Second
	}
	if cfg.AbortWait <= 0 {
		cfg.AbortWait = 10 * time.Second
	}
	if cfg.SyncWait <= 0 {
		cfg.SyncWait = 300 * time.Second
	}
	if cfg.DefaultMemoryMbytes <= 0 {
		cfg.DefaultMemoryMbytes = DefaultRunMemoryMbytes
	}
	if cfg.DefaultTimeoutSecs <= 0 {
		cfg.DefaultTimeoutSecs = DefaultRunTimeoutSecs
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.WriteStallTimeout <= 0 {
		cfg.WriteStallTimeout = DefaultWriteStallTimeout
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Logger, now: cfg.Now, mux: http.NewServeMux()}
	s.routes()
	s.handler = http.HandlerFunc(s.serve)
	if cfg.Instrument != nil {
		s.handler = cfg.Instrument(s.handler)
	}
	return s
}

// Routes returns the pattern ("METHOD /path/{param}") of every route the
// server serves, in the order they were registered.
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }

// ServeHTTP applies the ?method= override and dispatches the request, with
// a write deadline that moves with the response (see stallWriter). Paths
// no route knows answer 404 page-not-found, known paths asked with another
// method 405 method-not-allowed, both as JSON errors.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	sw := newStallWriter(w, s.cfg.WriteStallTimeout)
	defer sw.finish()
	w = sw
	if m := r.URL.Query().Get("method"); m != "" {
		switch m {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch:
			r.Method = m
		default:
			s.writeError(w, r, troupe.Errorf(troupe.ErrInvalidParameter, "Parameter 'method' must be one of GET, HEAD, POST, PUT, DELETE, PATCH."))
			return
		}
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		// The mux's own answer: not found, method not allowed or a redirect
		// to the clean path. The first two become JSON errors.
		s.mux.ServeHTTP(&muxErrorWriter{ResponseWriter: w, s: s, r: r}, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// muxErrorWriter turns the mux's plain-text 404 and 405 answers into the
// API's JSON errors; any other answer passes through.
type muxErrorWriter struct {
	http.ResponseWriter
	s        *Server
	r        *http.Request
	replaced bool
}

func (m *muxErrorWriter) WriteHeader(code int) {
	switch code {
	case http.StatusNotFound:
		m.replaced = true
		m.s.writeError(m.ResponseWriter, m.r, troupe.Errorf(troupe.ErrPageNotFound, "We have bad news: there is no API endpoint at this URL. Did you specify it correctly?"))
	case http.StatusMethodNotAllowed:
		m.replaced = true
		m.s.writeError(m.ResponseWriter, m.r, troupe.Errorf(troupe.ErrMethodNotAllowed, "This API endpoint can only be accessed using the following HTTP methods: %s", m.Header().Get("Allow")))
	default:
		m.ResponseWriter.WriteHeader(code)
	}
}

func (m *muxErrorWriter) Write(p []byte) (int, error) {
	if m.replaced {
		return len(p), nil
	}
	return m.ResponseWriter.Write(p)
}

func (m *muxErrorWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }
