package controller_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/controller/controllertest"
)

// setupRemote is setup with a remote executor (processes that outlive
// their server, as pods do) and a build with an archive and an image.
func setupRemote(t *testing.T) *bundle {
	t.Helper()
	b := setup(t)
	b.remote = controllertest.NewRemoteExecutor()
	b.exec = b.remote.Executor
	bld, err := b.store.UpdateBuild(t.Context(), b.build.ID, func(x *troupe.Build) error {
		x.Artifact, x.Image = strings.Repeat("ab", 32), "node:20"
		return nil
	})
	must(t, err)
	b.build = bld
	return b
}

// A remote process gets no folder on the server: the executor fetches the
// build itself, from what the spec names.
func TestRemoteSpec(t *testing.T) {
	t.Parallel()
	b := setupRemote(t)
	c := b.controller("a")
	r, p := b.startRun(c, func(o *troupe.StartOptions) { o.TimeoutSecs = ptr(60) })
	s := p.Spec
	if s.Dir != "" || s.BuildDir != "" {
		t.Errorf("Dir %q, BuildDir %q; want none for a remote executor", s.Dir, s.BuildDir)
	}
	if s.ActorID != b.actor.ID || s.BuildID != b.build.ID || s.Artifact != b.build.Artifact || s.Image != "node:20" {
		t.Errorf("spec names actor %q build %q artifact %q image %q", s.ActorID, s.BuildID, s.Artifact, s.Image)
	}
	if got := p.Env("HOME"); got != controllertest.RemoteWorkDir {
		t.Errorf("HOME = %q, want the executor's work folder", got)
	}
	if want := r.Control.TimeoutAt.Add(timeoutGrace + time.Minute); !s.Deadline.Equal(want) {
		t.Errorf("Deadline = %v, want %v (timeout, its grace and a minute)", s.Deadline, want)
	}
	if p.Env("APIFY_TOKEN") == "" {
		t.Error("no APIFY_TOKEN: the executor cannot fetch the archive")
	}
}

// A build without an archive cannot run on a remote executor: the run fails
// saying so, and nothing starts.
func TestRemoteBuildWithoutArchive(t *testing.T) {
	t.Parallel()
	b := setupRemote(t)
	_, err := b.store.UpdateBuild(t.Context(), b.build.ID, func(x *troupe.Build) error { x.Artifact = ""; return nil })
	must(t, err)
	c := b.controller("a")
	r := b.createRun(c)
	r = b.waitStatus(r.ID, troupe.StatusFailed)
	if msg := deref(r.StatusMessage); !strings.Contains(msg, "made before troupe kept build archives") {
		t.Errorf("status message = %q", msg)
	}
	controllertest.NoValue(t, b.exec.Started(), "process")
}

// A restarted server adopts the process its run still has instead of
// starting it again, and asks for the output after the outputs its log
// holds.
func TestAdoptAfterRestart(t *testing.T) {
	t.Parallel()
	b := setupRemote(t)
	old := b.newController("a", b.store, b.remote)
	must(t, old.Start(t.Context()))
	r, p := b.startRun(old)
	b.clock.Advance(1500 * time.Millisecond)
	p.Print("before the restart")
	b.clock.Advance(time.Second)
	old.Stop(false) // the process lives on, as a pod does

	b.controller("a")
	ad := controllertest.Receive(t, b.remote.Adopted(), "an adoption")
	if ad.Process != p || ad.RunID != r.ID || ad.Generation != 1 {
		t.Fatalf("adoption = %+v, want the run's process of generation 1", ad)
	}
	if ad.Skip != 1 {
		t.Errorf("adopted after %d outputs, want the 1 the log holds", ad.Skip)
	}
	p.Print("after the restart")
	p.ExitCode(0)
	r = b.waitStatus(r.ID, troupe.StatusSucceeded)
	wantEnd(t, r, troupe.StatusSucceeded, code(0), "Actor finished with exit code 0")
	if r.Stats.MigrationCount != 0 || r.Control.Generation != 1 {
		t.Errorf("migrationCount %d, generation %d; an adopted run is not restarted", r.Stats.MigrationCount, r.Control.Generation)
	}
	log := b.readLog(r.ID)
	for _, line := range []string{"before the restart", "after the restart",
		"[troupe] troupe instance a took over the run and follows its process, which goes on running."} {
		if n := strings.Count(log, line); n != 1 {
			t.Errorf("log has %q %d times:\n%s", line, n, log)
		}
	}
	controllertest.NoValue(t, b.exec.Started(), "second process")
	if o := b.exec.Orphans(); len(o) != 0 {
		t.Errorf("KillOrphan called %+v; a remote executor adopts instead", o)
	}
}

// Lines the process wrote in the last moments of its server, in the same
// millisecond as the last line stored and never stored themselves, are
// stored by the server that adopts the process; no line is stored twice,
// however the lines' times compare.
func TestAdoptResumesExactly(t *testing.T) {
	t.Parallel()
	b := setupRemote(t)
	old := b.newController("a", b.store, b.remote)
	must(t, old.Start(t.Context()))
	r, p := b.startRun(old)
	p.Print("one")
	p.Print("two")
	old.Stop(false)
	// The server is gone; its process writes on, in the same millisecond.
	p.Print("three")
	p.Print("four")

	b.controller("a")
	ad := controllertest.Receive(t, b.remote.Adopted(), "an adoption")
	if ad.Process != p || ad.Skip != 2 {
		t.Fatalf("adoption = %+v, want the process after its 2 stored outputs", ad)
	}
	p.Print("five")
	p.ExitCode(0)
	r = b.waitStatus(r.ID, troupe.StatusSucceeded)
	var got []string
	for line := range strings.Lines(b.readLog(r.ID)) {
		if _, text, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " "); ok && !strings.HasPrefix(text, "[troupe]") {
			got = append(got, text)
		}
	}
	if want := []string{"one", "two", "three", "four", "five"}; !slices.Equal(got, want) {
		t.Errorf("process lines in the log = %q, want %q", got, want)
	}
	if m, err := b.store.LastLogMark(t.Context(), r.ID); err != nil || m != (troupe.LogMark{Generation: 1, Lines: 5}) {
		t.Errorf("LastLogMark = %+v, %v; want generation 1, 5 lines", m, err)
	}
}

// Another replica takes over the run of a dead one by adopting its
// process: the run goes on under the new owner and ends as its process
// does.
func TestAdoptFromDeadReplica(t *testing.T) {
	t.Parallel()
	b := setupRemote(t)
	a := b.newController("a", b.store, b.remote)
	must(t, a.Start(t.Context()))
	r, p := b.startRun(a)
	a.Stop(false)
	b.clock.Advance(leaseTTL + time.Second) // a's lease is over

	b.controller("b")
	ad := controllertest.Receive(t, b.remote.Adopted(), "an adoption")
	if ad.Process != p {
		t.Fatalf("adopted %+v, want a's process", ad)
	}
	r = b.waitRun(r.ID, "owner b", func(r *troupe.Run) bool { return r.Control.Owner == "b" })
	if r.Status != troupe.StatusRunning || r.Stats.MigrationCount != 0 {
		t.Errorf("taken-over run is %s with migrationCount %d; want RUNNING, not restarted", r.Status, r.Stats.MigrationCount)
	}
	p.ExitCode(3)
	r = b.waitStatus(r.ID, troupe.StatusFailed)
	wantEnd(t, r, troupe.StatusFailed, code(3), "Actor failed with exit code 3")
	controllertest.NoValue(t, b.exec.Started(), "second process")
}

// When the process is gone too (the pod was deleted while no server ran
// the run), the rules of a lost process apply: a restart, or FAILED when
// the actor forbids restarts.
func TestAdoptNothingLeft(t *testing.T) {
	t.Parallel()
	for _, forbid := range []bool{false, true} {
		t.Run(map[bool]string{false: "Restarted", true: "RestartsForbidden"}[forbid], func(t *testing.T) {
			t.Parallel()
			b := setupRemote(t)
			old := b.newController("a", b.store, b.remote)
			must(t, old.Start(t.Context()))
			r, p := b.startRun(old)
			old.Stop(false)
			p.End(troupe.ExitStatus{Code: -1, Lost: true})
			if forbid {
				_, err := b.store.UpdateActor(t.Context(), b.actor.ID, func(a *troupe.Actor) error {
					a.RestartsForbidden = true
					return nil
				})
				must(t, err)
			}
			b.controller("a")
			if ad := controllertest.Receive(t, b.remote.Adopted(), "an adoption"); ad.Process != nil {
				t.Fatalf("adopted %+v, want nothing", ad)
			}
			if forbid {
				r = b.waitStatus(r.ID, troupe.StatusFailed)
				wantEnd(t, r, troupe.StatusFailed, nil,
					"The run's process was lost when its troupe server stopped, and its actor does not allow restarts.")
				controllertest.NoValue(t, b.exec.Started(), "process")
				return
			}
			p2 := b.nextProcess()
			r = b.waitRun(r.ID, "the new process", func(r *troupe.Run) bool { return r.Control.StartedGeneration == 2 })
			if p2.Spec.Generation != 2 || r.Stats.MigrationCount != 1 || r.Status != troupe.StatusRunning {
				t.Errorf("restart: generation %d, migrationCount %d, %s", p2.Spec.Generation, r.Stats.MigrationCount, r.Status)
			}
			if got := deref(r.StatusMessage); got != "The run's process was lost when its troupe server stopped; troupe restarted it (migration)." {
				t.Errorf("status message = %q", got)
			}
		})
	}
}

// A run that was being aborted gracefully when its server stopped keeps its
// process: the new server adopts it, tells it again to stop and kills it
// when the grace period (counted from the abort) is over.
func TestAdoptWhileAborting(t *testing.T) {
	t.Parallel()
	b := setupRemote(t)
	old := b.newController("a", b.store, b.remote)
	must(t, old.Start(t.Context()))
	r, p := b.startRun(old)
	b.change(old, r.ID, abort(true))
	b.nextEvent(r.ID)
	b.nextEvent(r.ID)
	old.Stop(false)

	b.controller("a")
	controllertest.Receive(t, b.remote.Adopted(), "an adoption")
	if got := b.nextEvent(r.ID); got != "aborting" {
		t.Errorf("event after adoption = %s, want aborting", got)
	}
	b.nextEvent(r.ID)
	must(t, b.clock.BlockUntilContext(t.Context(), 2))
	if p.Kills() != 0 {
		t.Fatal("adopted process killed before the grace period was over")
	}
	b.clock.Advance(gracePeriod)
	controllertest.Receive(t, p.Killed(), "the kill")
	r = b.waitStatus(r.ID, troupe.StatusAborted)
	wantEnd(t, r, troupe.StatusAborted, nil, "Run was aborted")
}

// A process that vanishes while its server runs (its pod deleted or
// evicted, its node gone) is handled as lost: the run restarts
// (migrationCount), or fails when its actor forbids restarts.
func TestProcessLost(t *testing.T) {
	t.Parallel()
	const lost = "The run's process was lost with the machine or pod it ran in (deleted, evicted, node gone)"
	t.Run("Restarted", func(t *testing.T) {
		t.Parallel()
		b := setupRemote(t)
		c := b.controller("a")
		r, p := b.startRun(c)
		p.End(troupe.ExitStatus{Code: -1, Lost: true})
		p2 := b.nextProcess()
		r = b.waitRun(r.ID, "the new process", func(r *troupe.Run) bool { return r.Control.StartedGeneration == 2 })
		if r.Status != troupe.StatusRunning || r.Stats.MigrationCount != 1 || p2.Spec.Generation != 2 {
			t.Errorf("after the loss: %s, migrationCount %d, generation %d", r.Status, r.Stats.MigrationCount, p2.Spec.Generation)
		}
		if got := deref(r.StatusMessage); got != lost+"; troupe restarted it (migration)." {
			t.Errorf("status message = %q", got)
		}
	})
	t.Run("RestartsForbidden", func(t *testing.T) {
		t.Parallel()
		b := setupRemote(t)
		_, err := b.store.UpdateActor(t.Context(), b.actor.ID, func(a *troupe.Actor) error {
			a.RestartsForbidden = true
			return nil
		})
		must(t, err)
		c := b.controller("a")
		r, p := b.startRun(c)
		p.End(troupe.ExitStatus{Code: -1, Lost: true})
		r = b.waitStatus(r.ID, troupe.StatusFailed)
		wantEnd(t, r, troupe.StatusFailed, nil, lost+", and its actor does not allow restarts.")
	})
}

// An executor that could not run the program at all (no image) fails the
// run with its reason, in the status message and the log.
func TestExecutorFailure(t *testing.T) {
	t.Parallel()
	b := setupRemote(t)
	c := b.controller("a")
	r, p := b.startRun(c)
	const why = "The cluster could not pull the image node:20 (ErrImagePull)."
	p.End(troupe.ExitStatus{Code: -1, Failure: why})
	r = b.waitStatus(r.ID, troupe.StatusFailed)
	wantEnd(t, r, troupe.StatusFailed, nil, why)
	b.wantLog(r.ID, "[troupe] "+why)
}
