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
// called with a read that is done after a change woke the wait. ready,
// when not nil, is a cheaper look (the status alone) taken before each
// read: get runs only once ready reports the job may be done (or fails),
// and when the wait ends.
func waitFor[T any](ctx context.Context, store troupe.Store, id string, d time.Duration,
	get func(context.Context) (T, error), done func(T) bool, ready func(context.Context) bool,
	woken func(T)) (T, error) {
	if d <= 0 {
		return get(ctx)
	}
	ch, stop := store.Watch(id)
	defer stop()
	timer := time.NewTimer(d)
	defer timer.Stop()
	var last T
	read := false
	for waited := false; ; waited = true {
		if ready == nil || ready(ctx) {
			v, err := get(ctx)
			if err != nil || done(v) {
				if err == nil && waited && woken != nil {
					woken(v)
				}
				return v, err
			}
			last, read = v, true
		}
		select {
		case <-ch:
		case <-timer.C:
			return get(ctx)
		case <-ctx.Done():
			if !read {
				return get(context.WithoutCancel(ctx))
			}
			return last, nil
		}
	}
}

// waitRun waits up to d for the run to be terminal and returns it. While
// it waits it looks at the run's status only, and reads the whole run once
// the status is terminal.
//
// A run this server's controller has just ended is taken from the
// controller (finishedRuns) while the stored run is still that version,
// instead of being read again.
func (s *Server) waitRun(ctx context.Context, id string, d time.Duration) (*troupe.Run, error) {
	finished := func() (*troupe.Run, bool) {
		if fr, ok := s.cfg.Controller.(finishedRuns); ok {
			return fr.FinishedRun(id)
		}
		return nil, false
	}
	return waitFor(ctx, s.store, id, d, func(ctx context.Context) (*troupe.Run, error) {
		if r, ok := finished(); ok {
			if v, err := s.store.RunVersion(ctx, id); err == nil && v == r.Version {
				return r, nil
			}
		}
		return s.getRun(ctx, id)
	}, func(r *troupe.Run) bool { return r.Status.Terminal() }, func(ctx context.Context) bool {
		if _, ok := finished(); ok {
			return true // get looks at the version only
		}
		st, err := s.store.RunStatus(ctx, id)
		return err != nil || st.Terminal()
	}, s.finishWoken)
}

// finishedRuns is a Controller that keeps the runs it has just ended.
type finishedRuns interface {
	// FinishedRun returns the run id as the controller ended it, if it
	// did so recently, as a copy whose fields the caller may set.
	FinishedRun(id string) (*troupe.Run, bool)
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
	}, func(b *troupe.Build) bool { return b.Status.Terminal() }, nil, nil)
}
