// Package health serves troupe's liveness and readiness endpoints, meant
// for load balancers and orchestrators (Kubernetes probes): they need no
// token and say nothing about the server beyond which check failed.
package health

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/troupehq/troupe"
)

// Live answers 200 "ok" to every request: the process is alive and serves
// HTTP.
func Live() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusOK, "ok")
	})
}

// ReadyConfig configures Ready.
type ReadyConfig struct {
	// Store must answer a small read (the replicas' heartbeats).
	Store troupe.InstanceStore
	// Running reports whether the run controller runs.
	Running func() bool
	// Timeout bounds the store's answer (default 2 s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Ready answers 200 "ok" when the store answers within the timeout and the
// controller runs, and 503 naming the failed check otherwise ("store not
// answering", "controller not running"); the cause of a store failure goes
// to the log only.
func Ready(cfg ReadyConfig) http.Handler {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !cfg.Running() {
			write(w, http.StatusServiceUnavailable, "not ready: controller not running")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), cfg.Timeout)
		defer cancel()
		if _, err := cfg.Store.Instances(ctx); err != nil {
			cfg.Logger.Warn("readiness: store not answering", "err", err)
			write(w, http.StatusServiceUnavailable, "not ready: store not answering")
			return
		}
		write(w, http.StatusOK, "ok")
	})
}

func write(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}
