// Package inflight counts requests under way per key, so that one part of
// the server can wait for another's writes: the controller waits for a
// run's own status message updates (sent by the actor just before it
// exits) before it records the run's end.
package inflight

import (
	"context"
	"sync"
	"time"
)

// Tracker counts requests under way per key. The zero value is ready; a
// nil *Tracker counts nothing and never waits.
type Tracker struct {
	mu    sync.Mutex
	count map[string]int
	idle  map[string]chan struct{} // closed when count[key] drops to 0
}

// Begin counts one request for key until the returned end is called (once).
func (t *Tracker) Begin(key string) (end func()) {
	if t == nil || key == "" {
		return func() {}
	}
	t.mu.Lock()
	if t.count == nil {
		t.count, t.idle = map[string]int{}, map[string]chan struct{}{}
	}
	t.count[key]++
	t.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.count[key]--; t.count[key] > 0 {
				return
			}
			delete(t.count, key)
			if ch, ok := t.idle[key]; ok {
				close(ch)
				delete(t.idle, key)
			}
		})
	}
}

// Wait returns when no request for key is under way, after at most max (of
// real time), or when ctx ends, whichever comes first.
func (t *Tracker) Wait(ctx context.Context, key string, max time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	if t.count[key] == 0 {
		t.mu.Unlock()
		return
	}
	ch, ok := t.idle[key]
	if !ok {
		ch = make(chan struct{})
		t.idle[key] = ch
	}
	t.mu.Unlock()
	timer := time.NewTimer(max)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
	case <-ctx.Done():
	}
}
