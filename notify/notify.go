// Package notify is a tiny in-process broadcaster of "something changed"
// signals, keyed by job id (a run or build id).
//
// A watcher gets a channel with room for one pending signal. Publish never
// blocks: when the channel already holds a signal the new one is merged into
// it. A watcher that re-reads the job after every receive therefore never
// misses a change, however fast changes come.
package notify

import "sync"

// Hub broadcasts change signals to the watchers of each id. The zero value is
// not usable; call New. A Hub is safe for concurrent use.
type Hub struct {
	mu       sync.Mutex
	watchers map[string]map[chan struct{}]struct{}
}

// New returns an empty Hub.
func New() *Hub {
	return &Hub{watchers: make(map[string]map[chan struct{}]struct{})}
}

// Watch registers a watcher of id. The channel receives a value after each
// Publish(id) made after Watch returned (several publishes between two
// receives arrive as one value). The returned function stops the watch; it
// may be called more than once. The channel is never closed.
func (h *Hub) Watch(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	set := h.watchers[id]
	if set == nil {
		set = make(map[chan struct{}]struct{})
		h.watchers[id] = set
	}
	set[ch] = struct{}{}
	h.mu.Unlock()

	var once sync.Once
	stop := func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			set := h.watchers[id]
			delete(set, ch)
			if len(set) == 0 {
				delete(h.watchers, id)
			}
		})
	}
	return ch, stop
}

// Publish signals every current watcher of id. It never blocks.
func (h *Hub) Publish(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.watchers[id] {
		select {
		case ch <- struct{}{}:
		default: // a signal is already pending; it covers this change too
		}
	}
}

// Watchers returns how many watches of id are active.
func (h *Hub) Watchers(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers[id])
}
