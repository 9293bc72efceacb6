package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/troupehq/troupe"
)

// Statuses are the values of the status label of troupe_runs.
var Statuses = []troupe.Status{
	troupe.StatusReady, troupe.StatusRunning, troupe.StatusTimingOut, troupe.StatusAborting,
	troupe.StatusSucceeded, troupe.StatusFailed, troupe.StatusTimedOut, troupe.StatusAborted,
}

// runsByStatus reports the number of runs in the store by status, read at
// each scrape from the store's per-status counters (the total ListRuns
// returns for a status filter, which the SQL stores keep in a counter table
// rather than counting rows), so a scrape costs a few small queries however
// many runs are stored. The figures cover every replica sharing the store.
type runsByStatus struct {
	store   troupe.RunStore
	log     *slog.Logger
	timeout time.Duration
	desc    *prometheus.Desc
}

// RegisterRunsByStatus adds the troupe_runs gauge, read from store when
// scraped. A status whose count cannot be read (the store fails or takes
// longer than 5 s) is left out of that scrape and the error logged.
func (m *Metrics) RegisterRunsByStatus(store troupe.RunStore) {
	m.reg.MustRegister(&runsByStatus{
		store: store, log: m.log, timeout: 5 * time.Second,
		desc: prometheus.NewDesc("troupe_runs", "Runs in the store (of every replica sharing it), by status.", []string{"status"}, nil),
	})
}

func (c *runsByStatus) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *runsByStatus) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	for _, st := range Statuses {
		_, n, err := c.store.ListRuns(ctx, troupe.RunFilter{ListOptions: troupe.ListOptions{Limit: 1}, Statuses: []troupe.Status{st}})
		if err != nil {
			c.log.Error("count runs for metrics", "status", st, "err", err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(st))
	}
}
