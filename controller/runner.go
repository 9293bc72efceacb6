package controller

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/troupehq/troupe"
)

// runner owns one run while it is live: at most one process, replaced when
// the run's generation moves on, stopped on abort and timeout.
type runner struct {
	c      *Controller
	id     string
	wakeCh chan struct{}
	sink   *logSink

	// proc and procGen are only touched by the loop goroutine, except
	// through the mutex-guarded copies read by stats and killNow.
	proc     troupe.Process
	procGen  int
	memBytes int64

	// signaled remembers for which status and generation the aborting
	// events were already sent.
	signaled string
	// latest is the run as this runner's own last update left it; the next
	// pass of the loop uses it instead of reading the run again.
	latest *troupe.Run

	// killAt is when a timing-out or gracefully aborting process is killed;
	// killed says the current process was already sent the kill.
	killAt time.Time
	killed bool

	// mu guards the copies of proc and memBytes that other goroutines read.
	mu      sync.Mutex
	shared  troupe.Process
	sharedM int64
}

func newRunner(c *Controller, id string) *runner {
	r := &runner{c: c, id: id, wakeCh: make(chan struct{}, 1)}
	r.sink = newLogSink(c.ctx, c.cfg.Store, id, c.log)
	return r
}

func (r *runner) wake() {
	select {
	case r.wakeCh <- struct{}{}:
	default:
	}
}

// wokenAfterExit reports whether a wake arrived that the loop did not see.
func (r *runner) wokenAfterExit() bool { return len(r.wakeCh) > 0 }

func (r *runner) setShared(p troupe.Process, mem int64) {
	r.mu.Lock()
	r.shared, r.sharedM = p, mem
	r.mu.Unlock()
}

func (r *runner) getShared() (troupe.Process, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.shared, r.sharedM
}

func (r *runner) stats() (troupe.ProcessStats, bool) {
	p, _ := r.getShared()
	if p == nil {
		return troupe.ProcessStats{}, false
	}
	return p.Stats(), true
}

func (r *runner) memoryLimit() int64 {
	_, m := r.getShared()
	return m
}

func (r *runner) killNow() {
	if p, _ := r.getShared(); p != nil {
		_ = p.Kill()
	}
}

func (r *runner) loop() {
	ctx := r.c.ctx
	defer r.sink.close()
	// Changes made through other instances (an abort sent to another
	// replica's API, say) arrive as store notifications.
	changed, stopWatch := r.c.cfg.Store.Watch(r.id)
	defer stopWatch()
	me := r.c.cfg.Instance
	for {
		if ctx.Err() != nil {
			return
		}
		run, err := r.latest, error(nil)
		r.latest = nil
		if run == nil {
			run, err = r.c.cfg.Store.GetRun(ctx, r.id)
		}
		if troupe.IsNotFound(err) {
			r.stopProc()
			r.c.cfg.Events.Forget(r.id)
			return
		}
		if err != nil {
			r.c.log.Error("read run", "run", r.id, "err", err)
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
		if owner := run.Control.Owner; owner != "" && owner != me {
			// Another instance runs it (it took the run over, or it was
			// never ours): make sure no process of ours is left.
			r.stopProc()
			return
		}
		if run.Control.Owner == "" && !run.Status.Terminal() && run.Status != troupe.StatusReady {
			if _, err := r.update(ctx, r.claim); err != nil {
				r.c.log.Error("claim run", "run", r.id, "err", err)
				if !sleepCtx(ctx, time.Second) {
					return
				}
			}
			continue
		}
		var deadline time.Time
		switch run.Status {
		case troupe.StatusReady, troupe.StatusRunning:
			if r.proc == nil || r.procGen != run.Control.Generation {
				if r.proc != nil {
					r.sink.system(fmt.Sprintf("Stopping the run's process (%s).", restartReason(run)))
				}
				r.stopProc()
				if err := r.startProc(ctx, run); err != nil {
					r.c.log.Error("start run process", "run", r.id, "err", err)
					r.sink.system("Could not start the run's process: " + troupe.ErrorMessage(err))
					r.finish(ctx, run.Control.Generation, func(run *troupe.Run, now time.Time) error {
						return run.Fail("Could not start the run's process: "+troupe.ErrorMessage(err), now)
					})
				}
				continue
			}
			if run.Control.TimeoutAt != nil {
				deadline = *run.Control.TimeoutAt
			}
		case troupe.StatusTimingOut, troupe.StatusAborting:
			if r.proc == nil {
				r.finish(ctx, run.Control.Generation, func(run *troupe.Run, now time.Time) error {
					return run.Fail(stopMessage(run.Status, ""), now)
				})
				continue
			}
			graceful := run.Status == troupe.StatusTimingOut || (run.Control.Abort != nil && run.Control.Abort.Graceful)
			if !graceful {
				r.kill("")
				break
			}
			key := fmt.Sprintf("%s/%d", run.Status, run.Control.Generation)
			if r.signaled != key {
				r.signaled = key
				r.c.cfg.Events.Send(r.id, "aborting", struct{}{})
				r.c.cfg.Events.Send(r.id, "persistState", map[string]bool{"isMigrating": false})
				if run.Status == troupe.StatusTimingOut {
					r.sink.system("The run timed out; it was told to stop and will be killed in " + r.c.cfg.TimeoutGrace.String() + ".")
					r.killAt = time.Now().Add(r.c.cfg.TimeoutGrace)
				} else {
					r.sink.system("The run is being aborted gracefully; it will be killed in " + r.c.cfg.GracePeriod.String() + " if it does not exit.")
					r.killAt = run.Control.Abort.RequestedAt.Add(r.c.cfg.GracePeriod)
				}
			}
			if !r.killed {
				deadline = r.killAt
			}
		default: // terminal
			r.stopProc()
			r.c.cfg.Events.Forget(r.id)
			_ = os.RemoveAll(r.c.runDir(r.id))
			return
		}

		var timer <-chan time.Time
		var t *time.Timer
		if !deadline.IsZero() {
			t = time.NewTimer(time.Until(deadline))
			timer = t.C
		}
		var done <-chan struct{}
		if r.proc != nil {
			done = r.proc.Done()
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wakeCh:
		case <-changed:
		case <-done:
			r.handleExit(ctx)
		case <-timer:
			r.onDeadline(ctx, run)
		}
		if t != nil {
			t.Stop()
		}
	}
}

// update applies fn to the run (see Controller.update) and keeps the
// result for the loop's next pass.
func (r *runner) update(ctx context.Context, fn troupe.RunMutation) (*troupe.Run, error) {
	run, err := r.c.update(ctx, r.id, fn)
	if err == nil {
		r.latest = run
	}
	return run, err
}

// claim makes this instance the owner of a live run nobody owns (one that
// was resurrected through any instance's API).
func (r *runner) claim(run *troupe.Run, _ troupe.StorageTx) error {
	if run.Control.Owner != "" || run.Status.Terminal() {
		return errNoChange
	}
	run.Control.Owner = r.c.cfg.Instance
	return nil
}

func (r *runner) onDeadline(ctx context.Context, run *troupe.Run) {
	switch run.Status {
	case troupe.StatusRunning:
		gen := run.Control.Generation
		_, err := r.update(ctx, func(run *troupe.Run, _ troupe.StorageTx) error {
			if run.Status != troupe.StatusRunning || run.Control.Generation != gen || run.Control.Owner != r.c.cfg.Instance ||
				run.Control.TimeoutAt == nil || r.c.cfg.Now().Before(*run.Control.TimeoutAt) {
				return errNoChange
			}
			return run.BeginTimeout()
		})
		if err != nil {
			r.c.log.Error("time out run", "run", r.id, "err", err)
		}
	default:
		r.kill("The grace period is over; killing the run's process.")
	}
}

// kill kills the current process once, noting why in the run's log.
func (r *runner) kill(why string) {
	if r.proc == nil || r.killed {
		return
	}
	r.killed = true
	if why != "" {
		r.sink.system(why)
	}
	_ = r.proc.Kill()
}

// handleExit turns the exit of the current process into the run's next
// state: a final status, or a restart with restartOnError.
func (r *runner) handleExit(ctx context.Context) {
	p, gen := r.proc, r.procGen
	exit, st := p.Exit(), p.Stats()
	r.proc, r.killed = nil, false
	r.setShared(nil, 0)
	r.sink.flush()
	r.finish(ctx, gen, func(run *troupe.Run, now time.Time) error {
		mergeStats(&run.Stats, st)
		switch {
		case exit.OutOfMemory:
			return run.Fail(fmt.Sprintf("The run went over its memory limit of %d MB and was killed.", run.Options.MemoryMbytes), now)
		case run.Status == troupe.StatusRunning && exit.Code != 0 && run.Options.RestartOnError &&
			run.Control.ErrorRestarts < r.c.cfg.MaxErrorRestarts:
			return run.Restart(false, fmt.Sprintf("Actor failed with exit code %d; troupe restarted it (restartOnError).", exit.Code), now)
		case exit.Signal != "":
			return run.Fail(stopMessage(run.Status, exit.Signal), now)
		}
		return run.Finish(exit.Code, now)
	})
}

// finish applies an end-of-process change, unless the run has moved on to a
// newer generation meanwhile (then the loop starts that one).
func (r *runner) finish(ctx context.Context, gen int, fn func(run *troupe.Run, now time.Time) error) {
	_, err := r.update(ctx, func(run *troupe.Run, _ troupe.StorageTx) error {
		unclaimed := run.Status == troupe.StatusReady && run.Control.Owner == ""
		if run.Control.Generation != gen || run.Status.Terminal() || (run.Control.Owner != r.c.cfg.Instance && !unclaimed) {
			return errNoChange
		}
		return fn(run, r.c.cfg.Now())
	})
	if err != nil {
		r.c.log.Error("finish run", "run", r.id, "err", err)
	}
}

func stopMessage(s troupe.Status, signal string) string {
	switch s {
	case troupe.StatusAborting:
		return "Run was aborted"
	case troupe.StatusTimingOut:
		return "Run timed out"
	}
	if signal != "" {
		return "Actor process was killed by signal " + signal
	}
	return "Actor process was lost"
}

func restartReason(run *troupe.Run) string {
	if n := len(run.Metamorphs); n > 0 && run.Metamorphs[n-1].InputKey == run.Control.InputKey &&
		run.Control.Generation > run.Control.StartedGeneration {
		return "metamorph"
	}
	return "restart"
}

// stopProc kills the current process, if any, and waits until it is gone.
func (r *runner) stopProc() {
	if r.proc == nil {
		return
	}
	_ = r.proc.Kill()
	<-r.proc.Done()
	r.proc, r.killed = nil, false
	r.setShared(nil, 0)
	r.sink.flush()
	r.c.cfg.Events.Forget(r.id)
}

func mergeStats(s *troupe.RunStats, p troupe.ProcessStats) {
	s.MemMaxBytes = max(s.MemMaxBytes, p.MemMaxBytes)
	s.MemCurrentBytes = p.MemCurrentBytes
	if p.MemAvgBytes > 0 {
		s.MemAvgBytes = p.MemAvgBytes
	}
	if p.CPUAvgUsage > 0 {
		s.CPUAvgUsage = p.CPUAvgUsage
	}
	s.CPUMaxUsage = max(s.CPUMaxUsage, p.CPUMaxUsage)
	s.CPUCurrentUsage = p.CPUCurrentUsage
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
