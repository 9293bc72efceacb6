// Package metrics is troupe's operator view in the Prometheus text format:
// a registry of troupe's own (plus the Go runtime and process collectors)
// fed by wrappers around the parts cmd/troupe wires together. The store
// wrapper times every store call and counts the status changes it writes
// (every status change of a run or build is one compare-and-set through
// the store, so they are all seen there) and the webhook calls it records;
// the executor wrapper counts live run processes; InstrumentAPI times API
// requests by route pattern; runs by status are read from the store's
// per-status counters when scraped.
package metrics

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/troupehq/troupe"
)

// Outcomes are the final statuses a run or build finishes with, the values
// of the outcome label.
var Outcomes = []troupe.Status{troupe.StatusSucceeded, troupe.StatusFailed, troupe.StatusAborted, troupe.StatusTimedOut}

// Metrics holds troupe's metrics and the registry that serves them. Create
// it with New; it is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger
	now func() time.Time

	runsCreated         prometheus.Counter
	runsStarted         prometheus.Counter
	runsFinished        *prometheus.CounterVec
	startLatency        prometheus.Histogram
	finishToWake        prometheus.Histogram
	takeovers           prometheus.Counter
	buildsStarted       prometheus.Counter
	buildsFinished      *prometheus.CounterVec
	processes           prometheus.Gauge
	webhookCalls        *prometheus.CounterVec
	webhookCallDuration prometheus.Histogram
	requests            *prometheus.HistogramVec
	storeOps            *prometheus.HistogramVec
	storeErrors         *prometheus.CounterVec
}

// Options configures New.
type Options struct {
	Logger *slog.Logger
	// Now is the clock the finish-to-wake histogram reads (default time.Now).
	Now func() time.Time
}

// latencyBuckets (seconds) suit steps that take from a millisecond to a
// few seconds: starting a process, waking a waiter, serving a request.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// storeBuckets (seconds) suit store calls, most of which take well under
// a millisecond on SQLite.
var storeBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// New returns troupe's metrics on a registry of their own, with the Go
// runtime and process collectors.
func New(o Options) *Metrics {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry(), log: o.Logger, now: o.Now}
	f := factory{m.reg}
	m.runsCreated = f.counter("troupe_runs_created_total", "Runs this server accepted (stored READY).")
	m.runsStarted = f.counter("troupe_runs_started_total", "Runs this server marked RUNNING after starting their first process (READY → RUNNING).")
	m.runsFinished = f.counterVec("troupe_runs_finished_total", "Runs this server gave a final status, by that status.", "outcome")
	m.startLatency = f.histogram("troupe_run_start_latency_seconds", "Time from a run's acceptance (startedAt) to RUNNING, for runs this server started.", latencyBuckets)
	m.finishToWake = f.histogram("troupe_run_finish_to_wake_seconds", "Time from a run's finish (finishedAt) to the moment a request waiting for it here (waitForFinish, run-sync, abort) saw it finished.", latencyBuckets)
	m.takeovers = f.counter("troupe_run_takeovers_total", "Runs this server took over from a replica whose lease had expired.")
	m.buildsStarted = f.counter("troupe_builds_started_total", "Builds this server started (READY → RUNNING).")
	m.buildsFinished = f.counterVec("troupe_builds_finished_total", "Builds this server gave a final status, by that status.", "outcome")
	m.webhookCalls = f.counterVec("troupe_webhook_calls_total", "Webhook calls this server made, by the outcome of their dispatch: SUCCEEDED (delivered), RETRY (failed, called again later), FAILED (failed for good).", "outcome")
	m.webhookCallDuration = f.histogram("troupe_webhook_call_duration_seconds", "Duration of webhook calls this server made.", latencyBuckets)
	m.processes = f.gauge("troupe_run_processes", "Run processes this server runs now.")
	m.requests = f.histogramVec("troupe_http_request_duration_seconds", "Duration of API requests, by route pattern (method and path pattern, e.g. \"GET /v2/actor-runs/{runId}\"; \"unmatched\" when no route matched) and status code.", latencyBuckets, "route", "code")
	m.storeOps = f.histogramVec("troupe_store_operation_duration_seconds", "Duration of store calls (each one transaction), by store method. A dataset read leaves out the time spent writing the items to the client.", storeBuckets, "operation")
	m.storeErrors = f.counterVec("troupe_store_errors_total", "Store calls that failed with an error of the store itself (not record-not-found, conflict or another error a user caused), by store method.", "operation")
	for _, s := range Outcomes {
		m.runsFinished.WithLabelValues(string(s))
		m.buildsFinished.WithLabelValues(string(s))
	}
	for _, s := range []string{troupe.DispatchSucceeded, troupe.DispatchActive, troupe.DispatchFailed} {
		m.webhookCalls.WithLabelValues(webhookOutcome(s))
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format. When token is
// not empty, a request must carry it as "Authorization: Bearer TOKEN";
// otherwise it is answered 401 with a JSON error of type
// token-not-provided or invalid-token, as the API does.
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slogErrorLog{m.log},
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       30 * time.Second,
	})
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := bearer(r)
		switch {
		case got == "":
			writeError(w, troupe.ErrTokenNotProvided, "Authentication required: send the admin token as \"Authorization: Bearer TOKEN\".")
		case subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1:
			writeError(w, troupe.ErrInvalidToken, "Authentication token is not valid.")
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// bearer returns the request's bearer token, or "".
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

func writeError(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("WWW-Authenticate", "Bearer")
	w.WriteHeader(http.StatusUnauthorized)
	body, _ := json.Marshal(map[string]map[string]string{"error": {"type": typ, "message": msg}})
	_, _ = w.Write(append(body, '\n'))
}

// InstrumentAPI wraps the API's handler so that every request is timed by
// its route pattern and status code. The route is the Go 1.22 ServeMux
// pattern the request matched (next must route with an http.ServeMux that
// sets Request.Pattern on the request it was given), never the raw path,
// which keeps the number of series bounded.
func (m *Metrics) InstrumentAPI(next http.Handler) http.Handler {
	return promhttp.InstrumentHandlerDuration(m.requests, next,
		promhttp.WithLabelFromRequest("route", func(r *http.Request) string {
			if r.Pattern == "" {
				return "unmatched"
			}
			return r.Pattern
		}))
}

// FinishWoken records that a request waiting for a run saw it finished,
// finishedAt being the run's finishedAt.
func (m *Metrics) FinishWoken(finishedAt time.Time) {
	m.finishToWake.Observe(max(m.now().Sub(finishedAt), 0).Seconds())
}

// slogErrorLog passes promhttp's errors to the server's log.
type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Println(v ...any) {
	l.log.Error("serve metrics", "err", strings.TrimSpace(fmt.Sprintln(v...)))
}

// factory registers the metrics it makes on its registry.
type factory struct{ reg prometheus.Registerer }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}
