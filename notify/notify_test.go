package notify_test

import (
	"sync"
	"testing"

	"github.com/troupehq/troupe/notify"
)

func received(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestPublishReachesWatchersOfThatID(t *testing.T) {
	t.Parallel()
	h := notify.New()
	a1, stopA1 := h.Watch("a")
	defer stopA1()
	a2, stopA2 := h.Watch("a")
	defer stopA2()
	b, stopB := h.Watch("b")
	defer stopB()

	h.Publish("a")

	if !received(a1) || !received(a2) {
		t.Fatal("a watcher of a did not receive the signal")
	}
	if received(b) {
		t.Fatal("the watcher of b received a signal published for a")
	}
}

func TestPublishesCoalesceAndNeverBlock(t *testing.T) {
	t.Parallel()
	h := notify.New()
	ch, stop := h.Watch("job")
	defer stop()

	for range 100 {
		h.Publish("job") // must not block although nobody receives
	}
	if !received(ch) {
		t.Fatal("no signal pending after 100 publishes")
	}
	if received(ch) {
		t.Fatal("more than one signal pending; publishes should coalesce")
	}
	h.Publish("job")
	if !received(ch) {
		t.Fatal("a publish after a receive was lost")
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	h := notify.New()
	ch, stop := h.Watch("job")
	if got, want := h.Watchers("job"), 1; got != want {
		t.Fatalf("Watchers = %d, want %d", got, want)
	}
	stop()
	stop() // idempotent
	if got, want := h.Watchers("job"), 0; got != want {
		t.Fatalf("Watchers after stop = %d, want %d", got, want)
	}
	h.Publish("job")
	if received(ch) {
		t.Fatal("a stopped watcher received a signal")
	}
}

func TestPublishWithoutWatchers(t *testing.T) {
	t.Parallel()
	h := notify.New()
	h.Publish("nobody") // no panic, no block
}

// TestNoLostChange checks the contract waiters rely on: a watcher that reads
// a value after every receive always ends up seeing the last value written,
// however the publishes interleave with its receives.
func TestNoLostChange(t *testing.T) {
	t.Parallel()
	h := notify.New()
	var mu sync.Mutex
	value := 0
	read := func() int { mu.Lock(); defer mu.Unlock(); return value }

	ch, stop := h.Watch("job")
	defer stop()
	const last = 10000
	go func() {
		for i := 1; i <= last; i++ {
			mu.Lock()
			value = i
			mu.Unlock()
			h.Publish("job")
		}
	}()
	for read() != last {
		<-ch
	}
}

func TestConcurrentWatchPublishStop(t *testing.T) {
	t.Parallel()
	h := notify.New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := []string{"a", "b"}[i%2]
			for range 500 {
				ch, stop := h.Watch(id)
				h.Publish(id)
				<-ch // our own publish came after Watch, so it must arrive
				stop()
			}
		}()
	}
	wg.Wait()
	if h.Watchers("a")+h.Watchers("b") != 0 {
		t.Fatal("watchers left after every watch was stopped")
	}
}
