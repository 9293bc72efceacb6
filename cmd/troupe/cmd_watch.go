package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/client"
)

// Limits of `runs watch`.
const (
	defaultWatchInterval = 2 * time.Second
	minWatchInterval     = 100 * time.Millisecond
	defaultWatchLimit    = 20
	// maxWatchWaits bounds the long polls (one connection each) held at
	// once; live runs beyond it are seen by the list refresh only.
	maxWatchWaits = 100
)

func newRunsWatchCmd(sf *serverFlags) *cobra.Command {
	var (
		actor    string
		limit    int
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Show the newest runs, then a line for every change, until interrupted",
		Long: `Watch prints the newest runs (--limit) as ls does, then one line each time a
run appears, changes status or status message, or finishes, until you stop
it with Ctrl-C.

It follows the API's events where the API has them: each live run shown is
waited on with a long poll (GET /v2/actor-runs/ID?waitForFinish=60), so its
end is printed the moment it happens. New runs, and changes of a live run
before it ends (RUNNING to ABORTING, a new status message), are found by
listing the newest runs again every --interval (default 2s, at least 100ms).
At most 100 runs are long-polled at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return fmt.Errorf("--limit must be at least 1")
			}
			if interval < minWatchInterval {
				return fmt.Errorf("--interval must be at least %s", minWatchInterval)
			}
			ctx := cmd.Context()
			c := sf.client()
			runs := c.Runs()
			if actor != "" {
				ref, err := actorRef(ctx, c, actor)
				if err != nil {
					return err
				}
				runs = c.Actor(ref).Runs()
			}
			w := &runWatcher{
				c:     c,
				names: newActorNames(c),
				out:   cmd.OutOrStdout(),
				list: func(ctx context.Context) (*client.RunList, error) {
					return runs.List(ctx, &client.RunListOptions{Limit: limit, Desc: true})
				},
				interval: interval,
			}
			err := w.watch(ctx)
			if ctx.Err() != nil {
				return nil // stopped by the user
			}
			return err
		},
	}
	cmd.Flags().StringVar(&actor, "actor", "", `only runs of this actor (id, "username/name" or name)`)
	cmd.Flags().IntVar(&limit, "limit", defaultWatchLimit, "show and refresh this many of the newest runs")
	cmd.Flags().DurationVar(&interval, "interval", defaultWatchInterval, "how often to list the newest runs again, for new runs")
	_ = cmd.RegisterFlagCompletionFunc("actor", sf.completeActors)
	return cmd
}

// runWatcher prints a live table of runs. Its maps are used by the goroutine
// of watch only; long polls report to it through updates.
type runWatcher struct {
	c        *client.Client
	names    *actorNames
	out      io.Writer
	list     func(context.Context) (*client.RunList, error)
	interval time.Duration

	widths  []int
	shown   map[string]string // run id → what its last line showed
	waiting map[string]bool   // run id → a long poll is under way
	updates chan waitResult
	wg      sync.WaitGroup
}

// waitResult is the end of a long poll: the run it returned, or nil when
// it failed.
type waitResult struct {
	id  string
	run *client.Run
}

// watch prints the table and then the changes until ctx ends or listing
// the runs fails.
func (w *runWatcher) watch(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		w.wg.Wait()
	}()
	w.shown = map[string]string{}
	w.waiting = map[string]bool{}
	w.updates = make(chan waitResult)

	page, err := w.list(ctx)
	if err != nil {
		return err
	}
	now := troupe.Now()
	rows := [][]string{runColumns}
	for _, r := range page.Items {
		rows = append(rows, runRow(r, w.names.name(ctx, r.ActID), now))
	}
	w.widths = columnWidths(rows)
	for i, row := range rows {
		if err := w.printRow(row); err != nil {
			return err
		}
		if i > 0 {
			r := page.Items[i-1]
			w.shown[r.ID] = runSignature(r)
			w.follow(ctx, r)
		}
	}

	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u := <-w.updates:
			delete(w.waiting, u.id)
			if u.run != nil {
				if err := w.show(ctx, u.run); err != nil {
					return err
				}
			}
		case <-tick.C:
			page, err := w.list(ctx)
			if err != nil {
				return err
			}
			// Oldest first, so that new runs are printed in the order they
			// started.
			for i := len(page.Items) - 1; i >= 0; i-- {
				if err := w.show(ctx, page.Items[i]); err != nil {
					return err
				}
			}
		}
	}
}

// show prints a line for r when it is new or changed since its last line,
// and long-polls it while it is live.
func (w *runWatcher) show(ctx context.Context, r *client.Run) error {
	w.follow(ctx, r)
	sig := runSignature(r)
	if w.shown[r.ID] == sig {
		return nil
	}
	w.shown[r.ID] = sig
	return w.printRow(runRow(r, w.names.name(ctx, r.ActID), troupe.Now()))
}

// follow starts a long poll that reports r when it finishes, unless r is
// finished, already polled, or too many polls are under way.
func (w *runWatcher) follow(ctx context.Context, r *client.Run) {
	if r.Status.Terminal() || w.waiting[r.ID] || len(w.waiting) >= maxWatchWaits {
		return
	}
	w.waiting[r.ID] = true
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		res := waitResult{id: r.ID}
		if got, err := w.c.Run(r.ID).WaitForFinish(ctx, 0); err == nil {
			res.run = got
		}
		select {
		case w.updates <- res:
		case <-ctx.Done():
		}
	}()
}

// runSignature is what a line shows of a run that can change, other than
// its duration.
func runSignature(r *client.Run) string {
	return strings.Join([]string{string(r.Status), r.BuildNumber, deref(r.StatusMessage)}, "\x00")
}

// minRunWidths are the least widths of the columns of `runs watch`, so
// that the lines of runs that appear later mostly line up too: an id, an
// actor name, TIMING-OUT, a time, a duration, a build number.
var minRunWidths = []int{17, 16, 10, 19, 8, 8}

// columnWidths returns the width of each column but the last in rows, at
// least minRunWidths.
func columnWidths(rows [][]string) []int {
	widths := append([]int(nil), minRunWidths...)
	for _, row := range rows {
		for i, cell := range row[:len(row)-1] {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	return widths
}

// printRow prints cells in the table's columns; a cell wider than its
// column pushes the rest of its line to the right.
func (w *runWatcher) printRow(cells []string) error {
	var b strings.Builder
	for i, cell := range cells {
		b.WriteString(cell)
		if i < len(cells)-1 && i < len(w.widths) {
			b.WriteString(strings.Repeat(" ", max(w.widths[i]-utf8.RuneCountInString(cell), 0)+2))
		}
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w.out, b.String())
	return err
}
