package builder_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/builder"
)

// TestBuildSandbox: a preinstall script runs as an unprivileged user, in a
// PID namespace of its own (the server's process is not there), and cannot
// see the server's data folder (its database and token), but can write its
// own build folder, which is the server's again once the build is over.
func TestBuildSandbox(t *testing.T) {
	t.Parallel()
	var dataDir string
	st, b := setupWith(t, func(c *builder.Config) { dataDir = c.DataDir })
	if err := os.WriteFile(filepath.Join(dataDir, "token"), []byte("SECRET-ADMIN-TOKEN\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `echo uid=$(id -u); cat ` + dataDir + `/token || echo no-token; ` +
		`ls ` + dataDir + `/troupe.db || echo no-db; touch made-by-build && echo wrote; ` +
		`test -e /proc/` + strconv.Itoa(os.Getpid()) + ` && echo saw-server || echo no-server`
	bd := newBuild(t, st, project(`"preinstall":"`+script+`"`), troupe.BuildOptions{})
	b.Enqueue(bd.ID)
	got := waitBuild(t, st, bd.ID, finished)
	log := readLog(t, st, bd.ID)
	if got.Status != troupe.StatusSucceeded {
		t.Fatalf("build is %s (%s):\n%s", got.Status, got.StatusMessage, log)
	}
	for _, want := range []string{"no-token", "no-db", "wrote", "no-server"} {
		if !hasLine(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "SECRET-ADMIN-TOKEN") || hasLine(log, "uid=0") {
		t.Errorf("the script saw the token or ran as root:\n%s", log)
	}
	if os.Geteuid() == 0 && !hasLine(log, "uid="+strconv.Itoa(builder.DefaultBuildUID)) {
		t.Errorf("the script did not run as the build user %d:\n%s", builder.DefaultBuildUID, log)
	}
	fi, err := os.Lstat(filepath.Join(got.Dir, "made-by-build"))
	if err != nil {
		t.Fatalf("the file the script wrote in its build folder is missing: %v", err)
	}
	if owner := fi.Sys().(*syscall.Stat_t).Uid; int(owner) != os.Geteuid() {
		t.Errorf("after the build its file belongs to %d, not the server's user", owner)
	}
}

// hasLine reports whether a line of the log, after its timestamp, is text.
func hasLine(log, text string) bool {
	for line := range strings.Lines(log) {
		if _, rest, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " "); rest == text {
			return true
		}
	}
	return false
}

// TestSandboxedInstall: npm install in the sandbox fetches a dependency
// into the build and the shared npm cache.
func TestSandboxedInstall(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t)
	st, b := setupWith(t, nil)
	bd := newBuild(t, st, reg.project(func(f map[string]string) {
		// An install script of its own: the layer cache never applies.
		f["package.json"] = `{"name":"p","version":"1.0.0","dependencies":{"tiny":"1.0.0"},"scripts":{"postinstall":"echo installed"}}`
	}), troupe.BuildOptions{})
	b.Enqueue(bd.ID)
	got := waitBuild(t, st, bd.ID, finished)
	if got.Status != troupe.StatusSucceeded {
		t.Fatalf("build is %s (%s):\n%s", got.Status, got.StatusMessage, readLog(t, st, bd.ID))
	}
	if _, err := os.Stat(filepath.Join(got.Dir, "node_modules", "tiny", "index.js")); err != nil {
		t.Fatalf("node_modules/tiny missing: %v\n%s", err, readLog(t, st, bd.ID))
	}
}

// TestNoSandboxWarns: without a sandbox, every build's log says so first.
func TestNoSandboxWarns(t *testing.T) {
	t.Parallel()
	st, b := setupWith(t, func(c *builder.Config) { c.Sandbox, c.WarnNoSandbox = nil, true })
	bd := newBuild(t, st, plain(), troupe.BuildOptions{})
	b.Enqueue(bd.ID)
	waitBuild(t, st, bd.ID, finished)
	log := readLog(t, st, bd.ID)
	if first, _, _ := strings.Cut(log, "\n"); !strings.HasSuffix(first, builder.NoSandboxWarning) {
		t.Errorf("first log line = %q; want the warning", first)
	}
}
