package api

import (
	"context"
	"net/http"
	"regexp"

	"github.com/troupehq/troupe"
)

// ansiEscape matches terminal escape sequences: CSI (colours, cursor),
// OSC (titles, links) and the two-byte ones.
var ansiEscape = regexp.MustCompile("\x1b(?:\\[[0-?]*[ -/]*[@-~]|\\][^\x07\x1b]*(?:\x07|\x1b\\\\)|[@-Z\\\\-_])")

// stripANSI removes terminal escape sequences from log text.
func stripANSI(b []byte) []byte {
	if !containsEsc(b) {
		return b
	}
	return ansiEscape.ReplaceAll(b, nil)
}

func containsEsc(b []byte) bool {
	for _, c := range b {
		if c == 0x1b {
			return true
		}
	}
	return false
}

// jobState reports whether a job (run or build) has finished; the error is
// record-not-found when the job does not exist.
type jobState func(ctx context.Context) (terminal bool, err error)

func (s *Server) runState(id string) jobState {
	return func(ctx context.Context) (bool, error) {
		r, err := s.getRun(ctx, id)
		if err != nil {
			return false, err
		}
		return r.Status.Terminal(), nil
	}
}

func (s *Server) buildState(id string) jobState {
	return func(ctx context.Context) (bool, error) {
		b, err := s.getBuild(ctx, id)
		if err != nil {
			return false, err
		}
		return b.Status.Terminal(), nil
	}
}

// anyJobState finds a run, else a build, with the id.
func (s *Server) anyJobState(id string) jobState {
	run, build := s.runState(id), s.buildState(id)
	return func(ctx context.Context) (bool, error) {
		done, err := run(ctx)
		if troupe.IsNotFound(err) {
			done, err = build(ctx)
			if troupe.IsNotFound(err) {
				return false, troupe.Errorf(troupe.ErrRecordNotFound, "No run or build with id %q was found.", id)
			}
		}
		return done, err
	}
}

// getLog answers GET /v2/logs/{id}: the log of a run or a build.
func (s *Server) getLog(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("jobId")
	return s.serveLog(w, r, id, s.anyJobState(id))
}

// getRunLog answers a run's log.
func (s *Server) getRunLog(w http.ResponseWriter, r *http.Request) error {
	id, err := s.pathRunID(r)
	if err != nil {
		return err
	}
	return s.serveLog(w, r, id, s.runState(id))
}

// getBuildLog answers a build's log.
func (s *Server) getBuildLog(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("buildId")
	return s.serveLog(w, r, id, s.buildState(id))
}

// serveLog answers a job's log as text/plain: each stored line starts with
// its ISO timestamp. raw keeps terminal escape codes (stripped otherwise),
// download makes it an attachment, and stream keeps the response open,
// sending new lines as they are stored, until the job has finished and all
// of its log was sent.
func (s *Server) serveLog(w http.ResponseWriter, r *http.Request, id string, state jobState) error {
	q := queryOf(r)
	stream, err := q.bool("stream", false)
	if err != nil {
		return err
	}
	raw, err := q.bool("raw", false)
	if err != nil {
		return err
	}
	download, err := q.bool("download", false)
	if err != nil {
		return err
	}
	ctx := r.Context()
	// A stream waits on two signals: the log grew (read it again) and the
	// job changed (see whether it has finished). The log watch starts
	// first, so by the time the job's watch exists both do.
	var changed, grew <-chan struct{}
	if stream {
		lch, lstop := s.store.WatchLog(id)
		defer lstop()
		ch, stop := s.store.Watch(id)
		defer stop()
		changed, grew = ch, lch
	}
	done, err := state(ctx)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if download {
		h.Set("Content-Disposition", `attachment; filename="`+id+`.log"`)
	}
	if stream {
		h.Set("Cache-Control", "no-cache")
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var seq int64
	for {
		// Read everything there is. When the job had finished before the
		// read began, what was read is the end of its log.
		for {
			data, next, err := s.store.ReadLog(ctx, id, seq)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error("read log", "job", id, "err", err)
				}
				return nil
			}
			if len(data) == 0 || next == seq {
				break
			}
			seq = next
			if !raw {
				data = stripANSI(data)
			}
			if _, err := w.Write(data); err != nil {
				return nil
			}
		}
		if !stream || done {
			return nil
		}
		_ = rc.Flush()
		select {
		case <-grew:
			continue // the job has not changed: only the log needs reading
		case <-changed:
		case <-ctx.Done():
			return nil
		}
		if done, err = state(ctx); err != nil {
			return nil // the job was deleted: the log ends
		}
	}
}
