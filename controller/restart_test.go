package controller_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/controller"
	"github.com/troupehq/troupe/controller/controllertest"
)

func TestReboot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.controller("a")
	r, p1 := b.startRun(c)
	b.change(c, r.ID, func(r *troupe.Run, now time.Time) error { return r.Reboot(now) })
	controllertest.Receive(t, p1.Killed(), "the old process to be killed")
	p2 := b.nextProcess()
	r = b.waitRun(r.ID, "the new process", func(r *troupe.Run) bool { return r.Control.PID == p2.PID() })
	if r.Status != troupe.StatusRunning || r.Stats.RebootCount != 1 || r.Control.Generation != 2 {
		t.Errorf("rebooted run: %s, rebootCount %d, generation %d", r.Status, r.Stats.RebootCount, r.Control.Generation)
	}
	// The same run, environment and storages.
	for _, name := range []string{"ACTOR_RUN_ID", "APIFY_TOKEN", "ACTOR_DEFAULT_KEY_VALUE_STORE_ID", "ACTOR_INPUT_KEY", "ACTOR_STARTED_AT"} {
		if p1.Env(name) != p2.Env(name) {
			t.Errorf("%s changed on reboot: %q, then %q", name, p1.Env(name), p2.Env(name))
		}
	}
	p2.ExitCode(0)
	r = b.waitStatus(r.ID, troupe.StatusSucceeded)
	wantEnd(t, r, troupe.StatusSucceeded, code(0), "Actor finished with exit code 0")
	b.wantLog(r.ID, "[troupe] Stopping the run's process (restart).")
	b.wantLog(r.ID, "[troupe] Starting alice/hello build 0.0.1 (process 2 of this run).")
}

func TestMetamorph(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.controller("a")
	target, targetBuild := b.newActor("target", "python3", "-m", "src")
	r, p1 := b.startRun(c)
	b.change(c, r.ID, func(r *troupe.Run, now time.Time) error {
		return r.Metamorph(target.ID, targetBuild, "latest", r.MetamorphInputKey(), now)
	})
	controllertest.Receive(t, p1.Killed(), "the old process to be killed")
	p2 := b.nextProcess()
	r = b.waitRun(r.ID, "the target's process", func(r *troupe.Run) bool { return r.Control.PID == p2.PID() })
	if got := p2.Spec.Command; len(got) != 3 || got[0] != "python3" {
		t.Errorf("command = %q, want the target build's", got)
	}
	for name, want := range map[string]string{
		"ACTOR_INPUT_KEY": "INPUT-METAMORPH-1", "ACTOR_ID": target.ID, "ACTOR_BUILD_ID": targetBuild.ID,
		"ACTOR_RUN_ID": r.ID, "ACTOR_DEFAULT_DATASET_ID": r.DefaultDatasetID,
	} {
		if got := p2.Env(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if r.Status != troupe.StatusRunning || r.ActID != target.ID || r.Stats.Metamorph != 1 {
		t.Errorf("metamorphed run: %s, actId %s, stats.metamorph %d", r.Status, r.ActID, r.Stats.Metamorph)
	}
	p2.ExitCode(0)
	r = b.waitStatus(r.ID, troupe.StatusSucceeded)
	wantEnd(t, r, troupe.StatusSucceeded, code(0), "Actor finished with exit code 0")
	b.wantLog(r.ID, "[troupe] Stopping the run's process (metamorph).")
	b.wantLog(r.ID, "[troupe] Starting alice/target build 0.0.1 (process 2 of this run).")
}

func TestResurrect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.controller("a")
	r, p1 := b.startRun(c, func(o *troupe.StartOptions) { o.TimeoutSecs = ptr(60) })
	b.clock.Advance(10 * time.Second)
	p1.ExitCode(1)
	b.waitStatus(r.ID, troupe.StatusFailed)

	// Resurrected later, the run gets a new process and a new timeout; the
	// time it spent finished does not count.
	b.clock.Advance(time.Hour)
	b.change(c, r.ID, func(r *troupe.Run, now time.Time) error { return r.Resurrect(troupe.ResurrectOptions{}, now) })
	p2 := b.nextProcess()
	r = b.waitRun(r.ID, "the new process", func(r *troupe.Run) bool { return r.Control.PID == p2.PID() })
	if r.Status != troupe.StatusRunning || r.Control.Owner != "a" || r.Stats.ResurrectCount != 1 {
		t.Errorf("resurrected run: %s, owner %q, resurrectCount %d", r.Status, r.Control.Owner, r.Stats.ResurrectCount)
	}
	if r.ExitCode != nil || r.FinishedAt != nil {
		t.Error("resurrected run keeps its exit code or finishedAt")
	}
	b.clock.Advance(5 * time.Second)
	p2.ExitCode(0)
	r = b.waitStatus(r.ID, troupe.StatusSucceeded)
	wantEnd(t, r, troupe.StatusSucceeded, code(0), "Actor finished with exit code 0")
	if r.Stats.DurationMillis != 15000 {
		t.Errorf("durationMillis = %d, want 15000 (10 s, then 5 s)", r.Stats.DurationMillis)
	}

	// The resurrected run's timeout counts from the resurrection.
	b.change(c, r.ID, func(r *troupe.Run, now time.Time) error { return r.Resurrect(troupe.ResurrectOptions{}, now) })
	b.nextProcess()
	b.clock.Advance(time.Minute)
	b.waitStatus(r.ID, troupe.StatusTimingOut)
}

func TestProxyEnvironment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, proxy                    string
		host, port, password, statusTo string
	}{
		// None configured: troupe itself, whose status endpoint says so.
		{"none", "", "127.0.0.1", "8700", controller.NoProxyPassword, "http://127.0.0.1:8700/v2/proxy-status"},
		{"upstream", "http://user:s3cret@proxy.internal:3128", "proxy.internal", "3128", "s3cret", "http://127.0.0.1:8700/v2/proxy-status"},
		{"no password", "http://10.0.0.9:8080", "10.0.0.9", "8080", "none", "http://127.0.0.1:8700/v2/proxy-status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cfg := b.config("a", b.store, b.exec)
			if tc.proxy != "" {
				u, err := url.Parse(tc.proxy)
				must(t, err)
				cfg.Proxy = u
			}
			c := controller.New(cfg)
			must(t, c.Start(t.Context()))
			t.Cleanup(func() { c.Stop(true) })
			_, p := b.startRun(c)
			for name, want := range map[string]string{
				"APIFY_PROXY_HOSTNAME": tc.host, "APIFY_PROXY_PORT": tc.port,
				"APIFY_PROXY_PASSWORD": tc.password, "APIFY_PROXY_STATUS_URL": tc.statusTo,
			} {
				if got := p.Env(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}
