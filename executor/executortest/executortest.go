// Package executortest is a conformance suite for [troupe.Executor]
// implementations. Every executor (local processes, Kubernetes) runs it from
// its own tests:
//
//	func TestExecutor(t *testing.T) {
//		executortest.Run(t, func(t *testing.T) troupe.Executor { return process.New(process.Options{}) })
//	}
//
// The suite starts real processes with POSIX sh and coreutils (sleep, env,
// head, tr, seq) and asserts only what a user of the interface sees. An
// executor whose processes honestly differ from local ones (pods) says how
// with [Options] and runs it with [RunWith]; the checks of local executors
// stay as they are.
package executortest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

// Env is the environment the suite gives its processes.
var Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}

// DoneTimeout bounds how long the suite waits for a process to end when it
// should end at once (after Kill, or on its own).
const DoneTimeout = 10 * time.Second

// Options adapt the suite to an executor. The zero value is that of a local
// executor: every check applies as written.
type Options struct {
	// Remote says the executor implements troupe.RemoteExecutor: specs
	// have no Dir, the process starts in WorkDir, it has no pid on this
	// machine, and instead of KillOrphan a second executor adopts a running
	// process (Adopt) and ends it.
	Remote bool
	// NoStats says Stats gives no figures: the suite checks that it gives
	// the zero value instead of made-up ones.
	NoStats bool
	// Prepare, when set, completes every spec the suite starts (an image to
	// run it in, say) without touching what the suite set.
	Prepare func(*troupe.ExecSpec)
	// StartDelay is added to every wait: how long a process may take to
	// start (a pod is scheduled and its containers created first).
	StartDelay time.Duration
}

// Run runs the suite with every check. newExecutor returns the executor
// under test; it is called once per subtest, and subtests run in parallel.
func Run(t *testing.T, newExecutor func(t *testing.T) troupe.Executor) {
	t.Helper()
	RunWith(t, Options{}, newExecutor)
}

// RunWith runs the suite adapted by opts.
func RunWith(t *testing.T, opts Options, newExecutor func(t *testing.T) troupe.Executor) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, ex troupe.Executor)
	}{
		{"OutputBothStreams", testOutputBothStreams},
		{"OutputManyLines", testOutputManyLines},
		{"OutputLongLine", testOutputLongLine},
		{"EnvExact", testEnvExact},
		{"Dir", testDir},
		{"ExitCode", testExitCode},
		{"KillGroup", testKillGroup},
		{"LeaderExitEndsGroup", testLeaderExitEndsGroup},
		{"MemoryLimit", testMemoryLimit},
		{"Stats", testStats},
	}
	if opts.Remote {
		tests = append(tests, struct {
			name string
			fn   func(t *testing.T, ex troupe.Executor)
		}{"Adopt", func(t *testing.T, ex troupe.Executor) { testAdopt(t, ex, newExecutor(t)) }})
	} else {
		tests = append(tests, struct {
			name string
			fn   func(t *testing.T, ex troupe.Executor)
		}{"KillOrphan", func(t *testing.T, ex troupe.Executor) { testKillOrphan(t, ex, newExecutor(t)) }})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, &adapted{Executor: newExecutor(t), opts: opts})
		})
	}
}

// adapted is the executor under test as the suite's checks see it: it
// completes each spec as opts say and gives each its own run id.
type adapted struct {
	troupe.Executor
	opts Options
}

var runSeq atomic.Int64

func (a *adapted) Start(ctx context.Context, spec *troupe.ExecSpec) (troupe.Process, error) {
	s := *spec
	if s.RunID == "suite" {
		s.RunID = fmt.Sprintf("suite%d", runSeq.Add(1))
	}
	if a.opts.Remote {
		s.Dir, s.BuildDir = "", ""
	}
	if a.opts.Prepare != nil {
		a.opts.Prepare(&s)
	}
	return a.Executor.Start(ctx, &s)
}

// optsOf returns the options ex runs the suite with.
func optsOf(ex troupe.Executor) Options {
	if a, ok := ex.(*adapted); ok {
		return a.opts
	}
	return Options{}
}

// wait is d plus the start delay of ex.
func wait(ex troupe.Executor, d time.Duration) time.Duration {
	return d + optsOf(ex).StartDelay
}

// Output collects the lines a process writes and checks that ExecSpec.Output
// is never called concurrently.
type Output struct {
	inFlight atomic.Int32
	mu       sync.Mutex
	lines    []string
	watch    string
	seen     chan struct{}
	t        *testing.T
}

// NewOutput returns a collector. When watch is not empty, Seen is closed
// the first time a line equal to watch arrives.
func NewOutput(t *testing.T, watch string) *Output {
	return &Output{t: t, watch: watch, seen: make(chan struct{})}
}

// Func is the ExecSpec.Output callback.
func (o *Output) Func(line string) {
	if o.inFlight.Add(1) != 1 {
		o.t.Errorf("Output called concurrently")
	}
	defer o.inFlight.Add(-1)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lines = append(o.lines, line)
	if o.watch != "" && line == o.watch {
		o.watch = ""
		close(o.seen)
	}
}

// Seen is closed once the watched line has arrived.
func (o *Output) Seen() <-chan struct{} { return o.seen }

// Lines returns the lines so far.
func (o *Output) Lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.lines)
}

// Start starts a process running the sh script with the suite's Env.
func Start(t *testing.T, ex troupe.Executor, script string, out *Output, memoryMbytes int) troupe.Process {
	t.Helper()
	spec := &troupe.ExecSpec{
		RunID:        "suite",
		Generation:   1,
		Command:      []string{"sh", "-c", script},
		Dir:          t.TempDir(),
		Env:          Env,
		MemoryMbytes: memoryMbytes,
	}
	if out != nil {
		spec.Output = out.Func
	}
	p, err := ex.Start(t.Context(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		_ = p.Kill()
		<-p.Done()
	})
	return p
}

// WaitDone fails the test when p does not end within d.
func WaitDone(t *testing.T, p troupe.Process, d time.Duration) troupe.ExitStatus {
	t.Helper()
	select {
	case <-p.Done():
		return p.Exit()
	case <-time.After(d):
		t.Fatalf("process %d did not end within %v", p.PID(), d)
		return troupe.ExitStatus{}
	}
}

// WaitSeen fails the test when the watched line does not arrive within d.
func WaitSeen(t *testing.T, o *Output, d time.Duration) {
	t.Helper()
	select {
	case <-o.Seen():
	case <-time.After(d):
		t.Fatalf("line %q not seen within %v; got %q", o.watch, d, o.Lines())
	}
}

func testOutputBothStreams(t *testing.T, ex troupe.Executor) {
	out := NewOutput(t, "")
	p := Start(t, ex, `echo out1; echo err1 >&2; echo out2; echo err2 >&2; echo; echo "  spaced  "; printf 'last without newline'`, out, 0)
	if got := WaitDone(t, p, wait(ex, DoneTimeout)); got != (troupe.ExitStatus{}) {
		t.Fatalf("Exit() = %+v, want code 0", got)
	}
	lines := out.Lines()
	wantStdout := []string{"out1", "out2", "", "  spaced  ", "last without newline"}
	wantStderr := []string{"err1", "err2"}
	var gotStdout, gotStderr []string
	for _, l := range lines {
		if strings.HasPrefix(l, "err") {
			gotStderr = append(gotStderr, l)
		} else {
			gotStdout = append(gotStdout, l)
		}
	}
	if !slices.Equal(gotStdout, wantStdout) {
		t.Errorf("stdout lines = %q, want %q (all lines %q)", gotStdout, wantStdout, lines)
	}
	if !slices.Equal(gotStderr, wantStderr) {
		t.Errorf("stderr lines = %q, want %q (all lines %q)", gotStderr, wantStderr, lines)
	}
}

func testOutputManyLines(t *testing.T, ex troupe.Executor) {
	const n = 5000
	out := NewOutput(t, "")
	p := Start(t, ex, fmt.Sprintf(`i=1; while [ $i -le %d ]; do echo $i; echo e$i >&2; i=$((i+1)); done`, n), out, 0)
	if got := WaitDone(t, p, wait(ex, DoneTimeout)); got.Code != 0 {
		t.Fatalf("Exit() = %+v, want code 0", got)
	}
	var nOut, nErr int
	for _, l := range out.Lines() {
		if rest, ok := strings.CutPrefix(l, "e"); ok {
			nErr++
			if rest != strconv.Itoa(nErr) {
				t.Fatalf("stderr line %d = %q, want e%d", nErr, l, nErr)
			}
		} else {
			nOut++
			if l != strconv.Itoa(nOut) {
				t.Fatalf("stdout line %d = %q, want %d", nOut, l, nOut)
			}
		}
	}
	if nOut != n || nErr != n {
		t.Fatalf("got %d stdout and %d stderr lines, want %d each", nOut, nErr, n)
	}
}

func testOutputLongLine(t *testing.T, ex troupe.Executor) {
	const size = 3 << 20
	out := NewOutput(t, "")
	p := Start(t, ex, fmt.Sprintf(`head -c %d /dev/zero | tr '\0' x; echo; echo after`, size), out, 0)
	if got := WaitDone(t, p, wait(ex, DoneTimeout)); got.Code != 0 {
		t.Fatalf("Exit() = %+v, want code 0", got)
	}
	lines := out.Lines()
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2", len(lines))
	}
	if lines[0] != strings.Repeat("x", size) {
		t.Errorf("long line has %d bytes, want %d x's", len(lines[0]), size)
	}
	if lines[1] != "after" {
		t.Errorf("second line = %q, want %q", lines[1], "after")
	}
}

func testEnvExact(t *testing.T, ex troupe.Executor) {
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "TROUPE_A=1", "TROUPE_B=two words", "TROUPE_EMPTY="}
	out := NewOutput(t, "")
	p, err := ex.Start(t.Context(), &troupe.ExecSpec{
		RunID: "suite", Generation: 1, Command: []string{"env"}, Dir: t.TempDir(), Env: env, Output: out.Func,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if got := WaitDone(t, p, wait(ex, DoneTimeout)); got.Code != 0 {
		t.Fatalf("Exit() = %+v, want code 0", got)
	}
	got := out.Lines()
	slices.Sort(got)
	want := slices.Clone(env)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("environment = %q, want exactly %q", got, want)
	}
}

func testDir(t *testing.T, ex troupe.Executor) {
	dir := t.TempDir()
	out := NewOutput(t, "")
	p, err := ex.Start(t.Context(), &troupe.ExecSpec{
		RunID: "suite", Generation: 1, Command: []string{"sh", "-c", "pwd -P"}, Dir: dir, Env: Env, Output: out.Func,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	WaitDone(t, p, wait(ex, DoneTimeout))
	var want string
	if optsOf(ex).Remote {
		want = ex.(*adapted).Executor.(troupe.RemoteExecutor).WorkDir()
	} else if want, err = filepath.EvalSymlinks(dir); err != nil {
		t.Fatal(err)
	}
	if got := out.Lines(); !slices.Equal(got, []string{want}) {
		t.Errorf("pwd = %q, want [%s]", got, want)
	}
}

func testExitCode(t *testing.T, ex troupe.Executor) {
	for _, code := range []int{0, 3, 91} {
		p := Start(t, ex, fmt.Sprintf("exit %d", code), nil, 0)
		got := WaitDone(t, p, wait(ex, DoneTimeout))
		if want := (troupe.ExitStatus{Code: code}); got != want {
			t.Errorf("exit %d: Exit() = %+v, want %+v", code, got, want)
		}
	}
}

func testKillGroup(t *testing.T, ex troupe.Executor) {
	// The background sleep keeps stdout open: Done can only close once the
	// whole group is dead.
	out := NewOutput(t, "started")
	p := Start(t, ex, `sleep 100 & echo started; sleep 100`, out, 0)
	WaitSeen(t, out, wait(ex, DoneTimeout))
	select {
	case <-p.Done():
		t.Fatal("Done closed before Kill")
	default:
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	got := WaitDone(t, p, wait(ex, DoneTimeout))
	if want := (troupe.ExitStatus{Code: -1, Signal: "SIGKILL"}); got != want {
		t.Errorf("Exit() = %+v, want %+v", got, want)
	}
	if err := p.Kill(); err != nil {
		t.Errorf("second Kill: %v", err)
	}
}

func testLeaderExitEndsGroup(t *testing.T, ex troupe.Executor) {
	// The main process exits while a background child still holds its
	// output open: the run is over all the same.
	out := NewOutput(t, "")
	p := Start(t, ex, `sleep 100 & echo bye`, out, 0)
	got := WaitDone(t, p, wait(ex, DoneTimeout))
	if got != (troupe.ExitStatus{}) {
		t.Errorf("Exit() = %+v, want code 0", got)
	}
	if lines := out.Lines(); !slices.Equal(lines, []string{"bye"}) {
		t.Errorf("output = %q, want [bye]", lines)
	}
}

func testMemoryLimit(t *testing.T, ex troupe.Executor) {
	// The shell keeps 300 MB in a variable, then sleeps; the limit is 64 MB.
	out := NewOutput(t, "")
	p := Start(t, ex, `x=$(head -c 314572800 /dev/zero | tr '\0' x); echo survived; sleep 100`, out, 64)
	got := WaitDone(t, p, wait(ex, 30*time.Second))
	if !got.OutOfMemory || got.Code != -1 {
		t.Errorf("Exit() = %+v, want OutOfMemory and code -1", got)
	}
	if slices.Contains(out.Lines(), "survived") {
		t.Errorf("process went on past the limit; output %q", out.Lines())
	}
	// The same process under the limit is left alone.
	q := Start(t, ex, `x=$(head -c 1048576 /dev/zero | tr '\0' x); echo ok`, nil, 64)
	if got := WaitDone(t, q, wait(ex, DoneTimeout)); got != (troupe.ExitStatus{}) {
		t.Errorf("small process: Exit() = %+v, want code 0", got)
	}
}

func testStats(t *testing.T, ex troupe.Executor) {
	p := Start(t, ex, `while :; do :; done`, nil, 0)
	if optsOf(ex).NoStats {
		if st := p.Stats(); st != (troupe.ProcessStats{}) {
			t.Errorf("Stats() = %+v from an executor without figures, want zero", st)
		}
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		WaitDone(t, p, wait(ex, DoneTimeout))
		return
	}
	deadline := time.Now().Add(DoneTimeout)
	var st troupe.ProcessStats
	for {
		st = p.Stats()
		if st.CPUCurrentUsage > 0 && st.MemCurrentBytes > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Stats() = %+v; want CPU and memory figures for a busy process", st)
		}
		time.Sleep(20 * time.Millisecond) // stats are sampled; nothing to wait on
	}
	if st.MemMaxBytes < st.MemCurrentBytes || st.MemAvgBytes <= 0 {
		t.Errorf("Stats() = %+v; want MemMaxBytes >= MemCurrentBytes and MemAvgBytes > 0", st)
	}
	if st.CPUMaxUsage < st.CPUCurrentUsage || st.CPUAvgUsage <= 0 {
		t.Errorf("Stats() = %+v; want CPUMaxUsage >= CPUCurrentUsage and CPUAvgUsage > 0", st)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	WaitDone(t, p, wait(ex, DoneTimeout))
	if after := p.Stats(); after.MemMaxBytes == 0 || after.CPUMaxUsage == 0 {
		t.Errorf("Stats() after exit = %+v; want the figures kept", after)
	}
}

// testKillOrphan starts a process with ex and kills it as the orphan of an
// earlier server with other, a second executor.
func testKillOrphan(t *testing.T, ex, other troupe.Executor) {
	out := NewOutput(t, "started")
	p := Start(t, ex, `sleep 100 & echo started; sleep 100`, out, 0)
	WaitSeen(t, out, wait(ex, DoneTimeout))

	// Another start time means another process: left alone.
	if err := other.KillOrphan(p.PID(), p.StartTime()+1000); err != nil {
		t.Fatalf("KillOrphan(wrong start time): %v", err)
	}
	select {
	case <-p.Done():
		t.Fatalf("KillOrphan with a wrong start time killed the process: %+v", p.Exit())
	case <-time.After(200 * time.Millisecond): // a negative check needs some time
	}
	if err := other.KillOrphan(p.PID(), p.StartTime()); err != nil {
		t.Fatalf("KillOrphan: %v", err)
	}
	got := WaitDone(t, p, wait(ex, DoneTimeout))
	if got.Code != -1 || got.Signal == "" {
		t.Errorf("Exit() = %+v, want killed by a signal", got)
	}
	// Gone already: no error.
	if err := other.KillOrphan(p.PID(), p.StartTime()); err != nil {
		t.Errorf("KillOrphan of an ended process: %v", err)
	}
}

// testAdopt starts a process with ex, and other, a second executor (another
// server), adopts it by its run and generation with its output after the
// first line (as if an earlier server had stored that one), and kills it.
func testAdopt(t *testing.T, ex, other troupe.Executor) {
	a := ex.(*adapted)
	var spec troupe.ExecSpec
	out := NewOutput(t, "started")
	p, err := a.Executor.Start(t.Context(), func() *troupe.ExecSpec {
		spec = troupe.ExecSpec{RunID: fmt.Sprintf("suite%d", runSeq.Add(1)), Generation: 3,
			Command: []string{"sh", "-c", `echo stored; echo started; sleep 100`}, Env: Env, Output: out.Func}
		if a.opts.Prepare != nil {
			a.opts.Prepare(&spec)
		}
		return &spec
	}())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	WaitSeen(t, out, wait(ex, DoneTimeout))

	adopter := other.(troupe.RemoteExecutor)
	none := spec
	none.RunID += "none"
	if q, err := adopter.Adopt(t.Context(), &none, 0); err != nil || q != nil {
		t.Fatalf("Adopt of a run without a process = %v, %v; want nil, nil", q, err)
	}
	out2 := NewOutput(t, "started")
	again := spec
	again.Output = out2.Func
	q, err := adopter.Adopt(t.Context(), &again, 1)
	if err != nil || q == nil {
		t.Fatalf("Adopt = %v, %v; want the running process", q, err)
	}
	WaitSeen(t, out2, wait(ex, DoneTimeout))
	select {
	case <-q.Done():
		t.Fatalf("adopted process ended: %+v", q.Exit())
	default:
	}
	if err := q.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if got := WaitDone(t, q, wait(ex, DoneTimeout)); got != (troupe.ExitStatus{Code: -1, Signal: "SIGKILL"}) {
		t.Errorf("adopted process: Exit() = %+v, want SIGKILL", got)
	}
	if got := WaitDone(t, p, wait(ex, DoneTimeout)); got.Code != -1 {
		t.Errorf("first server's process: Exit() = %+v, want it ended", got)
	}
	if lines := out.Lines(); !slices.Equal(lines, []string{"stored", "started"}) {
		t.Errorf("output = %q, want [stored started]", lines)
	}
	if lines := out2.Lines(); !slices.Equal(lines, []string{"started"}) {
		t.Errorf("adopted output after 1 = %q, want [started] once", lines)
	}
}
