package bwrap_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/troupehq/troupe/internal/bwrap"
	"golang.org/x/sys/unix"
)

func find(t *testing.T) string {
	t.Helper()
	path, err := bwrap.Find()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// run runs script with sh in s and returns its combined output.
func run(t *testing.T, s *bwrap.Sandbox, script string) (string, error) {
	t.Helper()
	cmd, err := s.Command([]string{"sh", "-c", script})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSandboxView(t *testing.T) {
	bin := find(t)
	base := t.TempDir()
	data := filepath.Join(base, "data")
	build := filepath.Join(data, "builds", "b1")
	other := filepath.Join(data, "builds", "b2")
	work := filepath.Join(data, "runs", "r1")
	for _, d := range []string{build, other, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(data, "secret"), "s3cret")
	mustWrite(t, filepath.Join(build, "main.txt"), "original")
	mustWrite(t, filepath.Join(other, "other.txt"), "other")
	if err := os.Chmod(filepath.Join(build, "main.txt"), 0o666); err != nil {
		t.Fatal(err)
	}
	uid := 1_500_000_000 + os.Getpid()%1000
	if os.Geteuid() == 0 {
		if err := os.Chown(work, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	s := &bwrap.Sandbox{
		Bwrap: bin, ReadOnly: []string{build}, Writable: []string{work}, Hide: []string{data},
		Dir: work, Env: []string{"PATH=/usr/bin:/bin", "ONLY=this"}, UID: uid, GID: uid, TmpBytes: 1 << 20,
	}
	out, err := run(t, s, `
		echo "env=$(env | grep -v '^PWD=' | sort | tr '\n' ' ')"
		echo "pid=$$"
		echo "uid=$(id -u)"
		grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs):' /proc/self/status | tr -d '\t'
		echo work > out.txt && echo "work-writable"
		echo x > /tmp/x && echo "tmp-writable"
		echo x > /dev/shm/x && echo "shm-writable"
		echo tampered > `+build+`/main.txt || echo "build-read-only"
		cat `+build+`/main.txt; echo
		ls `+other+` 2>/dev/null || echo "other-build-invisible"
		cat `+data+`/secret 2>/dev/null || echo "secret-invisible"
		head -c 2000000 /dev/zero > /tmp/big 2>/dev/null || echo "tmp-capped"
	`)
	if err != nil {
		t.Fatalf("sandbox: %v\n%s", err, out)
	}
	want := []string{
		"env=ONLY=this PATH=/usr/bin:/bin ", "pid=2", "CapEff:0000000000000000", "CapBnd:0000000000000000",
		"NoNewPrivs:1", "work-writable", "tmp-writable", "shm-writable", "build-read-only", "original",
		"other-build-invisible", "secret-invisible", "tmp-capped",
	}
	if os.Geteuid() == 0 {
		want = append(want, fmt.Sprintf("uid=%d", uid), "CapPrm:0000000000000000")
	}
	for _, w := range want {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(work, "out.txt")); err != nil || string(b) != "work\n" {
		t.Errorf("work folder out.txt = %q, %v", b, err)
	}
	if b, _ := os.ReadFile(filepath.Join(build, "main.txt")); string(b) != "original" {
		t.Errorf("build file = %q after the run", b)
	}
}

func TestInfoNamesThePIDNamespace(t *testing.T) {
	bin := find(t)
	cmd, err := (&bwrap.Sandbox{Bwrap: bin, Env: []string{"PATH=/usr/bin:/bin"}, UID: 65534, GID: 65534}).
		Command([]string{"sleep", "60"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	info, err := cmd.Info()
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal(err)
	}
	fd, err := info.Pidfd()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", info.ChildPID))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("pid:[%d]", info.PIDNamespace); link != want {
		t.Errorf("child %d is in %s, info says %s", info.ChildPID, link, want)
	}
	self, _ := os.Readlink("/proc/self/ns/pid")
	if link == self {
		t.Errorf("the sandbox shares the caller's PID namespace %s", self)
	}
	// Killing its first process ends the sandbox, bwrap included.
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Error("bwrap exited 0 after its sandbox was killed")
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 10_000); n != 1 || err != nil {
		t.Errorf("the sandbox's first process is alive 10 s after SIGKILL (%v)", err)
	}
}

func TestMaxProcs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("MaxProcs applies when the caller is root") // the test command runs as root
	}
	bin := find(t)
	uid := 1_500_001_000 + os.Getpid()%1000
	s := &bwrap.Sandbox{Bwrap: bin, Env: []string{"PATH=/usr/bin:/bin"}, UID: uid, GID: uid, MaxProcs: 20}
	out, err := run(t, s, `n=0; while [ $n -lt 100 ] && (sleep 30 &) 2>/dev/null; do n=$((n+1)); done; echo "started=$n"`)
	if err != nil {
		t.Fatalf("sandbox: %v\n%s", err, out)
	}
	var n int
	if _, err := fmt.Sscanf(out[strings.Index(out, "started="):], "started=%d", &n); err != nil || n >= 20 || n == 0 {
		t.Errorf("started %d background processes under MaxProcs 20 (%v):\n%s", n, err, out)
	}
}

func TestEmptyCommand(t *testing.T) {
	if _, err := (&bwrap.Sandbox{UID: 1, GID: 1}).Command(nil); err == nil {
		t.Error("Command(nil) succeeded")
	}
}

func mustWrite(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWorkFolder checks the private working folder: links to the build's
// entries, writable at the top level only, capped, and nothing of it on the
// host.
func TestWorkFolder(t *testing.T) {
	bin := find(t)
	data := filepath.Join(t.TempDir(), "data")
	build := filepath.Join(data, "builds", "b1")
	work := filepath.Join(data, "runs", "r1")
	if err := os.MkdirAll(filepath.Join(build, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(build, "main.txt"), "original")
	mustWrite(t, filepath.Join(build, "lib", "dep.txt"), "dep")
	mustWrite(t, filepath.Join(build, "run.sh"), "echo ran from $PWD")
	uid := 1_500_002_000 + os.Getpid()%1000
	s := &bwrap.Sandbox{
		Bwrap: bin, ReadOnly: []string{build}, Work: work, WorkLinks: build, Hide: []string{data},
		Dir: work, Env: []string{"PATH=/usr/bin:/bin", "PWD=" + work}, UID: uid, GID: uid, TmpBytes: 1 << 20,
	}
	out, err := run(t, s, `
		for f in lib main.txt run.sh; do echo "$f -> $(readlink $f)"; done
		cat main.txt lib/dep.txt; echo
		sh ./run.sh
		echo own > out.txt && cat out.txt
		echo tampered > main.txt 2>/dev/null || echo "link-read-only"
		echo x > lib/new.txt 2>/dev/null || echo "lib-read-only"
		rm main.txt && echo mine > main.txt && cat main.txt
		ls `+filepath.Dir(work)+`
		head -c 2000000 /dev/zero > big 2>/dev/null || echo "work-capped"
	`)
	if err != nil {
		t.Fatalf("sandbox: %v\n%s", err, out)
	}
	want := []string{
		"lib -> " + filepath.Join(build, "lib"), "main.txt -> " + filepath.Join(build, "main.txt"),
		"run.sh -> " + filepath.Join(build, "run.sh"), "originaldep", "ran from " + work, "own",
		"link-read-only", "lib-read-only", "mine", "r1", "work-capped",
	}
	for _, w := range want {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if _, err := os.Lstat(work); !os.IsNotExist(err) {
		t.Errorf("the working folder exists on the host: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(build, "main.txt")); string(b) != "original" {
		t.Errorf("build file = %q after the run", b)
	}
}
