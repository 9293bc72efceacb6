package controller

import (
	"context"
	"log/slog"

	"github.com/jonboulle/clockwork"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/logsink"
)

// MaxLogBytes caps one run's log (per server lifetime of the run); what
// comes after is dropped with a notice.
const MaxLogBytes = logsink.MaxBytes

// logSink writes a run's log (see logsink.Sink).
type logSink struct{ s *logsink.Sink }

func newLogSink(ctx context.Context, store troupe.LogStore, id string, log *slog.Logger, clock clockwork.Clock) *logSink {
	return &logSink{logsink.New(ctx, store, id, log, clock)}
}

// line adds one line of the process's output.
func (l *logSink) line(text string) { l.s.Line(text) }

// output returns the ExecSpec.Output of the process of generation gen: its
// lines are counted in the log's marks (troupe.LogMark).
func (l *logSink) output(gen int) func(string) {
	return func(text string) { l.s.ProcessLine(gen, text) }
}

// resume says the log holds mark.Lines outputs of mark.Generation's
// process already.
func (l *logSink) resume(mark troupe.LogMark) { l.s.Resume(mark) }

// system adds a line written by troupe itself.
func (l *logSink) system(text string) { l.s.System(text) }

// flush returns once every line added so far is in the store.
func (l *logSink) flush() { l.s.Flush() }

// close writes what is left and stops the writer.
func (l *logSink) close() { l.s.Close() }
