package e2e_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe/client"
)

// The hostile actor (testdata/hostile) attacks the server it runs on; its
// input names the attack and its OUTPUT record says what each attempt got.
// Every attack must fail while the run's own work (its log, its OUTPUT
// record) succeeds.

var (
	pushHostileOnce sync.Once
	pushHostileOut  string
	pushHostileErr  error
)

// hostile starts the hostile actor on the shared server with the attack's
// input and waits for the run to finish.
func hostile(t *testing.T, input map[string]any, opts *client.StartOptions) *client.Run {
	t.Helper()
	s := shared
	pushHostileOnce.Do(func() { pushHostileOut, pushHostileErr = s.cli(t, "push", "testdata/hostile") })
	if pushHostileErr != nil {
		t.Fatalf("push hostile actor: %v\n%s", pushHostileErr, pushHostileOut)
	}
	body, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	return s.finish(t, s.start(t, "hostile", string(body), opts).ID)
}

// tried is what the actor reports of one attempt.
type tried struct {
	OK    bool   `json:"ok"`
	Value string `json:"value"`
	Error string `json:"error"`
}

// hostileOutput returns the run's OUTPUT record decoded into v, failing when the
// run did not store one.
func hostileOutput(t *testing.T, runID string, v any) {
	t.Helper()
	rec, err := shared.c.Run(runID).KeyValueStore().GetRecord(testCtx(t), "OUTPUT")
	if err != nil || rec == nil {
		t.Fatalf("OUTPUT of %s: %v (record %v); log:\n%s", runID, err, rec, shared.log(t, runID))
	}
	if err := json.Unmarshal(rec.Value, v); err != nil {
		t.Fatalf("OUTPUT %q: %v", rec.Value, err)
	}
}

func wantFailed(t *testing.T, name string, a tried) {
	t.Helper()
	if a.OK || a.Error == "" {
		t.Errorf("%s: the attack worked (%+v)", name, a)
	}
}

func TestHostileReadsDataFolder(t *testing.T) {
	t.Parallel()
	canary := "hostile-canary"
	if err := os.WriteFile(filepath.Join(shared.DataDir, canary), []byte("secret-canary"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := hostile(t, map[string]any{"attack": "read-data", "dataDir": shared.DataDir, "canary": canary}, nil)
	wantStatus(t, run, client.StatusSucceeded)
	var got struct {
		DB, RelativeDB, Canary, Builds, Runs, DataDir tried
	}
	hostileOutput(t, run.ID, &got)
	wantFailed(t, "read troupe.db", got.DB)
	wantFailed(t, "read ../../troupe.db", got.RelativeDB)
	wantFailed(t, "read a secret file of the data folder", got.Canary)
	// The folders holding its own build and run show only those.
	if got.Builds.Value != run.BuildID {
		t.Errorf("builds folder lists %+v, want only its own build %s", got.Builds, run.BuildID)
	}
	if got.Runs.Value != run.ID {
		t.Errorf("runs folder lists %+v, want only its own run %s", got.Runs, run.ID)
	}
	if got.DataDir.Value != "builds,runs" {
		t.Errorf("data folder lists %+v, want only builds,runs", got.DataDir)
	}
}

func TestHostileReadsServerEnvironment(t *testing.T) {
	t.Parallel()
	secret := "TROUPE_TOKEN=" + testToken
	run := hostile(t, map[string]any{"attack": "environ", "serverPid": shared.cmd.Process.Pid, "secret": secret}, nil)
	wantStatus(t, run, client.StatusSucceeded)
	var got struct {
		Server  tried
		Holders []string
		Visible int
		Own     []string
	}
	hostileOutput(t, run.ID, &got)
	if got.Server.OK && got.Server.Value != "false" {
		t.Errorf("read the server's environ: %+v", got.Server)
	}
	if len(got.Holders) > 0 || len(got.Own) > 0 {
		t.Errorf("processes %v hold the server's token; own TROUPE variables %v", got.Holders, got.Own)
	}
	// Its /proc is its PID namespace's: bwrap's init, node, nothing of the host.
	if got.Visible > 5 || got.Visible == 0 {
		t.Errorf("the run sees %d processes in /proc, want only its own few", got.Visible)
	}
}

func TestHostileSetsidOutlivesRun(t *testing.T) {
	t.Parallel()
	marker := strconv.Itoa(7_000_000 + int(time.Now().UnixNano()%1_000_000))
	run := hostile(t, map[string]any{"attack": "setsid", "marker": marker}, nil)
	wantStatus(t, run, client.StatusSucceeded)
	var got struct{ Spawned int }
	hostileOutput(t, run.ID, &got)
	if got.Spawned == 0 {
		t.Fatalf("the actor did not start its setsid child")
	}
	waitGone(t, marker)
}

// waitGone fails unless, within a few seconds, no host process has marker
// as an argument. Killing a PID namespace is asynchronous: its processes
// vanish shortly after its first process died, with nothing to wait on.
func waitGone(t *testing.T, marker string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := withArg(marker)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes outlived their run: %q", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// withArg lists the host processes that have arg as an argument.
func withArg(arg string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
		for _, a := range args[1:] {
			if string(a) == arg {
				found = append(found, e.Name()+": "+string(bytes.Join(args, []byte(" "))))
				break
			}
		}
	}
	return found
}

func TestHostileSetsidChildAllocatesMemory(t *testing.T) {
	t.Parallel()
	run := hostile(t, map[string]any{"attack": "setsid-memory"}, &client.StartOptions{MemoryMbytes: client.Ptr(128)})
	wantStatus(t, run, client.StatusFailed)
	if !strings.Contains(message(run), "memory limit of 128 MB") {
		t.Errorf("status message %q does not name the memory limit", message(run))
	}
	if log := shared.log(t, run.ID); !strings.Contains(log, "memory hog started") {
		t.Errorf("the run's log lacks its own line:\n%s", log)
	}
}

func TestHostileWritesIntoBuild(t *testing.T) {
	t.Parallel()
	run := hostile(t, map[string]any{"attack": "write-build"}, nil)
	wantStatus(t, run, client.StatusSucceeded)
	var got struct {
		Real                                      string
		ViaLink, ViaRealPath, UnlinkReal, NewFile tried
		Chmod, ReplaceLink, Tmp                   tried
	}
	hostileOutput(t, run.ID, &got)
	wantFailed(t, "write through the run folder's link", got.ViaLink)
	wantFailed(t, "write the build's file", got.ViaRealPath)
	wantFailed(t, "remove the build's file", got.UnlinkReal)
	wantFailed(t, "add a file to the build", got.NewFile)
	wantFailed(t, "chmod the build's file", got.Chmod)
	if got.ReplaceLink.Value != "a note of its own" || got.Tmp.Value != "scratch" {
		t.Errorf("its own folder and /tmp are not writable: %+v, %+v", got.ReplaceLink, got.Tmp)
	}
	// The next run of the same build sees the original file.
	next := hostile(t, map[string]any{"attack": "read-note"}, &client.StartOptions{Build: run.BuildNumber})
	wantStatus(t, next, client.StatusSucceeded)
	if next.BuildID != run.BuildID {
		t.Fatalf("next run is of build %s, want %s", next.BuildID, run.BuildID)
	}
	var note struct{ Note string }
	hostileOutput(t, next.ID, &note)
	if note.Note != "original note\n" {
		t.Errorf("the next run read %q from the build, want the original note", note.Note)
	}
}

func TestHostileForkBomb(t *testing.T) {
	t.Parallel()
	marker := strconv.Itoa(8_000_000 + int(time.Now().UnixNano()%1_000_000))
	// 2048 sleeping processes hold ~2 GB of (shared) resident memory.
	run := hostile(t, map[string]any{"attack": "fork-bomb", "max": 10000, "marker": marker},
		&client.StartOptions{MemoryMbytes: client.Ptr(4096)})
	wantStatus(t, run, client.StatusSucceeded)
	var got struct {
		Forked int
		Stderr string
	}
	hostileOutput(t, run.ID, &got)
	if got.Forked < 100 || got.Forked >= 2048 {
		t.Errorf("forked %d processes (%q), want some and fewer than the limit of 2048", got.Forked, got.Stderr)
	}
	waitGone(t, marker)
	// Others still run.
	other := shared.finish(t, shared.start(t, "echo", `{"message":"after the bomb"}`, nil).ID)
	wantStatus(t, other, client.StatusSucceeded)
}
