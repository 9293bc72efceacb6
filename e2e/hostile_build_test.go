package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/client"
)

// Hostile builds: an actor's package.json scripts run during its build
// (npm install), so they are untrusted code like a run.

// buildFiles returns the files of a Node.js actor whose package.json has
// these scripts (a JSON object's members) and no dependencies.
func buildFiles(scripts string) []client.SourceFile {
	return []client.SourceFile{
		{Name: "Dockerfile", Format: "TEXT", Content: "FROM node:20\nCMD [\"node\", \"main.js\"]\n"},
		{Name: "main.js", Format: "TEXT", Content: "console.log('hi');\n"},
		{Name: "package.json", Format: "TEXT", Content: `{"name":"p","version":"1.0.0","scripts":{` + scripts + `}}`},
	}
}

// sleepForever returns scripts whose preinstall says "sleeping" and sleeps
// for ever, and the marker its processes' command lines carry.
func sleepForever() (string, string) {
	marker := fmt.Sprintf("8%d.%d", rand.IntN(1000), rand.IntN(1000000))
	return `"preinstall":"echo sleeping; sleep ` + marker + `"`, marker
}

// buildOf creates an actor with these files and starts a build of it.
func (s *server) buildOf(t *testing.T, files []client.SourceFile, opts *client.BuildOptions) *client.Build {
	t.Helper()
	ctx := testCtx(t)
	a, err := s.c.Actors().Create(ctx, &client.ActorCreate{
		Name: "b-" + strings.ToLower(troupe.NewID()),
		Versions: []client.Version{{VersionNumber: "0.1", SourceType: client.SourceFiles,
			SourceFiles: files, BuildTag: "latest", EnvVars: []client.EnvVar{}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.c.Actor(a.ID).Build(ctx, "0.1", opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// finishBuild waits for the build to finish and returns it. It waits up to
// five minutes: a build that installs dependencies and archives its folder
// costs seconds of CPU, which a loaded machine running the race detector
// stretches far.
func (s *server) finishBuild(t *testing.T, id string) *client.Build {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, err := s.c.Build(id).WaitForFinish(ctx, 300)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Status.Terminal() {
		t.Fatalf("build %s still %s after waiting; log:\n%s", id, b.Status, s.buildLog(t, id))
	}
	return b
}

func (s *server) buildLog(t *testing.T, id string) string {
	t.Helper()
	log, err := s.c.Build(id).Log().Get(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return log
}

// waitBuildLog follows the build's log until a line contains want.
func (s *server) waitBuildLog(t *testing.T, id, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testCtx(t), 60*time.Second)
	defer cancel()
	stream, err := s.c.Build(id).Log().Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	sc := bufio.NewScanner(stream)
	for sc.Scan() {
		// npm echoes the script's text first; wait for its output.
		if strings.HasSuffix(sc.Text(), " "+want) {
			return
		}
	}
	t.Fatalf("the log of build %s ended without %q:\n%s", id, want, s.buildLog(t, id))
}

// processesWith returns the ids of the machine's processes whose command
// line contains marker.
func processesWith(t *testing.T, marker string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(marker)) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

func noProcessesLeft(t *testing.T, marker string) {
	t.Helper()
	if pids := processesWith(t, marker); len(pids) > 0 {
		t.Errorf("processes %v of the build outlived it", pids)
	}
}

// TestHostileBuilds: a preinstall that sleeps for ever ends TIMED-OUT, or
// ABORTED through the API, its processes killed, while other builds
// proceed; a build that floods its log is capped.
func TestHostileBuilds(t *testing.T) {
	t.Parallel()
	s, err := launch(t.TempDir(), "--examples=false")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	ctx := testCtx(t)

	t.Run("TimeoutAndOthersNotBlocked", func(t *testing.T) {
		scriptA, markerA := sleepForever()
		scriptB, markerB := sleepForever()
		timed := s.buildOf(t, buildFiles(scriptA), &client.BuildOptions{TimeoutSecs: 4})
		blocking := s.buildOf(t, buildFiles(scriptB), nil)
		s.waitBuildLog(t, blocking.ID, "sleeping")
		// Two builds sleep; a third one still runs and finishes.
		normal := s.finishBuild(t, s.buildOf(t, buildFiles(`"postinstall":"echo installed"`), nil).ID)
		if normal.Status != client.StatusSucceeded {
			t.Fatalf("the normal build is %s:\n%s", normal.Status, s.buildLog(t, normal.ID))
		}
		got := s.finishBuild(t, timed.ID)
		if got.Status != client.StatusTimedOut || !strings.Contains(got.StatusMessage, "timed out") || got.Options.TimeoutSecs != 4 {
			t.Fatalf("the sleeping build is %s (%q, timeout %d); want TIMED-OUT", got.Status, got.StatusMessage, got.Options.TimeoutSecs)
		}
		noProcessesLeft(t, markerA)

		// Abort through the API.
		ab, err := s.c.Build(blocking.ID).Abort(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ab.Status != client.StatusAborted {
			t.Fatalf("abort answered %s, want ABORTED", ab.Status)
		}
		noProcessesLeft(t, markerB)
		again, err := s.c.Build(blocking.ID).Abort(ctx)
		if err != nil || again.Status != client.StatusAborted || !again.FinishedAt.Equal(*ab.FinishedAt) {
			t.Errorf("aborting the aborted build again = %+v, %v; want it unchanged", again, err)
		}
	})

	t.Run("LogFlood", func(t *testing.T) {
		bd := s.buildOf(t, buildFiles(`"preinstall":"yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 25000000"`), nil)
		got := s.finishBuild(t, bd.ID)
		log := s.buildLog(t, bd.ID)
		if got.Status != client.StatusSucceeded {
			t.Fatalf("flooding build is %s", got.Status)
		}
		if len(log) > 10<<20+200 || !strings.Contains(log[len(log)-200:], "size limit") {
			t.Errorf("the flooded log has %d bytes and ends %q; want 10 MB and a notice", len(log), log[max(0, len(log)-200):])
		}
	})
}

// TestStopKillsBuilds: stopping the server kills a running build's
// processes and ends it FAILED with a message, which a restarted server
// keeps; a server killed with SIGKILL takes its builds' processes with it,
// and ends those builds FAILED when it starts again.
func TestStopKillsBuilds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := launch(dir, "--examples=false")
	if err != nil {
		t.Fatal(err)
	}
	script, marker := sleepForever()
	bd := s.buildOf(t, buildFiles(script), nil)
	s.waitBuildLog(t, bd.ID, "sleeping")
	s.stop()
	noProcessesLeft(t, marker)

	s2, err := launch(dir, "--examples=false")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.c.Build(bd.ID).Get(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != client.StatusFailed || !strings.Contains(got.StatusMessage, "server stopped") {
		t.Errorf("after a restart the build is %s (%q); want FAILED with a message", got.Status, got.StatusMessage)
	}

	script, marker = sleepForever()
	crashed := s2.buildOf(t, buildFiles(script), nil)
	s2.waitBuildLog(t, crashed.ID, "sleeping")
	pids := processesWith(t, marker)
	if len(pids) == 0 {
		t.Fatal("the sleeping build has no processes")
	}
	s2.crash()
	waitProcessesGone(t, pids)

	s3, err := launch(dir, "--examples=false")
	if err != nil {
		t.Fatal(err)
	}
	defer s3.stop()
	got, err = s3.c.Build(crashed.ID).Get(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != client.StatusFailed || !strings.Contains(got.StatusMessage, "server stopped") {
		t.Errorf("after a crash and a restart the build is %s (%q); want FAILED with a message", got.Status, got.StatusMessage)
	}
}

// waitProcessesGone fails unless every process in pids exits within 10 s.
func waitProcessesGone(t *testing.T, pids []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range pids {
		pid, err := strconv.Atoi(p)
		if err != nil {
			t.Fatal(err)
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone already
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, int(max(time.Until(deadline).Milliseconds(), 0)))
			if errors.Is(err, unix.EINTR) {
				continue
			}
			unix.Close(fd)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatalf("process %d of the build outlived the server by 10 s", pid)
			}
			break
		}
	}
}

// hasLogLine reports whether a line of the log, after its timestamp, is
// text (npm's echo of a script's text never is).
func hasLogLine(log, text string) bool {
	for line := range strings.Lines(log) {
		if _, rest, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " "); rest == text {
			return true
		}
	}
	return false
}

// TestHostileBuildSandbox: a preinstall script, in the build sandbox, does
// not run as root and sees neither the server's data folder (database,
// another build's folder) nor its process, environment or token; it can
// still write its own build folder, and the build succeeds.
func TestHostileBuildSandbox(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := launch(dir, "--examples=false")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	other := s.finishBuild(t, s.buildOf(t, buildFiles(""), nil).ID)
	if other.Status != client.StatusSucceeded {
		t.Fatalf("plain build is %s", other.Status)
	}
	data, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	probe := func(test, seen, unseen string) string {
		return `if ` + test + `; then echo ` + seen + `; else echo ` + unseen + `; fi; `
	}
	script := `echo uid=$(id -u); ` +
		probe(`test -e `+data+`/troupe.db`, "saw-db", "no-db") +
		probe(`test -e `+data+`/builds/`+other.ID, "saw-other-build", "no-other-build") +
		probe(`test -e /proc/`+fmt.Sprint(s.cmd.Process.Pid)+`/environ`, "saw-server", "no-server") +
		probe(`env | grep -q ^TROUPE_`, "saw-token", "no-token") +
		probe(`touch own-file`, "wrote-own", "cannot-write-own")
	bd := s.buildOf(t, buildFiles(`"preinstall":"`+script+`"`), nil)
	got := s.finishBuild(t, bd.ID)
	log := s.buildLog(t, bd.ID)
	if got.Status != client.StatusSucceeded {
		t.Fatalf("probing build is %s:\n%s", got.Status, log)
	}
	for _, want := range []string{"no-db", "no-other-build", "no-server", "no-token", "wrote-own"} {
		if !hasLogLine(log, want) {
			t.Errorf("the build log lacks %q:\n%s", want, log)
		}
	}
	if hasLogLine(log, "uid=0") || !strings.Contains(log, " uid=") {
		t.Errorf("the script ran as root (or did not run):\n%s", log)
	}
}
