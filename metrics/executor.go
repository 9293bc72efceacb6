package metrics

import (
	"context"

	"github.com/troupehq/troupe"
)

// Executor wraps ex so that troupe_run_processes counts the processes it
// started that have not exited yet. A process it returns is done (Done
// closed) only once the gauge no longer counts it.
func (m *Metrics) Executor(ex troupe.Executor) troupe.Executor {
	return &executor{Executor: ex, m: m}
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
	e.m.processes.Inc()
	wp := &process{Process: p, done: make(chan struct{})}
	go func() {
		<-p.Done()
		e.m.processes.Dec()
		close(wp.done)
	}()
	return wp, nil
}

type process struct {
	troupe.Process
	done chan struct{}
}

func (p *process) Done() <-chan struct{} { return p.done }
