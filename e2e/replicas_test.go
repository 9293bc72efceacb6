package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe/client"
	"github.com/troupehq/troupe/pgtest"
)

// replica starts `troupe serve` on the PostgreSQL database url, with the
// data folder dataDir (its own, or shared with other replicas), as instance
// name.
func replica(t *testing.T, url, dataDir, name string, extra ...string) *server {
	t.Helper()
	args := append([]string{"--store", url, "--instance", name, "--lease-ttl", "2s"}, extra...)
	s, err := launch(dataDir, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// TestReplicas runs two replicas on one PostgreSQL database and sends every
// run operation to the replica that does not own the run: runs started
// through A are owned by A; B reads, waits, streams logs and steers them.
func TestReplicas(t *testing.T) {
	t.Parallel()
	url, dir := pgtest.NewDatabase(t), t.TempDir()
	a := replica(t, url, dir, "a")
	if err := a.waitExamples(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	b := replica(t, url, dir, "b", "--examples=false")
	ctx := testCtx(t)

	// Reboot, status message and metamorph through B.
	run := a.start(t, "sleeper", "", nil)
	b.waitLog(t, run.ID, "sleeping 300s")
	got, err := b.c.Run(run.ID).Reboot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Stats.RebootCount != 1 {
		t.Errorf("rebootCount = %d", got.Stats.RebootCount)
	}
	waitCount(t, b, run.ID, "sleeping 300s", 2)
	if got, err = b.c.Run(run.ID).Update(ctx, &client.RunUpdate{StatusMessage: client.Ptr("steered by b")}); err != nil || message(got) != "steered by b" {
		t.Fatalf("update through b: %v %v", message(got), err)
	}
	if got, err = a.c.Run(run.ID).Get(ctx); err != nil || message(got) != "steered by b" {
		t.Errorf("a sees status message %q (%v)", message(got), err)
	}
	if _, err := b.c.Run(run.ID).Metamorph(ctx, "~morph-target", []byte(`{"greeting":"from b"}`), nil); err != nil {
		t.Fatal(err)
	}
	done := b.finish(t, run.ID) // B wakes when A finishes the run
	wantStatus(t, done, client.StatusSucceeded)
	if out := b.record(t, run.ID, "OUTPUT"); out["inputKey"] != "INPUT-METAMORPH-1" {
		t.Errorf("metamorph target saw %v", out)
	}

	// Immediate abort through B, resurrect through A, graceful abort
	// through B.
	run2 := a.start(t, "sleeper", "", nil)
	b.waitLog(t, run2.ID, "sleeping")
	got, err = b.c.Run(run2.ID).Abort(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, got, client.StatusAborted)
	if got, err = a.c.Run(run2.ID).Resurrect(ctx, nil); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, got, client.StatusRunning)
	waitCount(t, b, run2.ID, "sleeping 300s", 2)
	if got, err = b.c.Run(run2.ID).Abort(ctx, true); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, got, client.StatusAborting)
	wantStatus(t, b.finish(t, run2.ID), client.StatusAborted)

	// Delete through B; list through B.
	run3 := b.finish(t, a.start(t, "echo", "", nil).ID)
	wantStatus(t, run3, client.StatusSucceeded)
	if err := b.c.Run(run3.ID).Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if gone, err := a.c.Run(run3.ID).Get(ctx); err != nil || gone != nil {
		t.Errorf("a still sees the deleted run: %v %v", gone, err)
	}
	list, err := b.c.Runs().List(ctx, &client.RunListOptions{Desc: true})
	if err != nil || list.Total != 2 {
		t.Errorf("b lists %v runs (%v), want 2", list, err)
	}
}

// TestChaos kills the replica that owns the runs with SIGKILL at a random
// moment, in a bounded loop, while runs start, run, abort gracefully and
// metamorph, and checks after each round: every accepted run ends in one
// terminal status or runs on the live replica; acknowledged dataset items,
// records and log lines are all kept.
//
// The crash moments come from a seed the test logs; replay a run with
// -chaos.seed=N or TROUPE_CHAOS_SEED=N (the same moments; the processes'
// own timing still varies).
func TestChaos(t *testing.T) {
	t.Parallel()
	seed := chaosSeed(t)
	t.Logf("chaos seed %d (replay with -chaos.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	url, dir := pgtest.NewDatabase(t), t.TempDir()
	names := [2]string{"a", "b"}
	reps := [2]*server{replica(t, url, dir, names[0]), nil}
	if err := reps[0].waitExamples(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	reps[1] = replica(t, url, dir, names[1], "--examples=false")
	const rounds = 3
	checks := 0
	for round := range rounds {
		v, s := round%2, (round+1)%2
		victim, survivor := reps[v], reps[s]
		ctx := testCtx(t)

		running := victim.start(t, "sleeper", "", nil)
		aborting := victim.start(t, "graceful", "", nil)
		morphing := victim.start(t, "sleeper", "", nil)
		victim.waitLog(t, running.ID, "tick 1")
		victim.waitLog(t, aborting.ID, "connected to the events websocket")
		victim.waitLog(t, morphing.ID, "sleeping")
		items := []map[string]any{{"round": round, "n": 1}, {"round": round, "n": 2}}
		if err := victim.c.Run(running.ID).Dataset().PushItems(ctx, items); err != nil {
			t.Fatal(err)
		}
		if err := victim.c.Run(running.ID).KeyValueStore().SetRecord(ctx, "ACKED", []byte(`{"ok":true}`), "application/json"); err != nil {
			t.Fatal(err)
		}
		ackedLog := victim.log(t, running.ID)
		if _, err := victim.c.Run(aborting.ID).Abort(ctx, true); err != nil {
			t.Fatal(err)
		}
		if _, err := victim.c.Run(morphing.ID).Metamorph(ctx, "~morph-target", []byte(`{"greeting":"chaos"}`), nil); err != nil {
			t.Fatal(err)
		}
		starting := victim.start(t, "echo", `{"message":"starting"}`, nil)
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		victim.crash()

		// The survivor takes over once the victim's lease expires.
		for _, id := range []string{aborting.ID, morphing.ID, starting.ID} {
			r := survivor.finish(t, id)
			again, err := survivor.c.Run(id).Get(ctx)
			if err != nil || again.Status != r.Status || again.FinishedAt == nil || !again.FinishedAt.Equal(*r.FinishedAt) {
				t.Errorf("round %d: run %s changed after it finished: %v then %v (%v)", round, id, r.Status, again, err)
			}
			checks += 2
		}
		wantStatus(t, survivor.finish(t, aborting.ID), client.StatusAborted)
		wantStatus(t, survivor.finish(t, morphing.ID), client.StatusSucceeded)
		wantStatus(t, survivor.finish(t, starting.ID), client.StatusSucceeded)
		waitCount(t, survivor, running.ID, "sleeping 300s", 2) // restarted on the survivor
		got, err := survivor.c.Run(running.ID).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, got, client.StatusRunning)
		if got.Stats.MigrationCount != 1 {
			t.Errorf("round %d: migrationCount %d", round, got.Stats.MigrationCount)
		}
		page, err := survivor.c.Run(running.ID).Dataset().ListItems(ctx, nil)
		if err != nil || page.Total != 2 {
			t.Errorf("round %d: dataset items after the crash: %+v %v", round, page, err)
		}
		if rec := survivor.record(t, running.ID, "ACKED"); rec["ok"] != true {
			t.Errorf("round %d: acknowledged record lost: %v", round, rec)
		}
		if log := survivor.log(t, running.ID); !strings.HasPrefix(log, ackedLog) {
			t.Errorf("round %d: acknowledged log lines lost:\nbefore:\n%s\nafter:\n%s", round, ackedLog, log)
		}
		// The survivor counts the runs it took over: at least the sleeper that
		// was still running, at most the four runs the victim owned (the
		// others may have finished on the victim before the crash, whose
		// moment is random). Each survivor started after the previous round.
		if n := survivor.scrapeMetrics(t)["troupe_run_takeovers_total"]; n < 1 || n > 4 {
			t.Errorf("round %d: the survivor counts %v takeovers, want 1 to 4", round, n)
		}
		checks += 7
		if _, err := survivor.c.Run(running.ID).Abort(ctx, false); err != nil {
			t.Fatal(err)
		}
		// The victim comes back under its own name for the next round.
		reps[v] = replica(t, url, dir, names[v], "--examples=false")
	}
	t.Logf("chaos: %d rounds, %d invariants checked", rounds, checks)
}

var chaosSeedFlag = flag.Uint64("chaos.seed", 0, "seed of TestChaos's crash moments (default: $TROUPE_CHAOS_SEED, else random)")

// chaosSeed returns the seed TestChaos uses: -chaos.seed, then
// TROUPE_CHAOS_SEED, then a random one.
func chaosSeed(t *testing.T) uint64 {
	if *chaosSeedFlag != 0 {
		return *chaosSeedFlag
	}
	if s := os.Getenv("TROUPE_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TROUPE_CHAOS_SEED=%q: %v", s, err)
		}
		return n
	}
	return max(rand.Uint64(), 1) // 0 means "not set"
}

// TestReplicasShareOnlyTheDatabase: replicas with data folders of their
// own. A builds the examples; its build folders are then removed, and a
// run started through B (so B owns it) runs from the build's archive,
// which B fetches from the database into its own data folder.
func TestReplicasShareOnlyTheDatabase(t *testing.T) {
	t.Parallel()
	url, dirA, dirB := pgtest.NewDatabase(t), t.TempDir(), t.TempDir()
	a := replica(t, url, dirA, "a")
	if err := a.waitExamples(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dirA, "builds")); err != nil {
		t.Fatal(err)
	}
	b := replica(t, url, dirB, "b", "--examples=false")

	run := b.finish(t, b.start(t, "echo", `{"message":"built on a"}`, nil).ID)
	wantStatus(t, run, client.StatusSucceeded)
	if out := b.record(t, run.ID, "OUTPUT"); out["input"].(map[string]any)["message"] != "built on a" {
		t.Errorf("OUTPUT = %v", out)
	}
	b.waitLog(t, run.ID, "message: built on a")

	// The archive B fetched, and the same archive through B's API.
	req, err := http.NewRequestWithContext(testCtx(t), "GET", b.URL+"/v2/actor-builds/"+run.BuildID+"/artifact", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("artifact: %d %v", resp.StatusCode, err)
	}
	sum := sha256.Sum256(body)
	digest := hex.EncodeToString(sum[:])
	if et := resp.Header.Get("ETag"); et != `"sha256:`+digest+`"` {
		t.Fatalf("ETag %q, body hashes to %s", et, digest)
	}
	if _, err := os.Stat(filepath.Join(dirB, "artifacts", digest, "main.js")); err != nil {
		t.Errorf("B's cache of the build: %v", err)
	}
}
