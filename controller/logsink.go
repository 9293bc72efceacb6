package controller

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/troupehq/troupe"
)

// MaxLogBytes caps one run's log (per server lifetime of the run); what
// comes after is dropped with a notice.
const MaxLogBytes = 10 << 20

// logSink timestamps a run's output lines and appends them to the store.
// Lines are written as soon as the writer is free: one line alone when the
// run is quiet, a batch when it is chatty.
type logSink struct {
	ctx   context.Context
	store troupe.LogStore
	id    string
	log   *slog.Logger
	clock clockwork.Clock

	mu        sync.Mutex
	buf       bytes.Buffer
	size      int64
	truncated bool
	flushed   *sync.Cond // signalled after each write to the store
	pending   int        // bytes taken from buf and not yet written

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newLogSink(ctx context.Context, store troupe.LogStore, id string, log *slog.Logger, clock clockwork.Clock) *logSink {
	s := &logSink{ctx: ctx, store: store, id: id, log: log, clock: clock,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	s.flushed = sync.NewCond(&s.mu)
	go s.writer()
	return s
}

// line adds one line of the process's output.
func (s *logSink) line(text string) {
	s.add(text)
}

// system adds a line written by troupe itself.
func (s *logSink) system(text string) {
	s.add("[troupe] " + text)
}

func (s *logSink) add(text string) {
	ts := s.clock.Now().UTC().Format(isoMillis)
	s.mu.Lock()
	if s.truncated {
		s.mu.Unlock()
		return
	}
	n := int64(len(ts) + 1 + len(text) + 1)
	if s.size+n > MaxLogBytes {
		s.truncated = true
		text = "[troupe] The log reached its size limit; further output is dropped."
		n = int64(len(ts) + 1 + len(text) + 1)
	}
	s.size += n
	s.buf.WriteString(ts)
	s.buf.WriteByte(' ')
	s.buf.WriteString(text)
	s.buf.WriteByte('\n')
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *logSink) writer() {
	defer close(s.done)
	for {
		select {
		case <-s.kick:
			s.writeOnce()
		case <-s.stop:
			s.writeOnce()
			return
		}
	}
}

func (s *logSink) writeOnce() {
	s.mu.Lock()
	if s.buf.Len() == 0 {
		s.mu.Unlock()
		return
	}
	data := bytes.Clone(s.buf.Bytes())
	s.buf.Reset()
	s.pending = len(data)
	s.mu.Unlock()
	for attempt := 0; ; attempt++ {
		// Persist even while the controller shuts down: these lines were
		// already read from the process.
		err := s.store.AppendLog(context.WithoutCancel(s.ctx), s.id, data)
		if err == nil || attempt >= 5 {
			if err != nil {
				s.log.Error("append run log", "run", s.id, "err", err)
			}
			break
		}
		s.clock.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	s.mu.Lock()
	s.pending = 0
	s.flushed.Broadcast()
	s.mu.Unlock()
}

// flush returns once every line added so far is in the store.
func (s *logSink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.buf.Len() > 0 || s.pending > 0 {
		select {
		case <-s.done:
			return
		default:
		}
		select {
		case s.kick <- struct{}{}:
		default:
		}
		s.flushed.Wait()
	}
}

// close writes what is left and stops the writer.
func (s *logSink) close() {
	close(s.stop)
	<-s.done
}
