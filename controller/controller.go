// Package controller is the only code in troupe that starts and stops run
// processes. It reconciles what users asked for (recorded in the store by the
// API) with what is running: it starts READY runs, restarts a run's process on
// reboot, metamorph and resurrect, stops it on abort (at once or after the
// grace period) and on timeout, and turns a process's exit into the run's
// final status. Every status change is a compare-and-set in the store.
package controller

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/artifact"
	"github.com/troupehq/troupe/internal/npmstart"
)

// Events is the per-run events websocket hub.
type Events interface {
	// Send pushes an event to the run's process (queued until it connects).
	Send(runID, name string, data any) int
	// Forget drops the run's queued events and closes its connections.
	Forget(runID string)
}

// Config configures a Controller.
type Config struct {
	Store    troupe.Store
	Executor troupe.Executor
	Events   Events
	// PublicURL is the API's base URL as run processes reach it, without
	// "/v2" (e.g. http://127.0.0.1:8700).
	PublicURL string
	// RunTokenSecret signs the API tokens runs get.
	RunTokenSecret []byte
	UserID         string
	// DataDir holds the runs' working folders (DataDir/runs/RUNID).
	DataDir string
	// GracePeriod is how long a graceful abort waits before it kills the
	// process (default 30s); TimeoutGrace the same for a timeout (default 5s).
	GracePeriod  time.Duration
	TimeoutGrace time.Duration
	// MaxErrorRestarts bounds restarts of a run with restartOnError (default 3).
	MaxErrorRestarts int
	// Instance names this controller as a run's owner. It should stay the
	// same across restarts of one server (so that a restarted server takes
	// back its runs at once) and differ between replicas.
	Instance string
	// LeaseTTL is how long an instance may go without a heartbeat before the
	// others take over its runs (default 10s); HeartbeatInterval how often
	// this one sends its own and looks for runs to take over (default 2s).
	LeaseTTL          time.Duration
	HeartbeatInterval time.Duration
	// BaseEnv is added to every run's environment (e.g. PATH).
	BaseEnv []string
	// Proxy is the upstream HTTP proxy the operator hands runs through the
	// APIFY_PROXY_* variables (its host, port and password), or nil for
	// none. Either way APIFY_PROXY_STATUS_URL points at troupe's
	// /v2/proxy-status, so that the SDK's access check stays inside troupe.
	Proxy *url.URL
	// NPMScripts, when set, starts a build whose command is `npm start
	// --silent` (or `npm run --silent NAME`) by running the package.json
	// script directly, as npm would, where that is exactly equivalent (see
	// package npmstart); nil keeps every command as it is.
	NPMScripts *npmstart.Rewriter
	// RunWrites, when set, has the run updates under way per run id (the
	// API counts them): when a run's process ends, its end is recorded
	// after the updates the actor sent before exiting (its final status
	// message), waiting RunWriteWait at most.
	RunWrites RunWrites
	Logger    *slog.Logger
	// Clock is the controller's only source of time: timestamps, the grace
	// periods, timeouts, heartbeats and the lease (default: the real clock).
	// Tests pass a clockwork.FakeClock and advance it.
	Clock clockwork.Clock
}

// Controller runs the runs. Create it with New, then Start it.
type Controller struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	runners map[string]*runner
	started bool
	closed  bool
	// migrating is set by Migrate: no process starts any more, and every
	// live one is told to migrate. stopping is set by Stop before it kills
	// processes: their exits are not the runs' ends.
	migrating    bool
	migrationEnd time.Time
	stopping     bool
	// procGone is signalled whenever a runner's process is gone (Migrate
	// waits on it).
	procGone chan struct{}

	// unowned holds the live runs without an owner seen by the last scan
	// (only the maintain goroutine uses it).
	unowned map[string]int

	// artifacts holds the archives of builds made elsewhere, unpacked
	// (DataDir/artifacts/DIGEST).
	artifacts *artifact.Cache

	// finished keeps the runs this controller ended last (FinishedRun).
	finishedMu sync.Mutex
	finished   map[string]*troupe.Run

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a controller; it does nothing until Start.
func New(cfg Config) *Controller {
	if cfg.GracePeriod == 0 {
		cfg.GracePeriod = 30 * time.Second
	}
	if cfg.TimeoutGrace == 0 {
		cfg.TimeoutGrace = 5 * time.Second
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 2 * time.Second
	}
	if cfg.MaxErrorRestarts == 0 {
		cfg.MaxErrorRestarts = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.Instance == "" {
		h, _ := os.Hostname()
		cfg.Instance = h + "-" + troupe.NewID()[:6]
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Controller{cfg: cfg, log: cfg.Logger, runners: map[string]*runner{}, ctx: ctx, cancel: cancel,
		procGone:  make(chan struct{}, 1),
		artifacts: &artifact.Cache{Dir: filepath.Join(cfg.DataDir, "artifacts"), Store: cfg.Store}}
}

// Start registers this instance, takes back the runs it owned before a
// restart and starts controlling runs: READY runs are started; live runs
// whose process was lost are restarted with the same id and storages
// (stats.migrationCount) or, when their actor forbids restarts, end with a
// status message saying why. From then on it sends heartbeats and takes over
// the runs of instances that stopped sending theirs.
func (c *Controller) Start(ctx context.Context) error {
	now := c.now()
	if err := c.cfg.Store.Heartbeat(ctx, c.cfg.Instance, now); err != nil {
		return err
	}
	runs, err := c.cfg.Store.ActiveRuns(ctx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Control.Owner != c.cfg.Instance {
			continue // unowned runs and other instances' runs: see scan
		}
		if err := c.takeOver(ctx, r); err != nil {
			c.log.Error("recover run", "run", r.ID, "err", err)
		}
		c.Wake(r.ID)
	}
	c.scan(ctx, now)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.maintain()
	}()
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	return nil
}

// Running reports whether the controller controls runs: Start has
// succeeded and neither Migrate nor Stop has been called.
func (c *Controller) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.started && !c.closed && !c.migrating
}

// Migrate prepares this controller's runs for the server's stop, the way
// the Apify platform migrates a run to another machine: from now on no
// process starts (READY runs wait for the next start or another replica,
// and a run that asks for a restart, as the JS SDK does on migrating, gets
// it there), and every live process is sent the events migrating
// {"timeRemainingSecs"} and persistState {"isMigrating":true}. Migrate
// returns once every process has exited or grace has passed, whichever
// comes first; Stop(true) then kills the rest, and the next Start (or
// another replica, after the lease) restarts their runs with the same id
// and storages (stats.migrationCount).
func (c *Controller) Migrate(grace time.Duration) {
	c.mu.Lock()
	if c.closed || c.migrating {
		c.mu.Unlock()
		return
	}
	c.migrating = true
	c.migrationEnd = c.cfg.Clock.Now().Add(grace)
	for _, r := range c.runners {
		r.wake()
	}
	c.mu.Unlock()
	c.log.Info("telling runs to migrate before the server stops", "grace", grace.String())
	timer := c.cfg.Clock.NewTimer(grace)
	defer timer.Stop()
	for c.liveProcesses() > 0 {
		select {
		case <-timer.Chan():
			c.log.Info("migration grace period over; stopping the remaining runs", "runs", c.liveProcesses())
			return
		case <-c.procGone:
		}
	}
}

// isMigrating reports whether Migrate was called, and when its grace ends.
func (c *Controller) isMigrating() (bool, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.migrating, c.migrationEnd
}

// isStopping reports whether Stop is killing the processes.
func (c *Controller) isStopping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopping
}

// liveProcesses counts the runners that have a process.
func (c *Controller) liveProcesses() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.runners {
		if p, _ := r.getShared(); p != nil {
			n++
		}
	}
	return n
}

// signalProcGone wakes Migrate to count the live processes again.
func (c *Controller) signalProcGone() {
	select {
	case c.procGone <- struct{}{}:
	default:
	}
}

// maintain sends heartbeats and takes over runs of dead instances until the
// controller stops.
func (c *Controller) maintain() {
	t := c.cfg.Clock.NewTicker(c.cfg.HeartbeatInterval)
	defer t.Stop()
	lastBeat := c.now()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.Chan():
		}
		now := c.now()
		if err := c.cfg.Store.Heartbeat(c.ctx, c.cfg.Instance, now); err != nil {
			c.log.Error("heartbeat", "err", err)
			if c.cfg.Clock.Since(lastBeat) > c.cfg.LeaseTTL {
				// Others may take over our runs now: never run them twice.
				c.log.Error("no heartbeat for longer than the lease; killing this instance's run processes")
				c.killAll()
			}
			continue
		}
		lastBeat = now
		if m, _ := c.isMigrating(); !m {
			c.scan(c.ctx, now) // a migrating instance takes on no runs
		}
	}
}

// scan looks at every live run and wakes those this instance should run:
// its own, those nobody claimed in time, and those of dead instances (which
// it takes over first). now is the time of this instance's heartbeat; an
// instance is dead when its own is older by more than the lease.
func (c *Controller) scan(ctx context.Context, now time.Time) {
	insts, err := c.cfg.Store.Instances(ctx)
	if err != nil {
		c.log.Error("list instances", "err", err)
		return
	}
	runs, err := c.cfg.Store.ActiveRuns(ctx)
	if err != nil {
		c.log.Error("list live runs", "err", err)
		return
	}
	unowned := map[string]int{}
	defer func() { c.unowned = unowned }()
	for _, r := range runs {
		switch owner := r.Control.Owner; {
		case owner == c.cfg.Instance:
			if !c.running(r.ID) {
				c.Wake(r.ID)
			}
		case owner == "":
			// Accepted (or resurrected) by an instance that has not claimed
			// it yet: that one has until the next scan to do so.
			if gen, ok := c.unowned[r.ID]; ok && gen == r.Control.Generation {
				c.Wake(r.ID)
			}
			unowned[r.ID] = r.Control.Generation
		default:
			if beat, ok := insts[owner]; ok && now.Sub(beat) <= c.cfg.LeaseTTL {
				continue
			}
			if err := c.takeOver(ctx, r); err != nil {
				c.log.Error("take over run", "run", r.ID, "from", owner, "err", err)
				continue
			}
			c.Wake(r.ID)
		}
	}
}

func (c *Controller) running(runID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.runners[runID]
	return ok
}

// takeOver claims a live run whose owner (this instance before a restart,
// or a dead one) lost its process: the process group is killed if it is
// still around, and the run is restarted (a migration) or ended. With a
// troupe.RemoteExecutor, whose processes outlive their server, the run is
// only claimed: its runner adopts the process, or applies these rules when
// there is none (runner.adopt).
func (c *Controller) takeOver(ctx context.Context, r *troupe.Run) error {
	old := r.Control.Owner
	_, remote := c.cfg.Executor.(troupe.RemoteExecutor)
	if r.Control.PID != 0 && !remote {
		if err := c.cfg.Executor.KillOrphan(r.Control.PID, r.Control.PIDStartTime); err != nil {
			c.log.Warn("kill orphan", "run", r.ID, "pid", r.Control.PID, "err", err)
		}
	}
	forbid := c.restartsForbidden(ctx, r.ActID)
	_, err := c.update(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		if r.Control.Owner != old || r.Status.Terminal() {
			return errNoChange // another instance got there first
		}
		if remote && r.Control.Owner == c.cfg.Instance {
			return errNoChange
		}
		r.Control.Owner = c.cfg.Instance
		if remote || r.Status == troupe.StatusReady {
			return nil
		}
		return lostWithServer(r, forbid, c.now())
	})
	return err
}

// lostWithServer restarts (a migration) or ends a live run whose process
// was lost when its troupe server stopped, as its status and actor say.
func lostWithServer(r *troupe.Run, forbid bool, now time.Time) error {
	switch {
	case r.Status == troupe.StatusRunning && !forbid:
		return r.Restart(true, "The run's process was lost when its troupe server stopped; troupe restarted it (migration).", now)
	case r.Status == troupe.StatusRunning:
		return r.Fail("The run's process was lost when its troupe server stopped, and its actor does not allow restarts.", now)
	case r.Status == troupe.StatusAborting:
		return r.Fail("Run was aborted; its troupe server stopped while the abort was in progress.", now)
	case r.Status == troupe.StatusTimingOut:
		return r.Fail("Run timed out; its troupe server stopped while it was timing out.", now)
	}
	return errNoChange
}

// restartsForbidden reports whether the actor forbids restarts of its runs
// (false when it cannot be read).
func (c *Controller) restartsForbidden(ctx context.Context, actID string) bool {
	a, err := c.cfg.Store.GetActor(ctx, actID)
	return err == nil && a.RestartsForbidden
}

func (c *Controller) killAll() {
	c.mu.Lock()
	rs := make([]*runner, 0, len(c.runners))
	for _, r := range c.runners {
		rs = append(rs, r)
	}
	c.mu.Unlock()
	for _, r := range rs {
		r.killNow()
	}
}

// Stop stops controlling runs. With kill set it kills every process it runs
// (their runs stay live in the store and are restarted by the next Start);
// otherwise processes are left to die with the server. After Migrate, Stop
// with kill waits until the processes are gone and then gives up this
// instance's lease, so that other replicas take its runs over at their next
// scan instead of after the lease.
func (c *Controller) Stop(kill bool) {
	c.mu.Lock()
	c.closed, c.stopping = true, kill
	migrating := c.migrating
	procs := make([]troupe.Process, 0, len(c.runners))
	for _, r := range c.runners {
		if p, _ := r.getShared(); p != nil {
			procs = append(procs, p)
		}
	}
	c.mu.Unlock()
	if kill {
		c.killAll()
	}
	c.cancel()
	c.wg.Wait()
	if !kill || !migrating {
		return
	}
	for _, p := range procs {
		<-p.Done()
	}
	// A heartbeat at the zero time reads as long dead.
	if err := c.cfg.Store.Heartbeat(context.Background(), c.cfg.Instance, time.Unix(0, 0).UTC()); err != nil {
		c.log.Warn("give up the lease", "err", err)
	}
}

// Wake tells the controller that the run's desired state may have changed.
func (c *Controller) Wake(runID string) { c.wake(runID, nil) }

// WakeNew is Wake for a run just created, as the store has it (version 1),
// from the actor and build it was created with: its runner starts from
// them instead of reading them back, unless the run's version has moved on
// meanwhile (a later generation reads its actor and build again). It keeps
// copies of the three structs, not of what they point to: the caller may
// go on setting their fields (as the API's view of a run does), but not
// change the maps, slices and values they point to.
func (c *Controller) WakeNew(run *troupe.Run, actor *troupe.Actor, build *troupe.Build) {
	rc, ac, bc := *run, *actor, *build
	c.wake(run.ID, &runner{known: &rc, firstActor: &ac, firstBuild: &bc})
}

func (c *Controller) wake(runID string, hint *runner) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if r, ok := c.runners[runID]; ok {
		r.wake()
		return
	}
	r := newRunner(c, runID)
	if hint != nil {
		r.known, r.firstActor, r.firstBuild = hint.known, hint.firstActor, hint.firstBuild
	}
	c.runners[runID] = r
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		r.loop()
		c.mu.Lock()
		delete(c.runners, runID)
		again := r.wokenAfterExit()
		c.mu.Unlock()
		if again {
			c.Wake(runID)
		}
	}()
}

// Stats returns the latest resource sample of a run this controller runs.
func (c *Controller) Stats(runID string) (troupe.ProcessStats, bool) {
	c.mu.Lock()
	r, ok := c.runners[runID]
	c.mu.Unlock()
	if !ok {
		return troupe.ProcessStats{}, false
	}
	return r.stats()
}

// MemoryLimit returns the memory limit in bytes of a run this controller
// runs (0 when unknown).
func (c *Controller) MemoryLimit(runID string) int64 {
	c.mu.Lock()
	r, ok := c.runners[runID]
	c.mu.Unlock()
	if !ok {
		return 0
	}
	return r.memoryLimit()
}

var errNoChange = errors.New("no change")

// update applies fn to the run, retrying on compare-and-set conflicts. fn
// returning errNoChange leaves the run as it is and returns it.
func (c *Controller) update(ctx context.Context, id string, fn troupe.RunMutation) (*troupe.Run, error) {
	for attempt := 0; ; attempt++ {
		r, err := c.cfg.Store.UpdateRun(ctx, id, fn)
		if errors.Is(err, errNoChange) {
			return c.cfg.Store.GetRun(ctx, id)
		}
		if troupe.ErrorType(err) == troupe.ErrConflict && attempt < 20 {
			continue
		}
		return r, err
	}
}

// updateFrom is update for a caller that holds the run at base.Version
// (troupe.RunStore.UpdateRunFrom): the store reads the run only when it
// has moved on since.
func (c *Controller) updateFrom(ctx context.Context, base *troupe.Run, fn troupe.RunMutation) (*troupe.Run, error) {
	r, err := c.cfg.Store.UpdateRunFrom(ctx, base, fn)
	switch {
	case errors.Is(err, errNoChange):
		return c.cfg.Store.GetRun(ctx, base.ID)
	case troupe.ErrorType(err) == troupe.ErrConflict:
		return c.update(ctx, base.ID, fn)
	}
	return r, err
}

// maxFinished bounds the runs FinishedRun keeps: a client waiting for a
// run asks for it right after it ends.
const maxFinished = 256

// keepFinished keeps run, which this controller has just written with a
// terminal status, for FinishedRun.
func (c *Controller) keepFinished(run *troupe.Run) {
	c.finishedMu.Lock()
	defer c.finishedMu.Unlock()
	if c.finished == nil || len(c.finished) >= maxFinished {
		c.finished = make(map[string]*troupe.Run, maxFinished)
	}
	c.finished[run.ID] = run
}

// FinishedRun returns the run id as this controller wrote it when it ended
// the run, if that was recently, as a copy whose fields the caller may set
// (not what they point to). The caller checks that its Version is still
// the stored one: the run may have changed since (a status message, a
// resurrection).
func (c *Controller) FinishedRun(id string) (*troupe.Run, bool) {
	c.finishedMu.Lock()
	r, ok := c.finished[id]
	c.finishedMu.Unlock()
	if !ok {
		return nil, false
	}
	cp := *r
	return &cp, true
}

// now is the controller's clock reading as the store keeps times: UTC,
// to the millisecond.
func (c *Controller) now() time.Time {
	return c.cfg.Clock.Now().UTC().Truncate(time.Millisecond)
}

func (c *Controller) runDir(runID string) string {
	return filepath.Join(c.cfg.DataDir, "runs", runID)
}

// RunWrites waits for the writes to a run that are under way
// (*inflight.Tracker).
type RunWrites interface {
	Wait(ctx context.Context, runID string, max time.Duration)
}

// RunWriteWait bounds how long a run's end waits for its own updates under
// way (Config.RunWrites), in real time.
const RunWriteWait = 2 * time.Second
