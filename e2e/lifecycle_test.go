package e2e_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/client"
)

func TestRunSucceeds(t *testing.T) {
	t.Parallel()
	s := shared
	run := s.start(t, "echo", `{"message":"hi there"}`, nil)
	if run.Status != client.StatusReady && run.Status != client.StatusRunning {
		t.Fatalf("new run is %s", run.Status)
	}
	if run.DefaultDatasetID == "" || run.DefaultKeyValueStoreID == "" || run.DefaultRequestQueueID == "" {
		t.Fatalf("run has no default storages: %+v", run)
	}
	if run.Options.Build != "latest" || run.BuildNumber != "0.1.1" {
		t.Errorf("options.build %q buildNumber %q; want the requested tag and the build it resolved to", run.Options.Build, run.BuildNumber)
	}
	run = s.finish(t, run.ID)
	wantStatus(t, run, client.StatusSucceeded)
	if run.ExitCode == nil || *run.ExitCode != 0 || message(run) != "Actor finished with exit code 0" {
		t.Errorf("exit code %v, message %q", run.ExitCode, message(run))
	}
	if run.FinishedAt == nil || run.Stats.DurationMillis <= 0 || run.Stats.RunTimeSecs <= 0 {
		t.Errorf("finishedAt %v, stats %+v", run.FinishedAt, run.Stats)
	}
	out := s.record(t, run.ID, "OUTPUT")
	input, _ := out["input"].(map[string]any)
	if input["message"] != "hi there" || input["exitCode"] != float64(0) || out["inputKey"] != "INPUT" {
		t.Errorf("OUTPUT = %v; want the input with the schema default exitCode merged", out)
	}
	log := s.log(t, run.ID)
	for _, want := range []string{"message: hi there", "this line goes to stderr"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if !logLine.MatchString(line) {
			t.Errorf("log line without ISO timestamp: %q", line)
		}
	}
}

func TestInputSchemaDefaults(t *testing.T) {
	t.Parallel()
	s := shared
	run := s.finish(t, s.start(t, "echo", "", nil).ID)
	wantStatus(t, run, client.StatusSucceeded)
	input, _ := s.record(t, run.ID, "OUTPUT")["input"].(map[string]any)
	if input["message"] != "hello from troupe" {
		t.Errorf("input %v; want the schema's defaults", input)
	}
}

func TestRunFails(t *testing.T) {
	t.Parallel()
	s := shared
	run := s.finish(t, s.start(t, "failer", "", nil).ID)
	wantStatus(t, run, client.StatusFailed)
	if run.ExitCode == nil || *run.ExitCode != 3 || message(run) != "Actor failed with exit code 3" {
		t.Errorf("exit code %v, message %q", run.ExitCode, message(run))
	}
	if !strings.Contains(s.log(t, run.ID), "about to fail") {
		t.Error("log lacks the actor's output")
	}
}

func TestCallWaitsForFinish(t *testing.T) {
	t.Parallel()
	s := shared
	run, err := s.c.Actor("~echo").Call(testCtx(t), []byte(`{"message":"call"}`), nil, 60)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, run, client.StatusSucceeded)
	// The server holds waitForFinish and answers the moment the run ends.
	sleeper := s.start(t, "sleeper", `{"secs":1}`, &client.StartOptions{WaitForFinish: 30})
	begin := time.Now()
	if !sleeper.Status.Terminal() {
		sleeper, err = s.c.Run(sleeper.ID).WaitForFinish(testCtx(t), 30)
		if err != nil {
			t.Fatal(err)
		}
	}
	wantStatus(t, sleeper, client.StatusSucceeded)
	if waited := time.Since(begin); waited > 20*time.Second {
		t.Errorf("waitForFinish returned after %v, long after the run ended", waited)
	}
}

func TestAbortImmediately(t *testing.T) {
	t.Parallel()
	s := shared
	run := s.start(t, "sleeper", "", nil)
	s.waitLog(t, run.ID, "sleeping")
	aborted, err := s.c.Run(run.ID).Abort(testCtx(t), false)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, aborted, client.StatusAborted)
	if aborted.FinishedAt == nil {
		t.Error("aborted run has no finishedAt")
	}
	again, err := s.c.Run(run.ID).Abort(testCtx(t), true)
	if err != nil {
		t.Fatal(err)
	}
	if again.Status != client.StatusAborted || !again.FinishedAt.Equal(*aborted.FinishedAt) {
		t.Errorf("abort of a finished run changed it: %s %v", again.Status, again.FinishedAt)
	}
}

func TestAbortGracefully(t *testing.T) {
	t.Parallel()
	s := shared
	run := s.start(t, "graceful", "", nil)
	s.waitLog(t, run.ID, "connected to the events websocket")
	got, err := s.c.Run(run.ID).Abort(testCtx(t), true)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, got, client.StatusAborting)
	got = s.finish(t, run.ID)
	// The actor exits 0 on "aborting"; the run still ends ABORTED.
	wantStatus(t, got, client.StatusAborted)
	if st := s.record(t, run.ID, "STATE"); st["savedOn"] != "aborting" {
		t.Errorf("STATE record = %v; the actor did not save its state on aborting", st)
	}
	log := s.log(t, run.ID)
	for _, want := range []string{"event aborting", "event persistState"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestAbortGracefullyKillsAfterGracePeriod(t *testing.T) {
	t.Parallel()
	s := shared
	run := s.start(t, "sleeper", "", nil)
	s.waitLog(t, run.ID, "sleeping")
	begin := time.Now()
	if _, err := s.c.Run(run.ID).Abort(testCtx(t), true); err != nil {
		t.Fatal(err)
	}
	got := s.finish(t, run.ID)
	wantStatus(t, got, client.StatusAborted)
	// The server runs with --grace-period 3s; the sleeper ignores "aborting".
	if waited := time.Since(begin); waited < 2500*time.Millisecond {
		t.Errorf("killed after %v, before the 3s grace period", waited)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	s := shared
	run := s.start(t, "sleeper", "", &client.StartOptions{TimeoutSecs: client.Ptr(1)})
	if run.Options.TimeoutSecs != 1 {
		t.Errorf("options.timeoutSecs = %d", run.Options.TimeoutSecs)
	}
	got := s.finish(t, run.ID)
	wantStatus(t, got, client.StatusTimedOut)
	if message(got) != "Run timed out" {
		t.Errorf("status message %q", message(got))
	}
	if !strings.Contains(s.log(t, run.ID), "timed out") {
		t.Error("log does not say the run timed out")
	}
}

func TestMetamorph(t *testing.T) {
	t.Parallel()
	s := shared
	target, err := s.c.Actor("~morph-target").Get(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	run := s.start(t, "sleeper", "", nil)
	s.waitLog(t, run.ID, "sleeping")
	got, err := s.c.Run(run.ID).Metamorph(testCtx(t), "local/morph-target", []byte(`{"greeting":"hey"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, got, client.StatusRunning)
	if len(got.Metamorphs) != 1 || got.Metamorphs[0].InputKey != "INPUT-METAMORPH-1" || got.Metamorphs[0].ActorID != target.ID {
		t.Errorf("metamorphs = %+v", got.Metamorphs)
	}
	done := s.finish(t, run.ID)
	wantStatus(t, done, client.StatusSucceeded)
	if done.ID != run.ID || done.DefaultKeyValueStoreID != run.DefaultKeyValueStoreID || done.ActID != target.ID || done.Stats.Metamorph != 1 {
		t.Errorf("after metamorph: id %s kvs %s act %s metamorph count %d", done.ID, done.DefaultKeyValueStoreID, done.ActID, done.Stats.Metamorph)
	}
	out := s.record(t, run.ID, "OUTPUT")
	input, _ := out["input"].(map[string]any)
	if out["inputKey"] != "INPUT-METAMORPH-1" || input["greeting"] != "hey" || out["runId"] != run.ID {
		t.Errorf("target saw %v", out)
	}
	if log := s.log(t, run.ID); !strings.Contains(log, "sleeping") || !strings.Contains(log, "metamorph target read INPUT-METAMORPH-1") {
		t.Errorf("one log should hold both actors' lines:\n%s", log)
	}
	_, err = s.c.Run(run.ID).Metamorph(testCtx(t), "~morph-target", nil, nil)
	wantErrorType(t, err, troupe.ErrRunNotRunning)
	_, err = s.c.Run(run.ID).Metamorph(testCtx(t), "~no-such-actor", nil, nil)
	wantErrorType(t, err, troupe.ErrRecordNotFound)
}

func TestReboot(t *testing.T) {
	t.Parallel()
	s := shared
	run := s.start(t, "sleeper", `{"secs":2}`, nil)
	s.waitLog(t, run.ID, "sleeping")
	got, err := s.c.Run(run.ID).Reboot(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, got, client.StatusRunning)
	if got.Stats.RebootCount != 1 {
		t.Errorf("rebootCount = %d", got.Stats.RebootCount)
	}
	done := s.finish(t, run.ID)
	wantStatus(t, done, client.StatusSucceeded)
	if done.DefaultDatasetID != run.DefaultDatasetID || done.Stats.RebootCount != 1 {
		t.Errorf("storages or counter changed: %+v", done)
	}
	if n := strings.Count(s.log(t, run.ID), "sleeping 2s"); n != 2 {
		t.Errorf("the actor started %d times, want 2 (before and after the reboot)", n)
	}
	_, err = s.c.Run(run.ID).Reboot(testCtx(t))
	wantErrorType(t, err, troupe.ErrRunNotRunning)
}

func TestResurrect(t *testing.T) {
	t.Parallel()
	s := shared
	run := s.finish(t, s.start(t, "echo", `{"message":"first"}`, nil).ID)
	wantStatus(t, run, client.StatusSucceeded)
	got, err := s.c.Run(run.ID).Resurrect(testCtx(t), &client.ResurrectOptions{MemoryMbytes: client.Ptr(512), TimeoutSecs: client.Ptr(120)})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, got, client.StatusRunning)
	if got.FinishedAt != nil || got.ExitCode != nil || got.Stats.ResurrectCount != 1 || got.Options.MemoryMbytes != 512 {
		t.Errorf("resurrected run: finishedAt %v exitCode %v count %d memory %d", got.FinishedAt, got.ExitCode, got.Stats.ResurrectCount, got.Options.MemoryMbytes)
	}
	done := s.finish(t, run.ID)
	wantStatus(t, done, client.StatusSucceeded)
	if done.DefaultKeyValueStoreID != run.DefaultKeyValueStoreID || !done.FinishedAt.After(*run.FinishedAt) {
		t.Errorf("resurrected run: kvs %s finished %v", done.DefaultKeyValueStoreID, done.FinishedAt)
	}
	if n := strings.Count(s.log(t, run.ID), "message: first"); n != 2 {
		t.Errorf("log shows %d runs of the actor, want 2", n)
	}
	live := s.start(t, "sleeper", "", nil)
	_, err = s.c.Run(live.ID).Resurrect(testCtx(t), nil)
	wantErrorType(t, err, troupe.ErrRunNotFinished)
	if _, err := s.c.Run(live.ID).Abort(testCtx(t), false); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateAndDelete(t *testing.T) {
	t.Parallel()
	s := shared
	run := s.start(t, "sleeper", "", nil)
	got, err := s.c.Run(run.ID).Update(testCtx(t), &client.RunUpdate{StatusMessage: client.Ptr("half way"), IsStatusMessageTerminal: client.Ptr(false)})
	if err != nil {
		t.Fatal(err)
	}
	if message(got) != "half way" || got.IsStatusMessageTerminal == nil || *got.IsStatusMessageTerminal {
		t.Errorf("status message %q terminal %v", message(got), got.IsStatusMessageTerminal)
	}
	err = s.c.Run(run.ID).Delete(testCtx(t))
	wantErrorType(t, err, troupe.ErrRunNotTerminal)
	if _, err := s.c.Run(run.ID).Abort(testCtx(t), false); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Run(run.ID).Delete(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if gone, err := s.c.Run(run.ID).Get(testCtx(t)); err != nil || gone != nil {
		t.Errorf("deleted run: %v %v", gone, err)
	}
	if kvs, err := s.c.KeyValueStore(run.DefaultKeyValueStoreID).Get(testCtx(t)); err != nil || kvs != nil {
		t.Errorf("the deleted run's key-value store is still there: %v %v", kvs, err)
	}
}

func TestListsAndLastRun(t *testing.T) {
	t.Parallel()
	s := shared
	a := s.finish(t, s.start(t, "failer", "", nil).ID)
	b := s.finish(t, s.start(t, "failer", "", nil).ID)
	list, err := s.c.Actor("~failer").Runs().List(testCtx(t), &client.RunListOptions{Desc: true, Status: []string{"FAILED"}})
	if err != nil {
		t.Fatal(err)
	}
	if list.Total < 2 || list.Items[0].ID != b.ID || list.Items[1].ID != a.ID || !list.Desc {
		t.Errorf("list = total %d, first %v", list.Total, list.Items)
	}
	last, err := s.c.Actor("~failer").LastRun("FAILED").Get(testCtx(t))
	if err != nil || last == nil || last.ID != b.ID {
		t.Errorf("last run = %v, %v; want %s", last, err, b.ID)
	}
	all, err := s.c.Runs().List(testCtx(t), &client.RunListOptions{Limit: 1, Offset: 1, Status: []string{"FAILED"}})
	if err != nil {
		t.Fatal(err)
	}
	if all.Count != 1 || all.Limit != 1 || all.Offset != 1 || all.Total < 2 {
		t.Errorf("page = %+v", all)
	}
	for _, r := range all.Items {
		if r.Status != client.StatusFailed {
			t.Errorf("status filter let through %s", r.Status)
		}
	}
}

func TestLogStreamEndsWithRun(t *testing.T) {
	t.Parallel()
	s := shared
	run := s.start(t, "sleeper", `{"secs":2}`, nil)
	s.waitLog(t, run.ID, "tick 2") // returns only if the stream delivers it
	got := s.finish(t, run.ID)
	wantStatus(t, got, client.StatusSucceeded)
}

func TestStatsAndEvents(t *testing.T) {
	t.Parallel()
	s := shared
	run := s.start(t, "graceful", "", nil)
	// The second systemInfo event comes after the executor's first samples.
	waitCount(t, s, run.ID, "event systemInfo", 2)
	live, err := s.c.Run(run.ID).Get(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if live.Stats.MemMaxBytes <= 0 || live.Stats.DurationMillis <= 0 {
		t.Errorf("live stats %+v", live.Stats)
	}
	got, err := s.c.Run(run.ID).Abort(testCtx(t), false)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, got, client.StatusAborted)
	if got.Stats.MemMaxBytes <= 0 {
		t.Errorf("final stats %+v", got.Stats)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := shared
	if run, err := s.c.Run("noSuchRun12345678").Get(testCtx(t)); err != nil || run != nil {
		t.Errorf("unknown run: %v %v", run, err)
	}
	_, err := s.c.Run("noSuchRun12345678").Abort(testCtx(t), false)
	wantErrorType(t, err, troupe.ErrRecordNotFound)
	_, err = s.c.Actor("~echo").Start(testCtx(t), []byte(`{"broken`), nil)
	wantErrorType(t, err, troupe.ErrInputNotValidJSON)
	_, err = s.c.Actor("~echo").Start(testCtx(t), nil, &client.StartOptions{Build: "9.9.9"})
	wantErrorType(t, err, troupe.ErrUnknownBuildTag)
	charge, err := http.NewRequest(http.MethodPost, s.URL+"/v2/actor-runs/noSuchRun12345678/charge?token="+testToken, strings.NewReader(`{"eventName":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(charge); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("charge of an unknown run: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	resp, err := http.Get(s.URL + "/v2/actor-runs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: status %d", resp.StatusCode)
	}
}
