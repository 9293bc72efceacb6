package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe/client"
)

// TestServeRefusesWithoutBwrap: without bubblewrap, troupe serve does not
// quietly run actors unsandboxed; it says why and what to do.
func TestServeRefusesWithoutBwrap(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, "serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--examples=false")
	cmd.Env = []string{"PATH=/nonexistent", "TROUPE_TOKEN=" + testToken, "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("troupe serve started without bwrap:\n%s", out)
	}
	for _, want := range []string{"bubblewrap", "--sandbox none"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the refusal does not mention %q:\n%s", want, out)
		}
	}
}

// TestSandboxNoneWarns: --sandbox none runs actors unsandboxed, with a
// warning at start and at the top of every run's log.
func TestSandboxNoneWarns(t *testing.T) {
	t.Parallel()
	s, err := launch(t.TempDir(), "--examples=false", "--sandbox", "none")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	if out := s.output(); !strings.Contains(out, "WARNING: --sandbox none: runs") || !strings.Contains(out, "NOT sandboxed") {
		t.Errorf("no warning at start:\n%s", out)
	}
	s.pushProject(t, map[string]string{
		".actor/actor.json": `{"actorSpecification":1,"name":"plain","version":"0.1"}`,
		"Dockerfile":        "FROM alpine\nCMD [\"sh\", \"-c\", \"echo plain-ok\"]\n",
	})
	run := s.finish(t, s.start(t, "plain", "", nil).ID)
	wantStatus(t, run, client.StatusSucceeded)
	lines := strings.Split(strings.TrimSpace(s.log(t, run.ID)), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "WARNING: this run is NOT sandboxed") || !strings.Contains(lines[1], "plain-ok") {
		t.Errorf("log does not start with the warning:\n%s", strings.Join(lines, "\n"))
	}
}

// TestMemMaxBytesIsTheRunsOwn: an actor that does nothing reports the few
// MB of its own processes, not the server's peak memory.
func TestMemMaxBytesIsTheRunsOwn(t *testing.T) {
	t.Parallel()
	s := shared
	s.pushProject(t, map[string]string{
		".actor/actor.json": `{"actorSpecification":1,"name":"does-nothing","version":"0.1"}`,
		"Dockerfile":        "FROM alpine\nCMD [\"true\"]\n",
	})
	run := s.finish(t, s.start(t, "does-nothing", "", nil).ID)
	wantStatus(t, run, client.StatusSucceeded)
	peak := serverPeak(t, s)
	// Before, memMaxBytes was the server's peak when the run started.
	if got := run.Stats.MemMaxBytes; got == 0 || got > peak/4 {
		t.Errorf("memMaxBytes of true = %d bytes, want its own few MB, far below the server's peak of %d MB", got, peak>>20)
	}
}

// serverPeak returns the peak resident memory (VmHWM) of s's process.
func serverPeak(t *testing.T, s *server) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
