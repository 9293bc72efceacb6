package metrics

import (
	"context"

	"github.com/troupehq/troupe"
)

// Executor wraps ex so that troupe_run_processes counts the processes it
// started (or adopted) that have not exited yet. A process it returns is
// done (Done closed) only once the gauge no longer counts it. The wrapper
// of a troupe.RemoteExecutor is one too.
func (m *Metrics) Executor(ex troupe.Executor) troupe.Executor {
	if rex, ok := ex.(troupe.RemoteExecutor); ok {
		return &remoteExecutor{executor: executor{Executor: ex, m: m}, remote: rex}
	}
	return &executor{Executor: ex, m: m}
}

type remoteExecutor struct {
	executor
	remote troupe.RemoteExecutor
}

func (e *remoteExecutor) WorkDir() string { return e.remote.WorkDir() }

func (e *remoteExecutor) Adopt(ctx context.Context, spec *troupe.ExecSpec, skip int64) (troupe.Process, error) {
	p, err := e.remote.Adopt(ctx, spec, skip)
	if err != nil || p == nil {
		return p, err
	}
	return e.count(p), nil
}

type executor struct {
	troupe.Executor
	m *Metrics
}

func (e *executor) Start(ctx context.Context, spec *troupe.ExecSpec) (troupe.Process, error) {
	p, err := e.Executor.Start(ctx, spec)
	if err != nil {
		return p, err
	}
	return e.count(p), nil
}

// count counts p in the gauge until it is done.
func (e *executor) count(p troupe.Process) troupe.Process {
	e.m.processes.Inc()
	wp := &process{Process: p, done: make(chan struct{})}
	go func() {
		<-p.Done()
		e.m.processes.Dec()
		close(wp.done)
	}()
	return wp
}

type process struct {
	troupe.Process
	done chan struct{}
}

func (p *process) Done() <-chan struct{} { return p.done }

// PrivateDirs passes on the wrapped executor's troupe.PrivateDirs.
func (e *executor) PrivateDirs() bool {
	pd, ok := e.Executor.(troupe.PrivateDirs)
	return ok && pd.PrivateDirs()
}
