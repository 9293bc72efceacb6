// Package logsink writes the log of a job (a run or a build) to the store:
// it timestamps each line, batches lines while the store is busy, and caps
// the log's size.
package logsink

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/troupehq/troupe"
)

// MaxBytes caps one job's log (per sink, so per server lifetime of the
// job); what comes after is dropped with a notice.
const MaxBytes = 10 << 20

// maxChunk bounds the text of one store append, so that a reader of the log
// never gets a chunk much larger than this (a single longer line is written
// whole).
const maxChunk = 1 << 20

// isoMillis is the timestamp that starts each line.
const isoMillis = "2006-01-02T15:04:05.000Z"

// Sink timestamps a job's output lines and appends them to the store.
// Lines are written as soon as the writer is free: one line alone when the
// job is quiet, a batch when it is chatty. Create it with New; Close it.
type Sink struct {
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
	// added counts the bytes ever put in buf, taken those taken from it.
	added, taken int64
	// marks are the marks after the buffered process lines, in order; a
	// chunk is appended with the mark of its last process line.
	marks []bufMark
	// counts is how many lines of each generation's process the sink has
	// taken in (see Resume).
	counts map[int]int64

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// New starts the sink of the job with this id. Writes outlive ctx's
// cancellation (lines already read from a process are kept); ctx's values
// are used. log (may be nil) hears about appends that keep failing; clock
// (nil: the real one) timestamps lines and times retries.
func New(ctx context.Context, store troupe.LogStore, id string, log *slog.Logger, clock clockwork.Clock) *Sink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	s := &Sink{ctx: ctx, store: store, id: id, log: log, clock: clock,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	s.flushed = sync.NewCond(&s.mu)
	go s.writer()
	return s
}

// Line adds one line of the job's output.
func (s *Sink) Line(text string) {
	s.addLine(text, -1)
}

// System adds a line written by troupe itself.
func (s *Sink) System(text string) {
	s.addLine("[troupe] "+text, -1)
}

// bufMark is the mark of the log once the buffer is written up to end
// (counted in bytes ever added).
type bufMark struct {
	end  int64
	mark troupe.LogMark
}

// Resume says the log holds mark.Lines outputs of the process of
// generation mark.Generation already; that process's lines (ProcessLine)
// are counted on from there.
func (s *Sink) Resume(mark troupe.LogMark) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts = map[int]int64{}
	}
	s.counts[mark.Generation] = mark.Lines
}

// ProcessLine adds one output of the process of a run's generation gen.
// The chunk that stores it records how many outputs of that process the
// log holds (troupe.LogMark), so a later server can resume after them. A
// line dropped by the size limit is not counted.
func (s *Sink) ProcessLine(gen int, text string) {
	s.addLine(text, gen)
}

// Truncated reports whether the log reached MaxBytes.
func (s *Sink) Truncated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.truncated
}

// addLine adds a line; gen >= 0 makes it an output of that generation's
// process.
func (s *Sink) addLine(text string, gen int) {
	ts := s.clock.Now().UTC().Format(isoMillis)
	s.mu.Lock()
	if s.truncated {
		s.mu.Unlock()
		return
	}
	n := int64(len(ts) + 1 + len(text) + 1)
	if s.size+n > MaxBytes {
		s.truncated = true
		text = "[troupe] The log reached its size limit; further output is dropped."
		n = int64(len(ts) + 1 + len(text) + 1)
		gen = -1
	}
	s.size += n
	s.added += n
	if gen >= 0 {
		if s.counts == nil {
			s.counts = map[int]int64{}
		}
		s.counts[gen]++
		s.marks = append(s.marks, bufMark{s.added, troupe.LogMark{Generation: gen, Lines: s.counts[gen]}})
	}
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

func (s *Sink) writer() {
	defer close(s.done)
	for {
		select {
		case <-s.kick:
			s.writeAll()
		case <-s.stop:
			s.writeAll()
			return
		}
	}
}

// writeAll writes what is buffered, in chunks of whole lines.
func (s *Sink) writeAll() {
	for s.writeOnce() {
	}
}

// writeOnce writes one chunk and reports whether it wrote anything.
func (s *Sink) writeOnce() bool {
	s.mu.Lock()
	if s.buf.Len() == 0 {
		s.mu.Unlock()
		return false
	}
	b := s.buf.Bytes()
	n := len(b)
	if n > maxChunk {
		// Whole lines up to maxChunk, or the first line when it is longer.
		if i := bytes.LastIndexByte(b[:maxChunk], '\n'); i >= 0 {
			n = i + 1
		} else {
			n = bytes.IndexByte(b, '\n') + 1
		}
	}
	data := bytes.Clone(b[:n])
	s.buf.Next(n)
	s.taken += int64(n)
	var mark *troupe.LogMark
	i := 0
	for i < len(s.marks) && s.marks[i].end <= s.taken {
		mark = &s.marks[i].mark
		i++
	}
	if mark != nil {
		m := *mark
		mark = &m
		s.marks = append(s.marks[:0], s.marks[i:]...)
	}
	s.pending = len(data)
	s.mu.Unlock()
	for attempt := 0; ; attempt++ {
		// Persist even while the server shuts down: these lines were
		// already read from the process.
		ctx := context.WithoutCancel(s.ctx)
		var err error
		if mark != nil {
			err = s.store.AppendMarkedLog(ctx, s.id, data, *mark)
		} else {
			err = s.store.AppendLog(ctx, s.id, data)
		}
		if err == nil || attempt >= 5 {
			if err != nil {
				s.log.Error("append log", "job", s.id, "err", err)
			}
			break
		}
		s.clock.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	s.mu.Lock()
	s.pending = 0
	s.flushed.Broadcast()
	s.mu.Unlock()
	return true
}

// Flush returns once every line added so far is in the store.
func (s *Sink) Flush() {
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

// Close writes what is left and stops the writer.
func (s *Sink) Close() {
	close(s.stop)
	<-s.done
}
