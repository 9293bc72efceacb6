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
	// events were already sent; migrated, that the migrating ones were.
	signaled string
	migrated bool
	// known is the run as this runner last read or updated it; fresh says
	// it comes from this runner's own last update, so the loop's next pass
	// uses it as it is. Otherwise the next pass reads only the run's
	// version, and the whole run only when that has moved on: most changes
	// a runner is told of are its own updates.
	known *troupe.Run
	fresh bool
	// firstActor and firstBuild are the actor and build a new run was
	// created with (WakeNew), for the start of its first process only.
	firstActor *troupe.Actor
	firstBuild *troupe.Build

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
	r.sink = newLogSink(c.ctx, c.cfg.Store, id, c.log, c.cfg.Clock)
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
	if p == nil {
		r.c.signalProcGone()
	}
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

// loop reconciles the run with its process until the run is over, deleted
// or run by another instance, or the controller stops. Each pass reads the
// run, takes the step its status calls for (step), and then waits for what
// happens next (await): a wake, a change in the store, the exit of the
// process, or a deadline.
func (r *runner) loop() {
	ctx := r.c.ctx
	defer r.sink.close()
	// Changes made through other instances (an abort sent to another
	// replica's API, say) arrive as store notifications.
	changed, stopWatch := r.c.cfg.Store.Watch(r.id)
	defer stopWatch()
	for ctx.Err() == nil {
		run, err := r.read(ctx)
		if troupe.IsNotFound(err) {
			r.stopProc()
			r.c.cfg.Events.Forget(r.id)
			return
		}
		if err != nil {
			r.c.log.Error("read run", "run", r.id, "err", err)
			r.pause(ctx)
			continue
		}
		next, deadline := r.step(ctx, run)
		switch next {
		case stopRunner:
			return
		case readAgain:
			continue
		}
		r.await(ctx, run, deadline, changed)
	}
}

// next says what the loop does after a step.
type next int

const (
	waitForEvent next = iota // wait for a wake, a change, an exit or the deadline
	readAgain                // the run changed: read it and step again at once
	stopRunner               // nothing is left for this runner to do
)

// read returns the run as this runner's own last update left it, or else
// as the store has it (known, when its version is still the store's).
func (r *runner) read(ctx context.Context) (*troupe.Run, error) {
	if r.fresh {
		r.fresh = false
		return r.known, nil
	}
	if r.known != nil {
		if v, err := r.c.cfg.Store.RunVersion(ctx, r.id); err == nil && v == r.known.Version {
			return r.known, nil
		}
	}
	run, err := r.c.cfg.Store.GetRun(ctx, r.id)
	if err == nil {
		r.known = run
	}
	return run, err
}

// step takes the one step the run's owner and status call for and says what
// the loop does next; deadline, when not zero, is when await gives up
// waiting and calls onDeadline.
func (r *runner) step(ctx context.Context, run *troupe.Run) (n next, deadline time.Time) {
	switch owner := run.Control.Owner; {
	case owner != "" && owner != r.c.cfg.Instance:
		// Another instance runs it (it took the run over, or it was never
		// ours): make sure no process of ours is left.
		r.stopProc()
		return stopRunner, time.Time{}
	case owner == "" && !run.Status.Terminal() && run.Status != troupe.StatusReady:
		r.claimRun(ctx)
		return readAgain, time.Time{}
	}
	switch run.Status {
	case troupe.StatusReady, troupe.StatusRunning:
		return r.stepLive(ctx, run)
	case troupe.StatusTimingOut, troupe.StatusAborting:
		return r.stepStopping(ctx, run)
	}
	r.stepFinished()
	return stopRunner, time.Time{}
}

// stepLive gives a READY or RUNNING run the process of its current
// generation (replacing that of an earlier one); once it has it, the loop
// waits, until the run's timeout if it has one.
func (r *runner) stepLive(ctx context.Context, run *troupe.Run) (next, time.Time) {
	if m, _ := r.c.isMigrating(); m {
		return r.stepMigrating(run)
	}
	if r.mustAdopt(run) {
		r.adopt(ctx, run)
		return readAgain, time.Time{}
	}
	if r.proc == nil || r.procGen != run.Control.Generation {
		r.replaceProc(ctx, run)
		return readAgain, time.Time{}
	}
	if run.Control.TimeoutAt != nil {
		return waitForEvent, *run.Control.TimeoutAt
	}
	return waitForEvent, time.Time{}
}

// stepMigrating handles a READY or RUNNING run while the server migrates
// its runs away (Controller.Migrate): no process starts; a process of an
// earlier generation (its run asked for a restart) is stopped, and the
// current one is told once to migrate. The run stays as it is in the
// store, for the next start or another replica.
func (r *runner) stepMigrating(run *troupe.Run) (next, time.Time) {
	switch {
	case r.proc != nil && r.procGen != run.Control.Generation:
		r.sink.system("Stopping the run's process (restart); the run continues when troupe starts again.")
		r.stopProc()
	case r.proc != nil && !r.migrated:
		r.migrated = true
		_, end := r.c.isMigrating()
		left := max(0, int(r.c.cfg.Clock.Until(end).Round(time.Second)/time.Second))
		r.sink.system(fmt.Sprintf("troupe is stopping: the run was told to migrate; it will be stopped in %ds "+
			"unless it exits, and continue with its storages when troupe starts again.", left))
		r.c.cfg.Events.Send(r.id, "migrating", map[string]int{"timeRemainingSecs": left})
		r.c.cfg.Events.Send(r.id, "persistState", map[string]bool{"isMigrating": true})
	}
	if r.proc != nil && run.Control.TimeoutAt != nil {
		return waitForEvent, *run.Control.TimeoutAt
	}
	return waitForEvent, time.Time{}
}

// stepStopping stops the process of an ABORTING or TIMING-OUT run: at once
// for an immediate abort, or after telling the process to stop and giving
// it its grace period. A run that has no process left ends.
func (r *runner) stepStopping(ctx context.Context, run *troupe.Run) (next, time.Time) {
	if r.mustAdopt(run) {
		r.adopt(ctx, run)
		return readAgain, time.Time{}
	}
	if r.proc == nil {
		r.finish(ctx, run.Control.Generation, func(run *troupe.Run, now time.Time) error {
			return run.Fail(stopMessage(run.Status, ""), now)
		})
		return readAgain, time.Time{}
	}
	graceful := run.Status == troupe.StatusTimingOut || (run.Control.Abort != nil && run.Control.Abort.Graceful)
	if !graceful {
		r.kill("")
		return waitForEvent, time.Time{}
	}
	r.announceStop(run)
	if r.killed {
		return waitForEvent, time.Time{}
	}
	return waitForEvent, r.killAt
}

// announceStop, once per status and generation, sets when the process of a
// gracefully stopping run is killed, says so in the run's log and sends the
// process the events that tell it to stop.
func (r *runner) announceStop(run *troupe.Run) {
	key := fmt.Sprintf("%s/%d", run.Status, run.Control.Generation)
	if r.signaled == key {
		return
	}
	r.signaled = key
	if run.Status == troupe.StatusTimingOut {
		r.killAt = r.c.cfg.Clock.Now().Add(r.c.cfg.TimeoutGrace)
		r.sink.system("The run timed out; it was told to stop and will be killed in " + r.c.cfg.TimeoutGrace.String() + ".")
	} else {
		r.killAt = run.Control.Abort.RequestedAt.Add(r.c.cfg.GracePeriod)
		r.sink.system("The run is being aborted gracefully; it will be killed in " + r.c.cfg.GracePeriod.String() + " if it does not exit.")
	}
	r.c.cfg.Events.Send(r.id, "aborting", struct{}{})
	r.c.cfg.Events.Send(r.id, "persistState", map[string]bool{"isMigrating": false})
}

// stepFinished cleans up after a finished run: its process, its events and
// its working folder.
func (r *runner) stepFinished() {
	r.stopProc()
	r.c.cfg.Events.Forget(r.id)
	_ = os.RemoveAll(r.c.runDir(r.id))
}

// await waits for the next thing that concerns the run and handles it: the
// exit of the process (handleExit), the deadline (onDeadline), or a wake or
// a change in the store (handled by the loop's next pass).
func (r *runner) await(ctx context.Context, run *troupe.Run, deadline time.Time, changed <-chan struct{}) {
	var timer <-chan time.Time
	if !deadline.IsZero() {
		t := r.c.cfg.Clock.NewTimer(r.c.cfg.Clock.Until(deadline))
		defer t.Stop()
		timer = t.Chan()
	}
	var done <-chan struct{}
	if r.proc != nil {
		done = r.proc.Done()
	}
	select {
	case <-ctx.Done():
	case <-r.wakeCh:
	case <-changed:
	case <-done:
		r.handleExit(ctx)
	case <-timer:
		r.onDeadline(ctx, run)
	}
}

// replaceProc stops the process of an earlier generation, if any, and starts
// that of the run's current one. A process that cannot start fails the run.
func (r *runner) replaceProc(ctx context.Context, run *troupe.Run) {
	if r.proc != nil {
		r.sink.system(fmt.Sprintf("Stopping the run's process (%s).", restartReason(run)))
	}
	r.stopProc()
	err := r.startProc(ctx, run)
	if err == nil || ctx.Err() != nil {
		return // when the controller stops, the next start runs the run
	}
	r.c.log.Error("start run process", "run", r.id, "err", err)
	msg := "Could not start the run's process: " + startFailure(err)
	r.sink.system(msg)
	r.sink.flush()
	r.finish(ctx, run.Control.Generation, func(run *troupe.Run, now time.Time) error {
		return run.Fail(msg, now)
	})
}

// pause waits a second (after a store error, so as not to spin) or until
// the controller stops.
func (r *runner) pause(ctx context.Context) {
	t := r.c.cfg.Clock.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.Chan():
	}
}

// update applies fn to the run (see Controller.update), starting from the
// run as the runner knows it while that is still the stored version
// (Controller.updateFrom), and keeps the result for the loop's next pass.
func (r *runner) update(ctx context.Context, fn troupe.RunMutation) (*troupe.Run, error) {
	var run *troupe.Run
	var err error
	if r.known != nil {
		run, err = r.c.updateFrom(ctx, r.known, fn)
	} else {
		run, err = r.c.update(ctx, r.id, fn)
	}
	if err == nil {
		r.known, r.fresh = run, true
		if run.Status.Terminal() {
			r.c.keepFinished(run)
		}
	}
	return run, err
}

// claimRun makes this instance the owner of the run (see claim).
func (r *runner) claimRun(ctx context.Context) {
	if _, err := r.update(ctx, r.claim); err != nil {
		r.c.log.Error("claim run", "run", r.id, "err", err)
		r.pause(ctx)
	}
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
				run.Control.TimeoutAt == nil || r.c.now().Before(*run.Control.TimeoutAt) {
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
	r.sink.flush()
	// The process counts as live (Migrate waits for it) until its end is
	// recorded.
	defer r.setShared(nil, 0)
	if r.c.isStopping() {
		return // killed by Stop: the run goes on at the next start
	}
	forbid := false
	if exit.Lost {
		if run, err := r.c.cfg.Store.GetRun(ctx, r.id); err == nil {
			forbid = r.c.restartsForbidden(ctx, run.ActID)
		}
	}
	if exit.Failure != "" {
		r.sink.system(exit.Failure)
		r.sink.flush()
	}
	if w := r.c.cfg.RunWrites; w != nil {
		w.Wait(ctx, r.id, RunWriteWait)
	}
	r.finish(ctx, gen, func(run *troupe.Run, now time.Time) error {
		mergeStats(&run.Stats, st)
		switch {
		case exit.Failure != "":
			return run.Fail(exit.Failure, now)
		case exit.Lost && run.Status == troupe.StatusRunning && !forbid:
			return run.Restart(true, podLost+"; troupe restarted it (migration).", now)
		case exit.Lost && run.Status == troupe.StatusRunning:
			return run.Fail(podLost+", and its actor does not allow restarts.", now)
		case exit.Lost:
			return run.Fail(stopMessage(run.Status, ""), now)
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

// podLost starts the status message of a run whose process vanished
// without troupe stopping it (troupe.ExitStatus.Lost).
const podLost = "The run's process was lost with the machine or pod it ran in (deleted, evicted, node gone)"

// mustAdopt reports whether the runner has to adopt the process of the
// run's current generation: the executor is remote, the runner has no
// process, and one was started for this generation (by an earlier server,
// or a replica whose run this one took over).
func (r *runner) mustAdopt(run *troupe.Run) bool {
	_, remote := r.c.cfg.Executor.(troupe.RemoteExecutor)
	return remote && r.proc == nil && run.Status != troupe.StatusReady &&
		run.Control.StartedGeneration > 0 && run.Control.StartedGeneration == run.Control.Generation
}

// adopt takes over the still running (or since ended) process of the run's
// current generation from the remote executor, its output resuming after
// the outputs of that process the run's log holds (the log's last mark,
// stored with the lines it counts), so that no process starts twice and no
// line is lost or stored twice. Without one, the run is restarted or ended
// as one whose server stopped (lostWithServer).
func (r *runner) adopt(ctx context.Context, run *troupe.Run) {
	remote := r.c.cfg.Executor.(troupe.RemoteExecutor)
	gen := run.Control.Generation
	mark, err := r.c.cfg.Store.LastLogMark(ctx, r.id)
	if err != nil {
		r.c.log.Error("read run log mark before adopting its process", "run", r.id, "err", err)
		r.pause(ctx)
		return
	}
	if mark.Generation != gen {
		mark = troupe.LogMark{Generation: gen} // nothing of this process is stored
	}
	r.sink.resume(mark)
	p, err := remote.Adopt(ctx, &troupe.ExecSpec{RunID: r.id, Generation: gen,
		MemoryMbytes: run.Options.MemoryMbytes, Output: r.sink.output(gen)}, mark.Lines)
	if err != nil {
		r.c.log.Error("adopt run process", "run", r.id, "err", err)
		r.pause(ctx)
		return
	}
	if p != nil {
		r.c.log.Info("adopted the run's process", "run", r.id, "generation", gen, "outputsStored", mark.Lines)
		r.proc, r.procGen = p, gen
		r.memBytes = int64(run.Options.MemoryMbytes) << 20
		r.setShared(p, r.memBytes)
		r.sink.system(fmt.Sprintf("troupe instance %s took over the run and follows its process, which goes on running.", r.c.cfg.Instance))
		return
	}
	forbid := r.c.restartsForbidden(ctx, run.ActID)
	r.finish(ctx, gen, func(run *troupe.Run, now time.Time) error {
		return lostWithServer(run, forbid, now)
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
		return fn(run, r.c.now())
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
