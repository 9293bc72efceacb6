package builder_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/builder"
	"github.com/troupehq/troupe/internal/bwrap"
	"github.com/troupehq/troupe/internal/logsink"
	"github.com/troupehq/troupe/sqlite"
)

// setupWith returns a real SQLite store and a builder configured by edit,
// working in a temporary data folder. Builds are sandboxed with bubblewrap
// (hiding the data folder), as troupe serve does by default.
func setupWith(t *testing.T, edit func(*builder.Config)) (troupe.Store, *builder.Builder) {
	t.Helper()
	dataDir := t.TempDir()
	db, err := sqlite.Open(filepath.Join(dataDir, "troupe.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	bin, err := bwrap.Find()
	if err != nil {
		t.Fatal(err)
	}
	cfg := builder.Config{Store: db, DataDir: dataDir, BaseEnv: []string{"PATH=" + os.Getenv("PATH")}, Instance: "here",
		Sandbox: &builder.Sandbox{Bwrap: bin, Hide: []string{dataDir}}}
	if edit != nil {
		edit(&cfg)
	}
	b := builder.New(cfg)
	t.Cleanup(b.Stop)
	return db, b
}

// newBuild stores an actor with these files and a READY build of it.
func newBuild(t *testing.T, st troupe.Store, files []troupe.SourceFile, opts troupe.BuildOptions) *troupe.Build {
	t.Helper()
	ctx := t.Context()
	now := troupe.Now()
	a := &troupe.Actor{
		ID: troupe.NewID(), UserID: "u", Username: "local", Name: "a" + strings.ToLower(troupe.NewID()), CreatedAt: now, ModifiedAt: now,
		Versions: []troupe.Version{{VersionNumber: "0.1", SourceType: troupe.SourceFiles,
			SourceFiles: files, EnvVars: []troupe.EnvVar{}}},
		DefaultRunOptions: troupe.DefaultRunOptions{Build: "latest", TimeoutSecs: 60, MemoryMbytes: 256},
		TaggedBuilds:      map[string]*troupe.TaggedBuild{},
	}
	if err := st.CreateActor(ctx, a); err != nil {
		t.Fatal(err)
	}
	bd := &troupe.Build{ID: troupe.NewID(), ActID: a.ID, UserID: "u", StartedAt: now,
		Status: troupe.StatusReady, Meta: troupe.RunMeta{Origin: troupe.OriginDevelopment},
		ActorVersion: "0.1", Options: opts}
	if err := st.CreateBuild(ctx, bd); err != nil {
		t.Fatal(err)
	}
	return bd
}

// project returns the files of a Node.js actor whose package.json has
// these scripts and no dependencies.
func project(scripts string) []troupe.SourceFile {
	return []troupe.SourceFile{
		{Name: "Dockerfile", Format: "TEXT", Content: "FROM node:20\nCMD [\"node\", \"main.js\"]\n"},
		{Name: "main.js", Format: "TEXT", Content: "console.log('hi');\n"},
		{Name: "package.json", Format: "TEXT", Content: `{"name":"p","version":"1.0.0","scripts":{` + scripts + `}}`},
	}
}

// plain is a project with nothing to install.
func plain() []troupe.SourceFile { return project("") }

// sleeper returns a project whose preinstall script says "sleeping" and
// sleeps for ever, and the marker its processes' command lines carry.
func sleeper() ([]troupe.SourceFile, string) {
	marker := fmt.Sprintf("9%d.%d", rand.IntN(1000), rand.IntN(1000000))
	return project(`"preinstall":"echo sleeping; sleep ` + marker + `"`), marker
}

// waitBuild waits until the stored build satisfies ok and returns it.
func waitBuild(t *testing.T, st troupe.Store, id string, ok func(*troupe.Build) bool) *troupe.Build {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	ch, stop := st.Watch(id)
	defer stop()
	for {
		bd, err := st.GetBuild(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(bd) {
			return bd
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("build %s is still %s (%s); log:\n%s", id, bd.Status, bd.StatusMessage, readLog(t, st, id))
		}
	}
}

func finished(bd *troupe.Build) bool { return bd.Status.Terminal() }

// waitLog waits until the build's log holds want.
func waitLog(t *testing.T, st troupe.Store, id, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	ch, stop := st.WatchLog(id)
	defer stop()
	for !strings.Contains(readLog(t, st, id), want) {
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("the log of %s never said %q:\n%s", id, want, readLog(t, st, id))
		}
	}
}

// readLog reads the build's whole log.
func readLog(t *testing.T, st troupe.Store, id string) string {
	t.Helper()
	var out bytes.Buffer
	var after int64
	for {
		text, next, err := st.ReadLog(context.WithoutCancel(t.Context()), id, after)
		if err != nil {
			t.Fatal(err)
		}
		if len(text) == 0 {
			return out.String()
		}
		out.Write(text)
		after = next
	}
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

// noProcesses fails when a process of the build is still alive.
func noProcesses(t *testing.T, marker string) {
	t.Helper()
	if pids := processesWith(t, marker); len(pids) > 0 {
		t.Errorf("processes %v of the build outlived it", pids)
	}
}

// TestBuildTimeout: a build over its timeout (here the server's default)
// ends TIMED-OUT with a message and its processes killed, while a build
// next to it succeeds.
func TestBuildTimeout(t *testing.T) {
	t.Parallel()
	st, b := setupWith(t, func(c *builder.Config) { c.Timeout = time.Second })
	files, marker := sleeper()
	slow := newBuild(t, st, files, troupe.BuildOptions{})
	fast := newBuild(t, st, plain(), troupe.BuildOptions{TimeoutSecs: 60})
	b.Enqueue(slow.ID)
	b.Enqueue(fast.ID)

	got := waitBuild(t, st, fast.ID, finished)
	if got.Status != troupe.StatusSucceeded {
		t.Fatalf("the build next to the slow one is %s (%s)", got.Status, got.StatusMessage)
	}
	got = waitBuild(t, st, slow.ID, finished)
	log := readLog(t, st, slow.ID)
	if got.Status != troupe.StatusTimedOut || !strings.Contains(got.StatusMessage, "timed out") || got.FinishedAt == nil {
		t.Fatalf("slow build = %s (%q); log:\n%s", got.Status, got.StatusMessage, log)
	}
	if got.Options.TimeoutSecs != 1 {
		t.Errorf("slow build's options.timeoutSecs = %d, want the server's 1", got.Options.TimeoutSecs)
	}
	if !strings.Contains(log, got.StatusMessage) {
		t.Errorf("the log does not say the build timed out:\n%s", log)
	}
	noProcesses(t, marker)
}

// TestBuildsDoNotBlock: two builds that sleep leave room for a third, and
// stopping the builder ends them FAILED with their processes killed.
func TestBuildsDoNotBlock(t *testing.T) {
	t.Parallel()
	st, b := setupWith(t, nil)
	var slow []*troupe.Build
	var markers []string
	for range 2 {
		files, marker := sleeper()
		bd := newBuild(t, st, files, troupe.BuildOptions{})
		b.Enqueue(bd.ID)
		slow, markers = append(slow, bd), append(markers, marker)
	}
	for _, bd := range slow {
		waitLog(t, st, bd.ID, "sleeping")
	}
	fast := newBuild(t, st, plain(), troupe.BuildOptions{})
	b.Enqueue(fast.ID)
	if got := waitBuild(t, st, fast.ID, finished); got.Status != troupe.StatusSucceeded {
		t.Fatalf("the third build is %s (%s)", got.Status, got.StatusMessage)
	}
	for _, bd := range slow {
		if got, _ := st.GetBuild(t.Context(), bd.ID); got.Status != troupe.StatusRunning || got.Options.TimeoutSecs != 1800 {
			t.Fatalf("sleeping build is %s with timeout %d; want RUNNING, 1800", got.Status, got.Options.TimeoutSecs)
		}
	}

	b.Stop()
	for i, bd := range slow {
		got, err := st.GetBuild(t.Context(), bd.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != troupe.StatusFailed || !strings.Contains(got.StatusMessage, "server stopped") {
			t.Errorf("after Stop a sleeping build is %s (%q)", got.Status, got.StatusMessage)
		}
		noProcesses(t, markers[i])
	}
}

// TestBuildQueueAndAbort: with one build at a time, a second build waits
// READY; aborting the first (ABORTING in the store, as the API does) kills
// it, ends it ABORTED, and lets the second run.
func TestBuildQueueAndAbort(t *testing.T) {
	t.Parallel()
	st, b := setupWith(t, func(c *builder.Config) { c.Concurrency = 1 })
	files, marker := sleeper()
	slow := newBuild(t, st, files, troupe.BuildOptions{})
	b.Enqueue(slow.ID)
	waitLog(t, st, slow.ID, "sleeping")
	next := newBuild(t, st, plain(), troupe.BuildOptions{})
	b.Enqueue(next.ID)
	if got, _ := st.GetBuild(t.Context(), next.ID); got.Status != troupe.StatusReady {
		t.Fatalf("the queued build is %s, want READY", got.Status)
	}

	if _, err := st.UpdateBuild(t.Context(), slow.ID, func(x *troupe.Build) error {
		x.Status = troupe.StatusAborting
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := waitBuild(t, st, slow.ID, finished)
	if got.Status != troupe.StatusAborted || !strings.Contains(got.StatusMessage, "aborted") {
		t.Fatalf("aborted build = %s (%q)", got.Status, got.StatusMessage)
	}
	noProcesses(t, marker)
	if got := waitBuild(t, st, next.ID, finished); got.Status != troupe.StatusSucceeded {
		t.Fatalf("the queued build is %s (%s)", got.Status, got.StatusMessage)
	}
}

// TestBuildLogCap: a build that floods its log keeps the first 10 MB and a
// notice.
func TestBuildLogCap(t *testing.T) {
	t.Parallel()
	st, b := setupWith(t, nil)
	bd := newBuild(t, st, project(`"preinstall":"yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 30000000"`), troupe.BuildOptions{})
	b.Enqueue(bd.ID)
	got := waitBuild(t, st, bd.ID, finished)
	log := readLog(t, st, bd.ID)
	if got.Status != troupe.StatusSucceeded {
		t.Fatalf("flooding build = %s (%s)", got.Status, got.StatusMessage)
	}
	// The cap, and the notice after it.
	if len(log) > logsink.MaxBytes+200 || len(log) < logsink.MaxBytes-1000 {
		t.Errorf("the log has %d bytes; want the cap, %d, and a notice", len(log), logsink.MaxBytes)
	}
	if !strings.Contains(log[len(log)-200:], "size limit") {
		t.Errorf("the log does not end with the size notice: %q", log[len(log)-200:])
	}
}

// TestStartEndsOrphans: builds this server left RUNNING or ABORTING end
// FAILED or ABORTED when it starts again; another server's running build is
// left alone, and a READY build is built.
func TestStartEndsOrphans(t *testing.T) {
	t.Parallel()
	st, b := setupWith(t, nil)
	set := func(bd *troupe.Build, status troupe.Status, instance string) {
		if _, err := st.UpdateBuild(t.Context(), bd.ID, func(x *troupe.Build) error {
			x.Status, x.Instance = status, instance
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	mine := newBuild(t, st, plain(), troupe.BuildOptions{})
	set(mine, troupe.StatusRunning, "here")
	aborting := newBuild(t, st, plain(), troupe.BuildOptions{})
	set(aborting, troupe.StatusAborting, "here")
	theirs := newBuild(t, st, plain(), troupe.BuildOptions{})
	set(theirs, troupe.StatusRunning, "there")
	ready := newBuild(t, st, plain(), troupe.BuildOptions{})

	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		bd   *troupe.Build
		want troupe.Status
	}{{mine, troupe.StatusFailed}, {aborting, troupe.StatusAborted}, {theirs, troupe.StatusRunning}} {
		got, err := st.GetBuild(t.Context(), c.bd.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != c.want {
			t.Errorf("build left %s by %s is %s after Start, want %s", c.bd.Status, got.Instance, got.Status, c.want)
		}
		if c.want != troupe.StatusRunning && (got.StatusMessage == "" || got.FinishedAt == nil) {
			t.Errorf("ended orphan has message %q, finishedAt %v", got.StatusMessage, got.FinishedAt)
		}
	}
	if got := waitBuild(t, st, ready.ID, finished); got.Status != troupe.StatusSucceeded {
		t.Errorf("READY build is %s after Start", got.Status)
	}
}
