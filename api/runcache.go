package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/troupehq/troupe"
)

// runBodiesMax bounds how many finished runs' bodies a server keeps (about
// 1.5 KB each).
const runBodiesMax = 1024

// runBodies keeps the encoded GET body of finished runs, each with the
// run's Version when it was encoded. A finished run's body depends on the
// stored run only (its duration is no longer counting and it has no live
// stats), so while the stored Version is unchanged the body is still
// exact; any write to the run (a status message, a resurrection) moves
// the Version and the body is made again. It is safe for concurrent use.
type runBodies struct {
	mu sync.Mutex
	m  map[string]runBody
}

type runBody struct {
	version int64
	body    []byte
}

// get returns the body kept for the run id, and its version.
func (c *runBodies) get(id string) (runBody, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[id]
	return b, ok
}

// put keeps body for the run id at version. When full, it forgets an
// arbitrary entry first.
func (c *runBodies) put(id string, version int64, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]runBody)
	}
	if _, ok := c.m[id]; !ok && len(c.m) >= runBodiesMax {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[id] = runBody{version: version, body: body}
}

// cachedRunBody returns the kept body of the run id when the stored run
// still has the kept Version, and nil otherwise. A run that has no kept
// body costs nothing; one that has costs a read of its Version only.
func (s *Server) cachedRunBody(ctx context.Context, id string) []byte {
	b, ok := s.runBodies.get(id)
	if !ok {
		return nil
	}
	v, err := s.store.RunVersion(ctx, id)
	if err != nil || v != b.version {
		return nil // the full read that follows answers (or reports) it
	}
	return b.body
}

// writeRun answers the run (prepared by runView), keeping the body of a
// finished run for cachedRunBody.
func (s *Server) writeRun(w http.ResponseWriter, run *troupe.Run) {
	if !run.Status.Terminal() || run.Control.RunningSince != nil {
		writeData(w, http.StatusOK, run)
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(envelope{Data: run}); err != nil {
		writeData(w, http.StatusOK, run) // reports the error the same way as before
		return
	}
	body := buf.Bytes()
	s.runBodies.put(run.ID, run.Version, body)
	writeBody(w, body)
}

// writeBody answers 200 with an encoded JSON body, as writeData would.
func writeBody(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
