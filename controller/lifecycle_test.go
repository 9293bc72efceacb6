package controller_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/controller/controllertest"
)

func TestStartAndExit(t *testing.T) {
	t.Parallel()
	t.Run("ExitZeroSucceeds", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.controller("a")
		r, p := b.startRun(c)
		if r.Control.Owner != "a" || r.ContainerURL == "" {
			t.Errorf("running run: owner %q, containerUrl %q", r.Control.Owner, r.ContainerURL)
		}
		if got, want := p.Spec.Command, b.build.Command; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("command = %q, want %q", got, want)
		}
		for name, want := range map[string]string{
			"ACTOR_RUN_ID": r.ID, "ACTOR_ID": b.actor.ID, "ACTOR_BUILD_ID": b.build.ID,
			"ACTOR_INPUT_KEY": "INPUT", "ACTOR_DEFAULT_DATASET_ID": r.DefaultDatasetID, "PATH": "/usr/bin:/bin",
			"ACTOR_PERMISSION_LEVEL": "LIMITED_PERMISSIONS",
		} {
			if got := p.Env(name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if p.Env("APIFY_TOKEN") == "" {
			t.Error("no APIFY_TOKEN")
		}
		// The working folder links to the build's files.
		link, err := os.Readlink(filepath.Join(p.Spec.Dir, "main.js"))
		must(t, err)
		if want := filepath.Join(b.build.Dir, "main.js"); link != want {
			t.Errorf("main.js links to %s, want %s", link, want)
		}

		p.Print("hello from the actor")
		p.SetStats(troupe.ProcessStats{MemMaxBytes: 50 << 20, CPUMaxUsage: 80})
		if st, ok := c.Stats(r.ID); !ok || st.MemMaxBytes != 50<<20 {
			t.Errorf("Stats = %+v, %v; want the process's sample", st, ok)
		}
		if got := c.MemoryLimit(r.ID); got != 1024<<20 {
			t.Errorf("MemoryLimit = %d, want 1 GiB", got)
		}
		b.clock.Advance(1500 * time.Millisecond)
		p.ExitCode(0)
		r = b.waitStatus(r.ID, troupe.StatusSucceeded)
		wantEnd(t, r, troupe.StatusSucceeded, code(0), "Actor finished with exit code 0")
		if r.Stats.MemMaxBytes != 50<<20 || r.Stats.CPUMaxUsage != 80 {
			t.Errorf("stats = %+v, want the process's figures", r.Stats)
		}
		if r.Stats.DurationMillis != 1500 {
			t.Errorf("durationMillis = %d, want 1500 (by the controller's clock)", r.Stats.DurationMillis)
		}
		b.wantLog(r.ID, "hello from the actor")
		// The controller keeps the run as it ended it, for the API's
		// waits; each caller gets a copy of its own.
		kept, ok := c.FinishedRun(r.ID)
		if !ok {
			t.Fatal("FinishedRun: the run just ended is not kept")
		}
		if kept.Version != r.Version || kept.Status != troupe.StatusSucceeded || !reflect.DeepEqual(kept.Stats, r.Stats) {
			t.Errorf("FinishedRun = version %d, %s, %+v; want the stored version %d, %+v", kept.Version, kept.Status, kept.Stats, r.Version, r.Stats)
		}
		kept.Status = troupe.StatusFailed
		if again, _ := c.FinishedRun(r.ID); again.Status != troupe.StatusSucceeded {
			t.Error("a caller's change to its copy reached the kept run")
		}
	})
	t.Run("NonZeroExitFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.controller("a")
		r, p := b.startRun(c)
		p.ExitCode(3)
		r = b.waitStatus(r.ID, troupe.StatusFailed)
		wantEnd(t, r, troupe.StatusFailed, code(3), "Actor failed with exit code 3")
	})
	t.Run("SignalFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.controller("a")
		r, p := b.startRun(c)
		p.End(troupe.ExitStatus{Code: -1, Signal: "SIGSEGV"})
		r = b.waitStatus(r.ID, troupe.StatusFailed)
		wantEnd(t, r, troupe.StatusFailed, nil, "Actor process was killed by signal SIGSEGV")
	})
	t.Run("OutOfMemoryFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.controller("a")
		r, p := b.startRun(c, func(o *troupe.StartOptions) { o.MemoryMbytes = ptr(256) })
		if got := p.Spec.MemoryMbytes; got != 256 {
			t.Errorf("memory limit = %d MB, want 256", got)
		}
		p.End(troupe.ExitStatus{Code: -1, Signal: "SIGKILL", OutOfMemory: true})
		r = b.waitStatus(r.ID, troupe.StatusFailed)
		wantEnd(t, r, troupe.StatusFailed, nil, "The run went over its memory limit of 256 MB and was killed.")
	})
	t.Run("TerminalStatusMessageKept", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.controller("a")
		r, p := b.startRun(c)
		yes := true
		b.change(c, r.ID, func(r *troupe.Run, _ time.Time) error {
			r.SetStatusMessage("Scraped 10 pages", &yes)
			return nil
		})
		p.ExitCode(0)
		r = b.waitStatus(r.ID, troupe.StatusSucceeded)
		wantEnd(t, r, troupe.StatusSucceeded, code(0), "Scraped 10 pages")
	})
}

func TestRestartOnError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.controller("a")
	r, p := b.startRun(c, func(o *troupe.StartOptions) { o.RestartOnError = ptr(true) })
	if p.Env("ACTOR_RESTART_ON_ERROR") != "1" {
		t.Error("ACTOR_RESTART_ON_ERROR not set")
	}
	// Three failures are restarted (the default limit), with the same run.
	for i := 1; i <= 3; i++ {
		p.ExitCode(2)
		p = b.nextProcess()
		r = b.waitRun(r.ID, "the restarted process", func(r *troupe.Run) bool { return r.Control.PID == p.PID() })
		if r.Status != troupe.StatusRunning || r.Stats.RestartCount != i || r.Control.Generation != 1+i {
			t.Fatalf("after failure %d: %s, restartCount %d, generation %d", i, r.Status, r.Stats.RestartCount, r.Control.Generation)
		}
		if want := "Actor failed with exit code 2; troupe restarted it (restartOnError)."; deref(r.StatusMessage) != want {
			t.Errorf("status message = %q, want %q", deref(r.StatusMessage), want)
		}
	}
	// The fourth ends the run.
	p.ExitCode(2)
	r = b.waitStatus(r.ID, troupe.StatusFailed)
	wantEnd(t, r, troupe.StatusFailed, code(2), "Actor failed with exit code 2")
	if r.Stats.RestartCount != 3 {
		t.Errorf("restartCount = %d, want 3", r.Stats.RestartCount)
	}

	// Without restartOnError, a failure ends the run at once.
	r, p = b.startRun(c)
	p.ExitCode(2)
	r = b.waitStatus(r.ID, troupe.StatusFailed)
	wantEnd(t, r, troupe.StatusFailed, code(2), "Actor failed with exit code 2")
}

func abort(graceful bool) func(r *troupe.Run, now time.Time) error {
	return func(r *troupe.Run, now time.Time) error {
		_, err := r.RequestAbort(graceful, now)
		return err
	}
}

func TestAbort(t *testing.T) {
	t.Parallel()
	t.Run("Immediate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.controller("a")
		r, p := b.startRun(c)
		b.change(c, r.ID, abort(false))
		controllertest.Receive(t, p.Killed(), "the kill")
		r = b.waitStatus(r.ID, troupe.StatusAborted)
		wantEnd(t, r, troupe.StatusAborted, nil, "Run was aborted")
		if n := len(b.events.Sent()); n != 0 {
			t.Errorf("%d events sent; an immediate abort sends none", n)
		}
	})
	t.Run("GracefulKilledAfterGracePeriod", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.controller("a")
		r, p := b.startRun(c)
		b.change(c, r.ID, abort(true))
		// The process is told to stop, as on Apify.
		if got := b.nextEvent(r.ID); got != "aborting" {
			t.Errorf("first event = %s, want aborting", got)
		}
		if got := b.nextEvent(r.ID); got != "persistState" {
			t.Errorf("second event = %s, want persistState", got)
		}
		// The heartbeat ticker and the kill timer are set; the process
		// lives until the grace period is over.
		must(t, b.clock.BlockUntilContext(t.Context(), 2))
		b.clock.Advance(gracePeriod - time.Millisecond)
		if p.Kills() != 0 {
			t.Fatal("killed before the grace period was over")
		}
		if r = b.waitStatus(r.ID, troupe.StatusAborting); r.FinishedAt != nil {
			t.Fatal("aborting run has finishedAt")
		}
		b.clock.Advance(time.Millisecond)
		controllertest.Receive(t, p.Killed(), "the kill")
		r = b.waitStatus(r.ID, troupe.StatusAborted)
		wantEnd(t, r, troupe.StatusAborted, nil, "Run was aborted")
		b.wantLog(r.ID, "[troupe] The run is being aborted gracefully; it will be killed in 30s if it does not exit.")
		b.wantLog(r.ID, "[troupe] The grace period is over; killing the run's process.")
	})
	t.Run("GracefulExitsInTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.controller("a")
		r, p := b.startRun(c)
		b.change(c, r.ID, abort(true))
		b.nextEvent(r.ID)
		p.ExitCode(0)
		r = b.waitStatus(r.ID, troupe.StatusAborted)
		wantEnd(t, r, troupe.StatusAborted, code(0), "Run was aborted")
		if p.Kills() != 0 {
			t.Error("a process that exited in time was killed")
		}
	})
	t.Run("ImmediateCutsGracefulShort", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.controller("a")
		r, p := b.startRun(c)
		b.change(c, r.ID, abort(true))
		b.nextEvent(r.ID)
		b.change(c, r.ID, abort(false))
		controllertest.Receive(t, p.Killed(), "the kill")
		r = b.waitStatus(r.ID, troupe.StatusAborted)
		wantEnd(t, r, troupe.StatusAborted, nil, "Run was aborted")
	})
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	t.Run("KilledAfterGrace", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.controller("a")
		r, p := b.startRun(c, func(o *troupe.StartOptions) { o.TimeoutSecs = ptr(60) })
		if want := r.StartedAt.Add(time.Minute).Format("2006-01-02T15:04:05.000Z"); p.Env("ACTOR_TIMEOUT_AT") != want {
			t.Errorf("ACTOR_TIMEOUT_AT = %q, want %q", p.Env("ACTOR_TIMEOUT_AT"), want)
		}
		b.clock.Advance(time.Minute)
		b.waitStatus(r.ID, troupe.StatusTimingOut)
		if got := b.nextEvent(r.ID); got != "aborting" {
			t.Errorf("event = %s, want aborting", got)
		}
		b.nextEvent(r.ID)
		must(t, b.clock.BlockUntilContext(t.Context(), 2)) // the heartbeat ticker and the kill timer
		b.clock.Advance(timeoutGrace - time.Millisecond)
		if p.Kills() != 0 {
			t.Fatal("killed before the timeout's grace was over")
		}
		b.clock.Advance(time.Millisecond)
		controllertest.Receive(t, p.Killed(), "the kill")
		r = b.waitStatus(r.ID, troupe.StatusTimedOut)
		wantEnd(t, r, troupe.StatusTimedOut, nil, "Run timed out")
		b.wantLog(r.ID, "[troupe] The run timed out; it was told to stop and will be killed in 5s.")
	})
	t.Run("ExitsInGrace", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.controller("a")
		r, p := b.startRun(c, func(o *troupe.StartOptions) { o.TimeoutSecs = ptr(60) })
		b.clock.Advance(time.Minute)
		b.waitStatus(r.ID, troupe.StatusTimingOut)
		b.nextEvent(r.ID)
		p.ExitCode(0)
		r = b.waitStatus(r.ID, troupe.StatusTimedOut)
		wantEnd(t, r, troupe.StatusTimedOut, code(0), "Run timed out")
	})
}

// TestWakeNewSeesLaterChanges: a runner woken with the run as it was
// created (WakeNew, as the API does) starts from it only while the run is
// still that version. A run aborted before the wake ends ABORTED without a
// process.
func TestWakeNewSeesLaterChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.controller("a")
	r, input, err := troupe.NewRun(troupe.NewRunParams{
		Actor: b.actor, Build: b.build, Defaults: troupe.RunDefaults{MemoryMbytes: 1024},
		UserID: "user1", Meta: troupe.RunMeta{Origin: troupe.OriginAPI}, Now: b.clock.Now(),
	})
	must(t, err)
	must(t, b.store.CreateRun(t.Context(), r, input))
	_, err = b.store.UpdateRun(t.Context(), r.ID, func(run *troupe.Run, _ troupe.StorageTx) error {
		_, err := run.RequestAbort(false, b.clock.Now())
		return err
	})
	must(t, err)
	c.WakeNew(r, b.actor, b.build) // r is READY, version 1: stale
	got := b.waitStatus(r.ID, troupe.StatusAborted)
	if got.Control.PID != 0 {
		t.Errorf("aborted run records pid %d, want none", got.Control.PID)
	}
	controllertest.NoValue(t, b.exec.Started(), "process")
}
