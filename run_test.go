package troupe_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func newRun(status troupe.Status) *troupe.Run {
	r := &troupe.Run{ID: "run1", Status: status, Options: troupe.RunOptions{MemoryMbytes: 1024, TimeoutSecs: 60}}
	r.Control.Generation = 1
	if status != troupe.StatusReady && !status.Terminal() {
		since := t0
		r.Control.RunningSince = &since
	}
	return r
}

func TestRunFinish(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		from    troupe.Status
		code    int
		want    troupe.Status
		wantMsg string
	}{
		{troupe.StatusRunning, 0, troupe.StatusSucceeded, "Actor finished with exit code 0"},
		{troupe.StatusRunning, 3, troupe.StatusFailed, "Actor failed with exit code 3"},
		{troupe.StatusAborting, 0, troupe.StatusAborted, "Run was aborted"},
		{troupe.StatusTimingOut, 0, troupe.StatusTimedOut, "Run timed out"},
	} {
		t.Run(fmt.Sprintf("%s-%d", tc.from, tc.code), func(t *testing.T) {
			r := newRun(tc.from)
			if err := r.Finish(tc.code, t0.Add(1500*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			if r.Status != tc.want || *r.StatusMessage != tc.wantMsg || *r.ExitCode != tc.code {
				t.Errorf("got %s %q exit %d, want %s %q exit %d", r.Status, *r.StatusMessage, *r.ExitCode, tc.want, tc.wantMsg, tc.code)
			}
			if r.FinishedAt == nil || r.Stats.DurationMillis != 1500 || r.Stats.RunTimeSecs != 1.5 {
				t.Errorf("finishedAt %v duration %d runTimeSecs %v", r.FinishedAt, r.Stats.DurationMillis, r.Stats.RunTimeSecs)
			}
		})
	}
	t.Run("ErrAlreadyFinished", func(t *testing.T) {
		r := newRun(troupe.StatusSucceeded)
		if err := r.Finish(0, t0); troupe.ErrorType(err) != troupe.ErrJobFinished {
			t.Errorf("err = %v, want %s", err, troupe.ErrJobFinished)
		}
	})
	t.Run("LaterMessageIsNotTerminal", func(t *testing.T) {
		r := newRun(troupe.StatusRunning)
		yes := true
		r.SetStatusMessage("saved", &yes)
		r.SetStatusMessage("working again", nil)
		_ = r.Finish(0, t0)
		if *r.StatusMessage != "Actor finished with exit code 0" {
			t.Errorf("status message %q, want troupe's own: the last message was not terminal", *r.StatusMessage)
		}
	})
	t.Run("KeepsTerminalStatusMessage", func(t *testing.T) {
		r := newRun(troupe.StatusRunning)
		yes := true
		r.SetStatusMessage("all done", &yes)
		_ = r.Finish(0, t0)
		if *r.StatusMessage != "all done" {
			t.Errorf("status message %q, want the actor's own", *r.StatusMessage)
		}
	})
}

func TestRunRequestAbort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		from        troupe.Status
		graceful    bool
		wantChanged bool
		want        troupe.Status
	}{
		{troupe.StatusReady, false, true, troupe.StatusAborted},
		{troupe.StatusRunning, false, true, troupe.StatusAborting},
		{troupe.StatusRunning, true, true, troupe.StatusAborting},
		{troupe.StatusTimingOut, false, true, troupe.StatusAborting},
		{troupe.StatusSucceeded, false, false, troupe.StatusSucceeded},
		{troupe.StatusFailed, true, false, troupe.StatusFailed},
		{troupe.StatusAborted, false, false, troupe.StatusAborted},
		{troupe.StatusTimedOut, false, false, troupe.StatusTimedOut},
		{troupe.StatusAborting, true, false, troupe.StatusAborting},
	} {
		r := newRun(tc.from)
		changed, err := r.RequestAbort(tc.graceful, t0)
		if err != nil || changed != tc.wantChanged || r.Status != tc.want {
			t.Errorf("abort(graceful=%v) from %s: changed %v status %s err %v; want %v %s", tc.graceful, tc.from, changed, r.Status, err, tc.wantChanged, tc.want)
		}
		if tc.wantChanged && tc.want == troupe.StatusAborting && (r.Control.Abort == nil || r.Control.Abort.Graceful != tc.graceful) {
			t.Errorf("abort from %s: request %+v", tc.from, r.Control.Abort)
		}
	}
	t.Run("ImmediateCutsGracefulShort", func(t *testing.T) {
		r := newRun(troupe.StatusRunning)
		_, _ = r.RequestAbort(true, t0)
		changed, _ := r.RequestAbort(false, t0)
		if !changed || r.Control.Abort.Graceful {
			t.Errorf("changed %v, graceful %v", changed, r.Control.Abort.Graceful)
		}
	})
}

func TestRunRebootMetamorph(t *testing.T) {
	t.Parallel()
	r := newRun(troupe.StatusRunning)
	if err := r.Reboot(t0); err != nil || r.Stats.RebootCount != 1 || r.Control.Generation != 2 {
		t.Fatalf("reboot: err %v count %d gen %d", err, r.Stats.RebootCount, r.Control.Generation)
	}
	b := &troupe.Build{ID: "b2", BuildNumber: "0.1.4"}
	for i := 1; i <= troupe.MaxMetamorphs; i++ {
		key := r.MetamorphInputKey()
		if want := fmt.Sprintf("INPUT-METAMORPH-%d", i); key != want {
			t.Fatalf("key %q, want %q", key, want)
		}
		if err := r.Metamorph("act2", b, "latest", key, t0); err != nil {
			t.Fatalf("metamorph %d: %v", i, err)
		}
	}
	if r.ActID != "act2" || r.BuildNumber != "0.1.4" || r.Stats.Metamorph != 10 || r.Control.InputKey != "INPUT-METAMORPH-10" {
		t.Errorf("after metamorphs: act %s build %s count %d key %s", r.ActID, r.BuildNumber, r.Stats.Metamorph, r.Control.InputKey)
	}
	if err := r.Metamorph("act2", b, "latest", r.MetamorphInputKey(), t0); troupe.ErrorType(err) != troupe.ErrMaxMetamorphs {
		t.Errorf("11th metamorph err %v, want %s", err, troupe.ErrMaxMetamorphs)
	}
	done := newRun(troupe.StatusSucceeded)
	if err := done.Reboot(t0); troupe.ErrorType(err) != troupe.ErrRunNotRunning {
		t.Errorf("reboot of finished run: %v", err)
	}
	if err := done.Metamorph("a", b, "latest", "k", t0); troupe.ErrorType(err) != troupe.ErrRunNotRunning {
		t.Errorf("metamorph of finished run: %v", err)
	}
}

func TestRunResurrect(t *testing.T) {
	t.Parallel()
	r := newRun(troupe.StatusRunning)
	_ = r.Finish(1, t0.Add(2*time.Second))
	mem := 2048
	later := t0.Add(time.Hour)
	if err := r.Resurrect(troupe.ResurrectOptions{MemoryMbytes: &mem}, later); err != nil {
		t.Fatal(err)
	}
	if r.Status != troupe.StatusRunning || r.FinishedAt != nil || r.ExitCode != nil || r.StatusMessage != nil {
		t.Errorf("after resurrect: %s finished %v exit %v msg %v", r.Status, r.FinishedAt, r.ExitCode, r.StatusMessage)
	}
	if r.Stats.ResurrectCount != 1 || r.Options.MemoryMbytes != 2048 || r.Control.Generation != 2 {
		t.Errorf("count %d memory %d gen %d", r.Stats.ResurrectCount, r.Options.MemoryMbytes, r.Control.Generation)
	}
	if r.Control.TimeoutAt == nil || !r.Control.TimeoutAt.Equal(later.Add(60*time.Second)) {
		t.Errorf("timeout at %v, want 60s after the resurrection", r.Control.TimeoutAt)
	}
	_ = r.Finish(0, later.Add(time.Second))
	if r.Stats.DurationMillis != 3000 {
		t.Errorf("duration %d ms, want 3000 (time between finish and resurrect not counted)", r.Stats.DurationMillis)
	}
	live := newRun(troupe.StatusRunning)
	if err := live.Resurrect(troupe.ResurrectOptions{}, t0); troupe.ErrorType(err) != troupe.ErrRunNotFinished {
		t.Errorf("resurrect of running run: %v", err)
	}
}

func TestRunToken(t *testing.T) {
	t.Parallel()
	secret := troupe.RunTokenSecret("admin token")
	run := newRun(troupe.StatusRunning)
	run.ID = "abc123"
	tok := troupe.RunToken(secret, run)
	if id, ok := troupe.RunTokenID(tok); !ok || id != "abc123" {
		t.Errorf("RunTokenID(own token) = %q %v", id, ok)
	}
	if !troupe.ValidRunToken(secret, run, tok, t0) {
		t.Error("own token of a running run refused")
	}
	other := *run
	other.ID = "other"
	for _, bad := range []string{tok + "x", "run_other_" + tok[len("run_abc123_"):], "abc", "",
		troupe.RunToken([]byte("other"), run), troupe.RunToken(troupe.RunTokenSecret("another admin token"), run),
		troupe.RunToken(secret, &other)} {
		if troupe.ValidRunToken(secret, run, bad, t0) {
			t.Errorf("token %q accepted", bad)
		}
	}
	if troupe.ValidRunToken(nil, run, troupe.RunToken(nil, run), t0) {
		t.Error("token accepted without a secret")
	}
	// A finished run's token is refused for requests that arrived after it
	// finished, and accepted for those that arrived by then.
	finished := t0.Add(time.Minute)
	for _, st := range troupe.Statuses {
		r := *run
		r.Status = st
		if st.Terminal() {
			r.FinishedAt = &finished
		}
		later := finished.Add(time.Millisecond)
		if got := troupe.ValidRunToken(secret, &r, tok, later); got == st.Terminal() {
			t.Errorf("token of a %s run, request after the finish: valid = %v", st, got)
		}
		if !troupe.ValidRunToken(secret, &r, tok, finished.Add(900*time.Microsecond)) {
			t.Errorf("token of a %s run, request that arrived by the finish: refused", st)
		}
	}
	r := *run
	r.Status = troupe.StatusSucceeded
	if troupe.ValidRunToken(secret, &r, tok, t0) {
		t.Error("token of a finished run without finishedAt accepted")
	}
	// A resurrected run gets a new token; the old one stays dead.
	resurrected := *run
	resurrected.Stats.ResurrectCount++
	if troupe.ValidRunToken(secret, &resurrected, tok, t0) {
		t.Error("token from before a resurrection accepted")
	}
	if !troupe.ValidRunToken(secret, &resurrected, troupe.RunToken(secret, &resurrected), t0) {
		t.Error("new token after a resurrection refused")
	}
}

func TestValidRecordKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]bool{
		"INPUT": true, "a-b_c.d!e'(f)": true, "": false, "a/b": false, "ключ": false, "a b": false,
		string(make([]byte, 257)): false,
	} {
		if got := troupe.ValidRecordKey(key); got != want {
			t.Errorf("ValidRecordKey(%q) = %v, want %v", key, got, want)
		}
	}
}
