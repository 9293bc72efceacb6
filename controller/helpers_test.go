package controller_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/controller"
	"github.com/troupehq/troupe/controller/controllertest"
	"github.com/troupehq/troupe/sqlite"
)

// The controller's timings in these tests (its defaults).
const (
	gracePeriod  = 30 * time.Second
	timeoutGrace = 5 * time.Second
	leaseTTL     = 10 * time.Second
	heartbeat    = 2 * time.Second
)

// bundle is what a controller test works with: a real SQLite store, a fake
// clock that only the test moves, the scripted executor and events hub, and
// an actor with one succeeded build.
type bundle struct {
	t     *testing.T
	store troupe.Store
	clock *clockwork.FakeClock
	exec  *controllertest.Executor
	// remote, when set, is the executor of b.controller (its processes
	// are also exec's).
	remote *controllertest.RemoteExecutor
	events *controllertest.Events
	actor  *troupe.Actor
	build  *troupe.Build
}

func setup(t *testing.T) *bundle {
	t.Helper()
	db, err := sqlite.Open(":memory:")
	must(t, err)
	t.Cleanup(func() { _ = db.Close() })
	b := &bundle{
		t: t, store: db,
		clock:  clockwork.NewFakeClockAt(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		exec:   controllertest.NewExecutor(),
		events: controllertest.NewEvents(),
	}
	b.actor, b.build = b.newActor("hello", "node", "main.js")
	return b
}

// newActor stores an actor and a succeeded build of it whose start command
// is command.
func (b *bundle) newActor(name string, command ...string) (*troupe.Actor, *troupe.Build) {
	b.t.Helper()
	ctx := b.t.Context()
	now := b.clock.Now()
	a := &troupe.Actor{
		ID: troupe.NewID(), UserID: "user1", Username: "alice", Name: name,
		CreatedAt: now, ModifiedAt: now,
		Versions:     []troupe.Version{{VersionNumber: "0.0", SourceType: troupe.SourceFolder, SourceDir: "/src", BuildTag: "latest"}},
		TaggedBuilds: map[string]*troupe.TaggedBuild{},
	}
	must(b.t, b.store.CreateActor(ctx, a))
	dir := b.t.TempDir()
	must(b.t, os.WriteFile(filepath.Join(dir, "main.js"), []byte("console.log('hi')\n"), 0o644))
	bld := &troupe.Build{
		ID: troupe.NewID(), ActID: a.ID, UserID: "user1", StartedAt: now,
		Status: troupe.StatusSucceeded, Meta: troupe.RunMeta{Origin: troupe.OriginAPI},
		ActorVersion: "0.0", Command: command, Dir: dir,
	}
	must(b.t, b.store.CreateBuild(ctx, bld))
	return a, bld
}

// controller starts a controller named instance on the bundle's store; it
// is stopped (killing its processes) when the test ends.
func (b *bundle) controller(instance string) *controller.Controller {
	b.t.Helper()
	c := b.newController(instance, b.store, b.executor())
	must(b.t, c.Start(b.t.Context()))
	b.t.Cleanup(func() { c.Stop(true) })
	return c
}

// executor is the executor of the bundle's controllers.
func (b *bundle) executor() troupe.Executor {
	if b.remote != nil {
		return b.remote
	}
	return b.exec
}

func (b *bundle) newController(instance string, st troupe.Store, ex troupe.Executor) *controller.Controller {
	return controller.New(b.config(instance, st, ex))
}

// config is the configuration newController uses.
func (b *bundle) config(instance string, st troupe.Store, ex troupe.Executor) controller.Config {
	return controller.Config{
		Store: st, Executor: ex, Events: b.events,
		PublicURL: "http://127.0.0.1:8700", RunTokenSecret: []byte("secret"), UserID: "user1",
		DataDir: b.t.TempDir(), Instance: instance, Clock: b.clock,
		BaseEnv: []string{"PATH=/usr/bin:/bin"},
	}
}

// createRun stores a READY run of the bundle's build made by troupe.NewRun,
// as the API does, and wakes c. Options not set have no timeout and 1024 MB.
func (b *bundle) createRun(c *controller.Controller, opts ...func(*troupe.StartOptions)) *troupe.Run {
	b.t.Helper()
	var o troupe.StartOptions
	for _, f := range opts {
		f(&o)
	}
	r, input, err := troupe.NewRun(troupe.NewRunParams{
		Actor: b.actor, Build: b.build, Options: o,
		Defaults: troupe.RunDefaults{MemoryMbytes: 1024},
		UserID:   "user1", Meta: troupe.RunMeta{Origin: troupe.OriginAPI},
		Input: []byte(`{"hello":"world"}`), ContentType: "application/json",
		Now: b.clock.Now(),
	})
	must(b.t, err)
	must(b.t, b.store.CreateRun(b.t.Context(), r, input))
	// As the API does, with the actor and build as the store has them.
	actor, err := b.store.GetActor(b.t.Context(), r.ActID)
	must(b.t, err)
	build, err := b.store.GetBuild(b.t.Context(), r.BuildID)
	must(b.t, err)
	c.WakeNew(r, actor, build)
	return r
}

// startRun creates a run and returns it once it is RUNNING, with its
// process.
func (b *bundle) startRun(c *controller.Controller, opts ...func(*troupe.StartOptions)) (*troupe.Run, *controllertest.Process) {
	b.t.Helper()
	r := b.createRun(c, opts...)
	p := b.nextProcess()
	r = b.waitStatus(r.ID, troupe.StatusRunning)
	if r.Control.PID != p.PID() {
		b.t.Fatalf("run records pid %d, process has %d", r.Control.PID, p.PID())
	}
	return r, p
}

// nextProcess returns the next process the executor starts.
func (b *bundle) nextProcess() *controllertest.Process {
	b.t.Helper()
	return controllertest.Receive(b.t, b.exec.Started(), "a process to start")
}

// change applies fn to the run in the store, as the API does, and wakes c.
func (b *bundle) change(c *controller.Controller, id string, fn func(r *troupe.Run, now time.Time) error) {
	b.t.Helper()
	_, err := b.store.UpdateRun(b.t.Context(), id, func(r *troupe.Run, _ troupe.StorageTx) error {
		return fn(r, b.clock.Now())
	})
	must(b.t, err)
	c.Wake(id)
}

// waitRun returns the run once cond holds for it, following the store's
// change notifications.
func (b *bundle) waitRun(id, what string, cond func(*troupe.Run) bool) *troupe.Run {
	b.t.Helper()
	ch, stop := b.store.Watch(id)
	defer stop()
	guard := time.NewTimer(controllertest.Guard)
	defer guard.Stop()
	for {
		r, err := b.store.GetRun(b.t.Context(), id)
		must(b.t, err)
		if cond(r) {
			return r
		}
		select {
		case <-ch:
		case <-guard.C:
			b.t.Fatalf("run never got %s; it is %s (%s)", what, r.Status, deref(r.StatusMessage))
		}
	}
}

func (b *bundle) waitStatus(id string, s troupe.Status) *troupe.Run {
	b.t.Helper()
	return b.waitRun(id, "status "+string(s), func(r *troupe.Run) bool { return r.Status == s })
}

// nextEvent returns the name of the next event sent to a run's process.
func (b *bundle) nextEvent(runID string) string {
	b.t.Helper()
	ev := controllertest.Receive(b.t, b.events.Sent(), "an event")
	if ev.RunID != runID {
		b.t.Fatalf("event %s went to run %s, want %s", ev.Name, ev.RunID, runID)
	}
	return ev.Name
}

// readLog returns the run's whole log.
func (b *bundle) readLog(id string) string {
	b.t.Helper()
	text, _, err := b.store.ReadLog(b.t.Context(), id, 0)
	must(b.t, err)
	return string(text)
}

// wantLog fails unless the run's log has a line that contains want.
func (b *bundle) wantLog(id, want string) {
	b.t.Helper()
	if log := b.readLog(id); !strings.Contains(log, want) {
		b.t.Errorf("log lacks %q:\n%s", want, log)
	}
}

// wantEnd checks how a finished run ended.
func wantEnd(t *testing.T, r *troupe.Run, status troupe.Status, exitCode *int, msg string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status = %s, want %s", r.Status, status)
	}
	if got, want := fmtCode(r.ExitCode), fmtCode(exitCode); got != want {
		t.Errorf("exit code = %s, want %s", got, want)
	}
	if got := deref(r.StatusMessage); got != msg {
		t.Errorf("status message = %q, want %q", got, msg)
	}
	if r.FinishedAt == nil {
		t.Error("finishedAt not set")
	}
	if r.Control.Owner != "" || r.Control.PID != 0 {
		t.Errorf("finished run keeps owner %q pid %d", r.Control.Owner, r.Control.PID)
	}
}

func fmtCode(c *int) string {
	if c == nil {
		return "none"
	}
	return strconv.Itoa(*c)
}

func code(i int) *int { return &i }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }
