package api

import (
	"context"
	"time"

	"github.com/troupehq/troupe"
)

// waitFor reads a job (run or build) with get until done reports true or d
// has passed, and returns the last read. It does not poll: it re-reads only
// when Store.Watch says the job changed. The watch starts before the first
// read, so no change between the read and the wait is missed. When the
// client goes away it returns the last read. woken, when not nil, is
// called with a read that is done after a change woke the wait.
func waitFor[T any](ctx context.Context, store troupe.Store, id string, d time.Duration,
	get func(context.Context) (T, error), done func(T) bool, woken func(T)) (T, error) {
	if d <= 0 {
		return get(ctx)
	}
	ch, stop := store.Watch(id)
	defer stop()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for waited := false; ; waited = true {
		v, err := get(ctx)
		if err != nil || done(v) {
			if err == nil && waited && woken != nil {
				woken(v)
			}
			return v, err
		}
		select {
		case <-ch:
		case <-timer.C:
			return get(ctx)
		case <-ctx.Done():
			return v, nil
		}
	}
}

// waitRun waits up to d for the run to be terminal and returns it.
func (s *Server) waitRun(ctx context.Context, id string, d time.Duration) (*troupe.Run, error) {
	return waitFor(ctx, s.store, id, d, func(ctx context.Context) (*troupe.Run, error) {
		return s.getRun(ctx, id)
	}, func(r *troupe.Run) bool { return r.Status.Terminal() }, s.finishWoken)
}

// finishWoken passes the finish of a run a wait was woken for to
// Config.FinishWoken.
func (s *Server) finishWoken(r *troupe.Run) {
	if s.cfg.FinishWoken != nil && r.FinishedAt != nil {
		s.cfg.FinishWoken(*r.FinishedAt)
	}
}

// waitBuild waits up to d for the build to be terminal and returns it.
func (s *Server) waitBuild(ctx context.Context, id string, d time.Duration) (*troupe.Build, error) {
	return waitFor(ctx, s.store, id, d, func(ctx context.Context) (*troupe.Build, error) {
		return s.getBuild(ctx, id)
	}, func(b *troupe.Build) bool { return b.Status.Terminal() }, nil)
}
