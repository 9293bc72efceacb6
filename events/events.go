// Package events is the per-run events websocket hub: the server side of
// ACTOR_EVENTS_WEBSOCKET_URL, which the Apify SDKs connect to when they run on
// the platform.
//
// The hub pushes JSON text frames {"name","createdAt","data"} to every
// connection of a run: a systemInfo frame on connect and every
// Options.Interval, and whatever the controller sends with [Hub.Send]
// (aborting, persistState, migrating). It never expects anything from the
// actor; messages the client sends are read and discarded.
//
// An event sent while no connection of the run is open is kept (the last
// [MaxQueued] per run) and delivered, in order, to the next connection of
// that run, so an aborting sent just before the actor connected is not lost.
package events

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/troupehq/troupe"
)

// Event names.
const (
	EventSystemInfo   = "systemInfo"
	EventPersistState = "persistState"
	EventMigrating    = "migrating"
	EventAborting     = "aborting"
)

// TimeFormat is the layout of createdAt: ISO 8601 in UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime formats t as a createdAt value.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// MaxQueued is how many events the hub keeps for a run that has no open
// connection; older ones are dropped first.
const MaxQueued = 16

// OverloadedRatio is the share of the run's CPUs above which systemInfo
// reports isCpuOverloaded: cpuCurrentUsage (percent of one core) >=
// OverloadedRatio × 100 × CPUs.
const OverloadedRatio = 0.95

// Frame is one message to the actor.
type Frame struct {
	Name      string          `json:"name"`
	CreatedAt string          `json:"createdAt"`
	Data      json.RawMessage `json:"data"`
}

// SystemInfoData is the data of a systemInfo event. The Python SDK requires
// all eight fields.
type SystemInfoData struct {
	MemAvgBytes     float64 `json:"memAvgBytes"`
	MemCurrentBytes float64 `json:"memCurrentBytes"`
	MemMaxBytes     float64 `json:"memMaxBytes"`
	CPUAvgUsage     float64 `json:"cpuAvgUsage"`
	CPUMaxUsage     float64 `json:"cpuMaxUsage"`
	CPUCurrentUsage float64 `json:"cpuCurrentUsage"`
	IsCPUOverloaded bool    `json:"isCpuOverloaded"`
	CreatedAt       string  `json:"createdAt"`
}

// PersistStateData is the data of a persistState event sent by the
// platform (the SDK sends itself the migrating ones).
type PersistStateData struct {
	IsMigrating bool `json:"isMigrating"`
}

// MigratingData is the data of a migrating event.
type MigratingData struct {
	TimeRemainingSecs int `json:"timeRemainingSecs"`
}

// Options configure a [Hub].
type Options struct {
	// Stats returns the latest resource sample of the run's process; false
	// when there is none (systemInfo then reports zeros).
	Stats func(runID string) (troupe.ProcessStats, bool)
	// Interval is the systemInfo period. Default 2 s.
	Interval time.Duration
	// MemoryLimit, when set and positive for a run, is reported as
	// memMaxBytes: the Python SDK reads memMaxBytes as the total memory
	// available. Otherwise memMaxBytes is the peak use, as on the hosted
	// platform.
	MemoryLimit func(runID string) int64
	// CPUs returns how many cores the run may use, for isCpuOverloaded.
	// Default: the number of CPUs of the machine.
	CPUs   func(runID string) float64
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Hub serves the events websockets of all runs. It is safe for concurrent
// use.
type Hub struct {
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	runs   map[string]*runConns
	closed bool
	wg     sync.WaitGroup // one per open connection
}

type runConns struct {
	conns map[*conn]struct{}
	queue [][]byte // frames for the next connection
}

// sendBuffer is how many frames may wait for a slow connection before the
// hub drops it.
const sendBuffer = 64

// writeTimeout bounds each write to a client.
const writeTimeout = 10 * time.Second

type conn struct {
	send   chan []byte
	quit   chan struct{}
	once   sync.Once
	code   websocket.StatusCode
	reason string
}

// stop asks the connection's writer to close it with code.
func (c *conn) stop(code websocket.StatusCode, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		close(c.quit)
	})
}

// NewHub returns a hub.
func NewHub(opts Options) *Hub {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{opts: opts, log: log, runs: make(map[string]*runConns)}
}

// ServeRun upgrades the request to a websocket and serves the events of
// runID on it until the client leaves, [Hub.Forget] or [Hub.Close]. It does
// not authenticate: the caller must have checked that runID exists and the
// request may see it. Any origin is accepted (actors are not browsers).
func (h *Hub) ServeRun(w http.ResponseWriter, r *http.Request, runID string) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		h.log.Debug("events: websocket accept", "run", runID, "err", err)
		return // Accept has answered the request
	}
	ws.SetReadLimit(-1) // client messages are discarded, whatever their size
	c := &conn{send: make(chan []byte, sendBuffer), quit: make(chan struct{})}
	queued, ok := h.register(runID, c)
	if !ok {
		_ = ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer h.unregister(runID, c)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// Reading is what notices the client leaving, and answers its pings and
	// close frame.
	go func() {
		defer cancel()
		for {
			_, rd, err := ws.Reader(ctx)
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, rd); err != nil {
				return
			}
		}
	}()

	write := func(msg []byte) bool {
		wctx, wcancel := context.WithTimeout(ctx, writeTimeout)
		defer wcancel()
		if err := ws.Write(wctx, websocket.MessageText, msg); err != nil {
			h.log.Debug("events: write", "run", runID, "err", err)
			return false
		}
		return true
	}
	for _, msg := range queued {
		if !write(msg) {
			_ = ws.CloseNow()
			return
		}
	}
	tick := time.NewTicker(h.opts.Interval)
	defer tick.Stop()
	if !write(h.systemInfo(runID)) {
		_ = ws.CloseNow()
		return
	}
	for {
		select {
		case <-ctx.Done():
			_ = ws.CloseNow()
			return
		case <-c.quit:
			// Flush what was sent before the stop, then close.
			for len(c.send) > 0 {
				if !write(<-c.send) {
					_ = ws.CloseNow()
					return
				}
			}
			_ = ws.Close(c.code, c.reason)
			return
		case msg := <-c.send:
			if !write(msg) {
				_ = ws.CloseNow()
				return
			}
		case <-tick.C:
			if !write(h.systemInfo(runID)) {
				_ = ws.CloseNow()
				return
			}
		}
	}
}

// register adds c to runID and hands it the queued frames.
func (h *Hub) register(runID string, c *conn) ([][]byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	rc := h.runLocked(runID)
	queued := rc.queue
	rc.queue = nil
	rc.conns[c] = struct{}{}
	h.wg.Add(1)
	return queued, true
}

func (h *Hub) unregister(runID string, c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rc := h.runs[runID]; rc != nil {
		delete(rc.conns, c)
		if len(rc.conns) == 0 && len(rc.queue) == 0 {
			delete(h.runs, runID)
		}
	}
	h.wg.Done()
}

func (h *Hub) runLocked(runID string) *runConns {
	rc := h.runs[runID]
	if rc == nil {
		rc = &runConns{conns: make(map[*conn]struct{})}
		h.runs[runID] = rc
	}
	return rc
}

// Send sends the event name with data to every open connection of runID and
// returns how many connections it was handed to. With none open, the event
// is queued for the next connection of the run and Send returns 0. A nil
// data is sent as {} (the Python SDK rejects null). A connection too slow to
// keep up is closed.
func (h *Hub) Send(runID, name string, data any) int {
	msg, err := h.frame(name, data)
	if err != nil {
		h.log.Error("events: encode event", "run", runID, "event", name, "err", err)
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0
	}
	rc := h.runLocked(runID)
	n := 0
	for c := range rc.conns {
		select {
		case c.send <- msg:
			n++
		default:
			h.log.Warn("events: client too slow, closing", "run", runID)
			c.stop(websocket.StatusTryAgainLater, "too slow")
			delete(rc.conns, c)
		}
	}
	if n == 0 {
		rc.queue = append(rc.queue, msg)
		if len(rc.queue) > MaxQueued {
			rc.queue = append(rc.queue[:0], rc.queue[len(rc.queue)-MaxQueued:]...)
		}
	}
	return n
}

// Connections returns how many connections of runID are open.
func (h *Hub) Connections(runID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rc := h.runs[runID]; rc != nil {
		return len(rc.conns)
	}
	return 0
}

// Forget drops the queued events of runID and closes its connections
// (normal closure), after flushing what was already sent to them. The
// controller calls it whenever a process of the run ends, so the run's next
// process starts afresh and a finished run leaves nothing behind.
func (h *Hub) Forget(runID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rc := h.runs[runID]
	if rc == nil {
		return
	}
	delete(h.runs, runID)
	for c := range rc.conns {
		c.stop(websocket.StatusNormalClosure, "run process ended")
	}
}

// Close closes every connection (going away), refuses new ones, and waits
// for the connections to end.
func (h *Hub) Close() error {
	h.mu.Lock()
	h.closed = true
	for _, rc := range h.runs {
		for c := range rc.conns {
			c.stop(websocket.StatusGoingAway, "server shutting down")
		}
	}
	h.runs = make(map[string]*runConns)
	h.mu.Unlock()
	h.wg.Wait()
	return nil
}

// frame encodes one frame.
func (h *Hub) frame(name string, data any) ([]byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(raw, []byte("null")) {
		raw = []byte("{}")
	}
	return json.Marshal(Frame{Name: name, CreatedAt: FormatTime(h.opts.Now()), Data: raw})
}

// systemInfo encodes a systemInfo frame for runID.
func (h *Hub) systemInfo(runID string) []byte {
	var st troupe.ProcessStats
	if h.opts.Stats != nil {
		st, _ = h.opts.Stats(runID)
	}
	memMax := float64(st.MemMaxBytes)
	if h.opts.MemoryLimit != nil {
		if l := h.opts.MemoryLimit(runID); l > 0 {
			memMax = float64(l)
		}
	}
	cpus := float64(runtime.NumCPU())
	if h.opts.CPUs != nil {
		if n := h.opts.CPUs(runID); n > 0 {
			cpus = n
		}
	}
	now := h.opts.Now()
	data, _ := json.Marshal(SystemInfoData{
		MemAvgBytes:     finite(st.MemAvgBytes),
		MemCurrentBytes: float64(st.MemCurrentBytes),
		MemMaxBytes:     memMax,
		CPUAvgUsage:     finite(st.CPUAvgUsage),
		CPUMaxUsage:     finite(st.CPUMaxUsage),
		CPUCurrentUsage: finite(st.CPUCurrentUsage),
		IsCPUOverloaded: st.CPUCurrentUsage >= OverloadedRatio*100*cpus,
		CreatedAt:       FormatTime(now),
	}) // cannot fail: finite numbers, a bool and a string
	msg, _ := json.Marshal(Frame{Name: EventSystemInfo, CreatedAt: FormatTime(now), Data: data})
	return msg
}

// finite maps NaN and infinities, which JSON cannot carry, to 0.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
