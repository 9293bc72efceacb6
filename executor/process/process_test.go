package process_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/executor/executortest"
	"github.com/troupehq/troupe/executor/process"
	"github.com/troupehq/troupe/internal/bwrap"
	"golang.org/x/sys/unix"
)

// newExecutor samples fast, and waits long for output to drain so that a
// test passing because of the drain timeout rather than the group kill
// would show up as slow.
// The executor is sandboxed with bubblewrap, as `troupe serve` runs it by
// default; newPlainExecutor is the one of `troupe serve --sandbox none`.
func newExecutor(t *testing.T, noCgroup bool) *process.Executor {
	t.Helper()
	return process.New(process.Options{
		SampleInterval: 100 * time.Millisecond,
		WaitDelay:      time.Minute,
		NoCgroup:       noCgroup,
		Sandbox:        &process.Sandbox{Bwrap: findBwrap(t), UIDBase: testUIDBase},
	})
}

func newPlainExecutor(noCgroup bool) *process.Executor {
	return process.New(process.Options{
		SampleInterval: 100 * time.Millisecond,
		WaitDelay:      time.Minute,
		NoCgroup:       noCgroup,
	})
}

// testUIDBase gives this test binary sandbox user ids of its own: a user's
// RLIMIT_NPROC counts its processes on the whole host, so sharing ids with
// a troupe server or another test binary running at the same time (the
// default range) would let their processes count against these tests'
// limits.
var testUIDBase = 1_600_000_000 + os.Getpid()%4096*process.DefaultUIDs

func findBwrap(t *testing.T) string {
	t.Helper()
	path, err := bwrap.Find()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMain(m *testing.M) {
	if os.Getenv("TROUPE_TEST_SERVER") == "1" {
		fakeServer()
		return
	}
	os.Exit(m.Run())
}

func TestExecutor(t *testing.T) {
	t.Parallel()
	t.Logf("memory enforcement here: %s", newExecutor(t, false).MemoryEnforcement())
	executortest.Run(t, func(t *testing.T) troupe.Executor { return newExecutor(t, false) })
}

func TestExecutorSampling(t *testing.T) {
	t.Parallel()
	ex := newExecutor(t, true)
	if got := ex.MemoryEnforcement(); got != "sampling" {
		t.Fatalf("MemoryEnforcement() = %q, want sampling", got)
	}
	executortest.Run(t, func(t *testing.T) troupe.Executor { return newExecutor(t, true) })
}

func TestExecutorNoSandbox(t *testing.T) {
	t.Parallel()
	executortest.Run(t, func(t *testing.T) troupe.Executor { return newPlainExecutor(false) })
}

func TestExecutorNoSandboxSampling(t *testing.T) {
	t.Parallel()
	executortest.Run(t, func(t *testing.T) troupe.Executor { return newPlainExecutor(true) })
}

func TestStartMissingCommand(t *testing.T) {
	t.Parallel()
	ex := newExecutor(t, false)
	_, err := ex.Start(t.Context(), &troupe.ExecSpec{
		Command: []string{"troupe-no-such-command"}, Dir: t.TempDir(), Env: executortest.Env,
	})
	if !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("Start() error = %v, want exec.ErrNotFound", err)
	}
}

func TestCommandFromSpecPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := dir + "/bin"
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin+"/hello-troupe", []byte("#!/bin/sh\necho hello from $0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := executortest.NewOutput(t, "")
	p, err := newExecutor(t, false).Start(t.Context(), &troupe.ExecSpec{
		Command: []string{"hello-troupe"}, Dir: dir, Env: []string{"PATH=" + bin + ":/usr/bin:/bin"}, Output: out.Func,
	})
	if err != nil {
		t.Fatal(err)
	}
	executortest.WaitDone(t, p, executortest.DoneTimeout)
	if got, want := out.Lines(), "hello from "+bin+"/hello-troupe"; len(got) != 1 || got[0] != want {
		t.Errorf("output = %q, want [%s]", got, want)
	}
}

func TestVeryLongLineIsSplit(t *testing.T) {
	t.Parallel()
	size := 2*process.MaxLineBytes + 1000
	out := executortest.NewOutput(t, "")
	p := executortest.Start(t, newExecutor(t, false), fmt.Sprintf(`head -c %d /dev/zero | tr '\0' y; echo; echo next`, size), out, 0)
	executortest.WaitDone(t, p, executortest.DoneTimeout)
	lines := out.Lines()
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 3 pieces and one more line", len(lines))
	}
	for i, want := range []int{process.MaxLineBytes, process.MaxLineBytes, 1000} {
		if len(lines[i]) != want || strings.Trim(lines[i], "y") != "" {
			t.Errorf("piece %d has %d bytes, want %d y's", i, len(lines[i]), want)
		}
	}
	if lines[3] != "next" {
		t.Errorf("last line = %q, want next", lines[3])
	}
}

// TestLinesAcrossWrites checks that lines written in pieces, with pauses
// between them so that each piece is read on its own (a "\r\n" cut after its
// "\r", a line longer than a read buffer), come out whole, and that the
// last line is delivered without its newline.
func TestLinesAcrossWrites(t *testing.T) {
	t.Parallel()
	out := executortest.NewOutput(t, "")
	script := `printf 'first\r'; sleep 0.05; printf '\nsec'; sleep 0.05; printf 'ond\n'; ` +
		`head -c 40000 /dev/zero | tr '\0' y; sleep 0.05; printf 'z\r\nlast'`
	p := executortest.Start(t, newExecutor(t, false), script, out, 0)
	executortest.WaitDone(t, p, executortest.DoneTimeout)
	want := []string{"first", "second", strings.Repeat("y", 40000) + "z", "last"}
	if got := out.Lines(); !slices.Equal(got, want) {
		t.Errorf("got %d lines %.40q, want %d %.40q", len(got), got, len(want), want)
	}
}

// TestKillReachesGrandchild checks that the background child itself is
// dead, not only that the output closed.
func TestKillReachesGrandchild(t *testing.T) {
	t.Parallel()
	out := executortest.NewOutput(t, "")
	ready := make(chan string, 1)
	// Without a sandbox: pids printed inside one are its namespace's.
	p, err := newPlainExecutor(false).Start(t.Context(), &troupe.ExecSpec{
		Command: []string{"sh", "-c", `sleep 100 & echo $!; sleep 100`}, Dir: t.TempDir(), Env: executortest.Env,
		Output: func(line string) { out.Func(line); ready <- line },
	})
	if err != nil {
		t.Fatal(err)
	}
	gpid, err := strconv.Atoi(<-ready)
	if err != nil {
		t.Fatal(err)
	}
	exited := watchExit(t, gpid)
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	executortest.WaitDone(t, p, executortest.DoneTimeout)
	waitExit(t, exited, gpid)
}

func TestShortRunHasStats(t *testing.T) {
	t.Parallel()
	// Without a sandbox a run this short may end before its first sample.
	p := executortest.Start(t, newExecutor(t, false), `i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done`, nil, 0)
	executortest.WaitDone(t, p, executortest.DoneTimeout)
	if st := p.Stats(); st.MemMaxBytes == 0 || st.MemAvgBytes == 0 || st.CPUAvgUsage == 0 || st.MemMaxBytes > 50<<20 {
		t.Errorf("Stats() = %+v; want memory (a few MB) and CPU figures", st)
	}
}

// TestMemMaxIsTheProcesssOwn checks that a process that does nothing does
// not report the server's peak memory (which a child inherits in its
// rusage's ru_maxrss).
func TestMemMaxIsTheProcesssOwn(t *testing.T) {
	const serverPeak = 300 << 20
	ballast := make([]byte, serverPeak)
	for i := 0; i < len(ballast); i += 4096 {
		ballast[i] = 1
	}
	for name, ex := range map[string]*process.Executor{"sandbox": newExecutor(t, false), "none": newPlainExecutor(false)} {
		t.Run(name, func(t *testing.T) {
			p := executortest.Start(t, ex, `true`, nil, 0)
			executortest.WaitDone(t, p, executortest.DoneTimeout)
			if st := p.Stats(); st.MemMaxBytes > 50<<20 {
				t.Errorf("MemMaxBytes of true = %d MB, want the few MB of its own (the server peaked over %d MB)",
					st.MemMaxBytes>>20, serverPeak>>20)
			}
		})
	}
	runtime.KeepAlive(ballast)
}

// marker returns an argument unique to this test run, to find processes by.
func marker() string {
	return strconv.Itoa(1_000_000 + int(time.Now().UnixNano()%8_000_000))
}

// alive lists host processes whose command line contains arg.
func alive(arg string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(arg)) && !bytes.Contains(b, []byte("-test.")) {
			found = append(found, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found
}

func TestSandboxSetsidChildDiesWithProcess(t *testing.T) {
	t.Parallel()
	m := marker()
	out := executortest.NewOutput(t, "started")
	p := executortest.Start(t, newExecutor(t, false), `setsid sleep `+m+` & echo started`, out, 0)
	executortest.WaitSeen(t, out, executortest.DoneTimeout)
	executortest.WaitDone(t, p, executortest.DoneTimeout)
	deadline := time.Now().Add(executortest.DoneTimeout)
	for len(alive("sleep\x00"+m)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the setsid child outlived its process: %q", alive("sleep\x00"+m))
		}
		time.Sleep(20 * time.Millisecond) // SIGKILL takes effect asynchronously; nothing to wait on
	}
}

// TestSandboxKillRightAfterStart kills processes while bwrap is still
// making their sandbox: nothing of them may stay behind.
func TestSandboxKillRightAfterStart(t *testing.T) {
	t.Parallel()
	ex := newExecutor(t, false)
	m := marker()
	for range 5 {
		p := executortest.Start(t, ex, `sleep `+m, nil, 0)
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		executortest.WaitDone(t, p, executortest.DoneTimeout)
	}
	deadline := time.Now().Add(executortest.DoneTimeout)
	for len(alive(m)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("killed sandboxes left processes behind: %q", alive(m))
		}
		time.Sleep(20 * time.Millisecond) // SIGKILL takes effect asynchronously; nothing to wait on
	}
}

func TestSandboxSetsidChildCountsForMemory(t *testing.T) {
	t.Parallel()
	p := executortest.Start(t, newExecutor(t, true),
		`setsid sh -c 'x=$(head -c 400000000 /dev/zero | tr "\0" a); sleep 100' & sleep 100`, nil, 128)
	st := executortest.WaitDone(t, p, 30*time.Second)
	if !st.OutOfMemory {
		t.Errorf("Exit() = %+v, want OutOfMemory", st)
	}
}

func TestSandboxBoundsProcesses(t *testing.T) {
	t.Parallel()
	ex := process.New(process.Options{Sandbox: &process.Sandbox{Bwrap: findBwrap(t), UIDBase: testUIDBase, MaxProcs: 40}})
	out := executortest.NewOutput(t, "")
	p := executortest.Start(t, ex, `n=0; while [ $n -lt 1000 ] && (sleep 100 &) 2>/dev/null; do n=$((n+1)); done; echo forked=$n`, out, 0)
	executortest.WaitDone(t, p, executortest.DoneTimeout)
	var n int
	lines := out.Lines()
	if len(lines) == 0 {
		t.Fatal("no output")
	}
	if _, err := fmt.Sscanf(lines[len(lines)-1], "forked=%d", &n); err != nil || n == 0 || n >= 40 {
		t.Errorf("output %q: want 0 < forked < 40", lines)
	}
}

func TestNoSandboxWarning(t *testing.T) {
	t.Parallel()
	ex := process.New(process.Options{WarnNoSandbox: true})
	out := executortest.NewOutput(t, "")
	p := executortest.Start(t, ex, `echo hello`, out, 0)
	executortest.WaitDone(t, p, executortest.DoneTimeout)
	if got := out.Lines(); len(got) != 2 || got[0] != process.NoSandboxWarning || got[1] != "hello" {
		t.Errorf("output = %q, want the warning first", got)
	}
}

func TestStartTime(t *testing.T) {
	t.Parallel()
	p := executortest.Start(t, newExecutor(t, false), `sleep 100`, nil, 0)
	if got, want := p.StartTime(), statStartTime(t, p.PID()); got != want || got == 0 {
		t.Errorf("StartTime() = %d, want %d from /proc", got, want)
	}
}

// TestKillOrphanLeaderGone kills what is left of a group whose leader died
// with the server that started it.
func TestKillOrphanLeaderGone(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sh", "-c", `sleep 100 & echo $!; exec sleep 100`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	gpid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(gpid, syscall.SIGKILL) })
	start := statStartTime(t, cmd.Process.Pid)
	exited := watchExit(t, gpid)
	_ = cmd.Process.Kill() // the leader alone
	_ = cmd.Wait()

	ex := newExecutor(t, false)
	// A start time after the grandchild's: not this group.
	if err := ex.KillOrphan(cmd.Process.Pid, statStartTime(t, gpid)+1000); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", gpid)); err != nil {
		t.Fatalf("grandchild gone after KillOrphan with a later start time: %v", err)
	}
	if err := ex.KillOrphan(cmd.Process.Pid, start); err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, gpid)
}

// TestServerDeathKillsProcess runs this test binary as a server that starts
// a process, kills that server, and checks that the process dies with it.
func TestServerDeathKillsProcess(t *testing.T) {
	t.Parallel()
	srv := exec.Command(os.Args[0], "-test.run=^$")
	srv.Env = append(os.Environ(), "TROUPE_TEST_SERVER=1")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = srv.Process.Kill()
		t.Fatalf("fake server: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	exited := watchExit(t, pid)
	_ = srv.Process.Kill()
	_ = srv.Wait()
	waitExit(t, exited, pid)
}

// fakeServer starts a sleeping process, prints its pid and waits to be
// killed.
func fakeServer() {
	p, err := process.New(process.Options{}).Start(context.Background(), &troupe.ExecSpec{
		Command: []string{"sleep", "100"}, Env: executortest.Env,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(p.PID())
	<-p.Done()
	os.Exit(1)
}

// watchExit opens a pidfd for pid; it becomes readable when pid exits.
func watchExit(t *testing.T, pid int) int {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", pid, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// waitExit fails unless the process of pidfd exits within DoneTimeout.
func waitExit(t *testing.T, pidfd, pid int) {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(executortest.DoneTimeout)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("process %d still alive", pid)
		}
		return
	}
}

func statStartTime(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	n, err := strconv.ParseUint(string(fields[22-3]), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPrivateDir checks a working folder made in the sandbox: the command
// and PATH entries are found through its links to the build, the process
// writes at its top level, what it writes counts as its memory, and nothing
// of the folder exists on the host.
func TestPrivateDir(t *testing.T) {
	t.Parallel()
	build := t.TempDir()
	if err := os.Mkdir(build+"/bin", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(build+"/bin/helper", []byte("#!/bin/sh\necho helper ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nhelper\necho \"pwd=$PWD home=$HOME\"\nhead -c 30000000 /dev/zero > big && echo written\nexec sleep 60\n"
	if err := os.WriteFile(build+"/main.sh", []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() + "/runs/r1" // not made: the sandbox makes it
	plain := newPlainExecutor(true)
	if plain.PrivateDirs() {
		t.Error("an executor without a sandbox reports private folders")
	}
	if _, err := plain.Start(t.Context(), &troupe.ExecSpec{Command: []string{"true"}, Dir: dir, PrivateDir: true, BuildDir: build}); err == nil {
		t.Error("an executor without a sandbox started a process in a private folder")
	}
	ex := newExecutor(t, true)
	if !ex.PrivateDirs() {
		t.Fatal("a sandboxed executor reports no private folders")
	}
	out := executortest.NewOutput(t, "written")
	p, err := ex.Start(t.Context(), &troupe.ExecSpec{
		RunID: "private", Generation: 1, Command: []string{"./main.sh"}, Dir: dir, PrivateDir: true, BuildDir: build,
		Env:          []string{"PATH=bin:/usr/bin:/bin", "HOME=" + dir, "PWD=" + dir},
		MemoryMbytes: 256, Output: out.Func,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Kill()
		<-p.Done()
	})
	executortest.WaitSeen(t, out, executortest.DoneTimeout)
	if got := strings.Join(out.Lines(), "\n"); !strings.Contains(got, "helper ran\npwd="+dir+" home="+dir+"\nwritten") {
		t.Errorf("output:\n%s", got)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the working folder exists on the host: %v", err)
	}
	deadline := time.Now().Add(executortest.DoneTimeout)
	for p.Stats().MemCurrentBytes < 30_000_000 {
		if time.Now().After(deadline) {
			t.Fatalf("the 30 MB file in the working folder is not counted as memory: %+v", p.Stats())
		}
		time.Sleep(20 * time.Millisecond) // the sampler runs every 100 ms; nothing to wait on
	}
}
