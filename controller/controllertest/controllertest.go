// Package controllertest has fakes for testing the controller without real
// processes: a scripted troupe.Executor whose processes exit when the test
// says so, and an events hub that records what it is asked to send.
// Everything a fake does is reported on a channel, so that tests wait for
// it instead of sleeping.
package controllertest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

// Executor is a troupe.Executor whose processes do nothing until the test
// makes them exit (Process.Exit) or the controller kills them. Each started
// process is sent on Started. It is safe for concurrent use.
type Executor struct {
	mu       sync.Mutex
	nextPID  int
	failures []error
	alive    map[int]*Process
	orphans  []Orphan
	started  chan *Process
}

// Orphan is a call of KillOrphan.
type Orphan struct {
	PID       int
	StartTime uint64
	// Killed says whether the call found that process alive and killed it.
	Killed bool
}

var _ troupe.Executor = (*Executor)(nil)

// NewExecutor returns an executor with no process.
func NewExecutor() *Executor {
	return &Executor{nextPID: 1000, alive: map[int]*Process{}, started: make(chan *Process, 1000)}
}

// FailStart makes the next call of Start return err; several calls queue
// their errors in order.
func (e *Executor) FailStart(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failures = append(e.failures, err)
}

// Started receives every process Start starts, in order.
func (e *Executor) Started() <-chan *Process { return e.started }

// Start implements troupe.Executor: it returns the next error queued by
// FailStart, or else a new live process.
func (e *Executor) Start(ctx context.Context, spec *troupe.ExecSpec) (troupe.Process, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.failures) > 0 {
		err := e.failures[0]
		e.failures = e.failures[1:]
		return nil, err
	}
	e.nextPID++
	p := &Process{
		Spec: *spec, exec: e, pid: e.nextPID, startTime: uint64(e.nextPID) * 100,
		done: make(chan struct{}), killed: make(chan struct{}),
	}
	p.Spec.Command = slices.Clone(spec.Command)
	p.Spec.Env = slices.Clone(spec.Env)
	e.alive[p.pid] = p
	select {
	case e.started <- p:
	default:
		panic("controllertest: more than 1000 processes started and not received")
	}
	return p, nil
}

// KillOrphan implements troupe.Executor: it kills the process if it is
// still alive and records the call.
func (e *Executor) KillOrphan(pid int, startTime uint64) error {
	e.mu.Lock()
	p := e.alive[pid]
	found := p != nil && p.startTime == startTime
	e.orphans = append(e.orphans, Orphan{PID: pid, StartTime: startTime, Killed: found})
	e.mu.Unlock()
	if found {
		_ = p.Kill()
	}
	return nil
}

// Orphans returns the calls of KillOrphan so far.
func (e *Executor) Orphans() []Orphan {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.orphans)
}

// Alive reports whether a process of this executor with pid is running.
func (e *Executor) Alive(pid int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.alive[pid] != nil
}

// Process is a started fake process. Spec is what it was started with.
type Process struct {
	Spec troupe.ExecSpec

	exec      *Executor
	pid       int
	startTime uint64
	done      chan struct{}
	killed    chan struct{}

	mu    sync.Mutex
	exit  troupe.ExitStatus
	ended bool
	kills int
	stats troupe.ProcessStats
	// printed is every line the process wrote, as a pod's log keeps them.
	printed []string
}

var _ troupe.Process = (*Process)(nil)

// PID implements troupe.Process.
func (p *Process) PID() int { return p.pid }

// StartTime implements troupe.Process.
func (p *Process) StartTime() uint64 { return p.startTime }

// Done implements troupe.Process.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit implements troupe.Process: how the process ended, once Done is
// closed.
func (p *Process) Exit() troupe.ExitStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// Stats implements troupe.Process: the figures set by SetStats.
func (p *Process) Stats() troupe.ProcessStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Kill implements troupe.Process: a live process ends as killed by SIGKILL,
// as a real one does. Every call is counted and the first closes Killed.
func (p *Process) Kill() error {
	p.mu.Lock()
	p.kills++
	if p.kills == 1 {
		close(p.killed)
	}
	p.mu.Unlock()
	p.End(troupe.ExitStatus{Code: -1, Signal: "SIGKILL"})
	return nil
}

// Killed is closed when the process is first killed.
func (p *Process) Killed() <-chan struct{} { return p.killed }

// Kills returns how many times the process was killed.
func (p *Process) Kills() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kills
}

// ExitCode makes the process exit with code, as if the actor ended.
func (p *Process) ExitCode(code int) { p.End(troupe.ExitStatus{Code: code}) }

// End makes the process end as st says (a signal, running out of memory,
// vanishing with the machine). A process ends once; later calls do nothing.
func (p *Process) End(st troupe.ExitStatus) {
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		return
	}
	p.ended, p.exit = true, st
	p.mu.Unlock()
	p.exec.mu.Lock()
	delete(p.exec.alive, p.pid)
	p.exec.mu.Unlock()
	close(p.done)
}

// Print writes a line of output, as the process's stdout would.
func (p *Process) Print(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printed = append(p.printed, line)
	p.Spec.Output(line)
}

// SetStats sets the figures Stats returns.
func (p *Process) SetStats(s troupe.ProcessStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats = s
}

// Env returns the value of the variable name in the process's environment.
func (p *Process) Env(name string) string {
	for _, kv := range slices.Backward(p.Spec.Env) {
		if len(kv) > len(name) && kv[:len(name)] == name && kv[len(name)] == '=' {
			return kv[len(name)+1:]
		}
	}
	return ""
}

// Event is one call of Events.Send.
type Event struct {
	RunID, Name string
	Data        any
}

// Events records what the controller sends to runs' processes through the
// events websocket hub. It is safe for concurrent use.
type Events struct {
	sent chan Event
}

// NewEvents returns a hub with nothing sent.
func NewEvents() *Events {
	return &Events{sent: make(chan Event, 1000)}
}

// Send records the event and reports no connection.
func (e *Events) Send(runID, name string, data any) int {
	select {
	case e.sent <- Event{RunID: runID, Name: name, Data: data}:
	default:
		panic("controllertest: more than 1000 events sent and not received")
	}
	return 0
}

// Sent receives every event sent, in order.
func (e *Events) Sent() <-chan Event { return e.sent }

// Forget does nothing: no event is queued.
func (e *Events) Forget(runID string) {}

// Guard bounds how long Receive waits. It is a guard against a test that
// hangs, not a wait for anything to happen: what a test waits for is the
// value itself.
const Guard = 10 * time.Second

// Receive returns the next value from ch, failing t if none arrives within
// Guard.
func Receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(Guard)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("waited %s for %s", Guard, what)
		panic("unreachable")
	}
}

// NoValue fails t if ch holds a value now.
func NoValue[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %+v", what, v)
	default:
	}
}

// RemoteExecutor is an Executor whose processes outlive their server, as
// troupe.RemoteExecutor says: a new controller adopts the live process of
// a run's generation instead of starting it again. Each adoption is sent on
// Adopted.
type RemoteExecutor struct {
	*Executor
	adopted chan Adoption
}

// Adoption is a call of Adopt: the process it returned (nil when none)
// and how many of its outputs were skipped.
type Adoption struct {
	RunID      string
	Generation int
	Skip       int64
	Process    *Process
}

var _ troupe.RemoteExecutor = (*RemoteExecutor)(nil)

// RemoteWorkDir is the WorkDir of a RemoteExecutor.
const RemoteWorkDir = "/usr/src/app"

// NewRemoteExecutor returns a remote executor with no process.
func NewRemoteExecutor() *RemoteExecutor {
	return &RemoteExecutor{Executor: NewExecutor(), adopted: make(chan Adoption, 1000)}
}

// WorkDir implements troupe.RemoteExecutor.
func (e *RemoteExecutor) WorkDir() string { return RemoteWorkDir }

// Adopted receives every call of Adopt, in order.
func (e *RemoteExecutor) Adopted() <-chan Adoption { return e.adopted }

// Adopt implements troupe.RemoteExecutor: it returns the live process of
// the run's generation, its output now going to spec.Output (first the
// lines it printed after the first skip, as a pod's log is read again),
// and kills the run's processes of other generations.
func (e *RemoteExecutor) Adopt(ctx context.Context, spec *troupe.ExecSpec, skip int64) (troupe.Process, error) {
	e.mu.Lock()
	var found *Process
	var others []*Process
	for _, p := range e.alive {
		switch {
		case p.Spec.RunID != spec.RunID:
		case p.Spec.Generation == spec.Generation:
			found = p
		default:
			others = append(others, p)
		}
	}
	e.mu.Unlock()
	for _, p := range others {
		_ = p.Kill()
	}
	a := Adoption{RunID: spec.RunID, Generation: spec.Generation, Skip: skip, Process: found}
	select {
	case e.adopted <- a:
	default:
		panic("controllertest: more than 1000 adoptions and not received")
	}
	if found == nil {
		return nil, nil
	}
	found.mu.Lock()
	defer found.mu.Unlock()
	found.Spec.Output = spec.Output
	for _, line := range found.printed[min(int(skip), len(found.printed)):] {
		spec.Output(line)
	}
	return found, nil
}
