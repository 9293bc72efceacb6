package events_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/events"
)

var isoMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

type testBundle struct {
	hub *events.Hub
	srv *httptest.Server
}

// setup serves hub.ServeRun at /runs/{id}. A long interval keeps systemInfo
// to the one sent on connect unless opts say otherwise.
func setup(t *testing.T, opts events.Options) *testBundle {
	t.Helper()
	if opts.Interval == 0 {
		opts.Interval = time.Hour
	}
	hub := events.NewHub(opts)
	mux := http.NewServeMux()
	mux.HandleFunc("/runs/{id}", func(w http.ResponseWriter, r *http.Request) {
		hub.ServeRun(w, r, r.PathValue("id"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		_ = hub.Close()
		srv.Close()
	})
	return &testBundle{hub: hub, srv: srv}
}

func (b *testBundle) dial(t *testing.T, runID string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.srv.URL, "http")+"/runs/"+runID, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// read returns the next frame, checking its shape.
func read(t *testing.T, c *websocket.Conn) events.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("message type = %v, want text", typ)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	if len(keys) != 3 || keys["name"] == nil || keys["createdAt"] == nil || keys["data"] == nil {
		t.Fatalf("frame %s: want exactly name, createdAt and data", b)
	}
	var f events.Frame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	if !isoMillis.MatchString(f.CreatedAt) {
		t.Errorf("createdAt = %q, want ISO with milliseconds and Z", f.CreatedAt)
	}
	return f
}

// readEvent returns the next frame that is not systemInfo.
func readEvent(t *testing.T, c *websocket.Conn) events.Frame {
	t.Helper()
	for {
		if f := read(t, c); f.Name != events.EventSystemInfo {
			return f
		}
	}
}

func TestSystemInfo(t *testing.T) {
	t.Parallel()
	stats := map[string]troupe.ProcessStats{
		"busy": {MemCurrentBytes: 65171456, MemMaxBytes: 70000000, MemAvgBytes: 19328860.5,
			CPUCurrentUsage: 190, CPUAvgUsage: 2.07, CPUMaxUsage: 199.5},
		"idle": {MemCurrentBytes: 1000, MemMaxBytes: 2000, MemAvgBytes: 1500, CPUCurrentUsage: 8.45},
	}
	b := setup(t, events.Options{
		Stats: func(runID string) (troupe.ProcessStats, bool) {
			st, ok := stats[runID]
			return st, ok
		},
		CPUs: func(string) float64 { return 2 },
		MemoryLimit: func(runID string) int64 {
			if runID == "idle" {
				return 256 << 20
			}
			return 0
		},
	})
	tests := []struct {
		run  string
		want map[string]any
	}{
		{"busy", map[string]any{
			"memAvgBytes": 19328860.5, "memCurrentBytes": 65171456.0, "memMaxBytes": 70000000.0,
			"cpuAvgUsage": 2.07, "cpuMaxUsage": 199.5, "cpuCurrentUsage": 190.0, "isCpuOverloaded": true,
		}},
		{"idle", map[string]any{
			"memAvgBytes": 1500.0, "memCurrentBytes": 1000.0, "memMaxBytes": float64(256 << 20),
			"cpuAvgUsage": 0.0, "cpuMaxUsage": 0.0, "cpuCurrentUsage": 8.45, "isCpuOverloaded": false,
		}},
		{"unknown", map[string]any{
			"memAvgBytes": 0.0, "memCurrentBytes": 0.0, "memMaxBytes": 0.0,
			"cpuAvgUsage": 0.0, "cpuMaxUsage": 0.0, "cpuCurrentUsage": 0.0, "isCpuOverloaded": false,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.run, func(t *testing.T) {
			t.Parallel()
			f := read(t, b.dial(t, tt.run))
			if f.Name != events.EventSystemInfo {
				t.Fatalf("first frame = %q, want systemInfo", f.Name)
			}
			var got map[string]any
			if err := json.Unmarshal(f.Data, &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != 8 {
				t.Errorf("data has %d fields, want 8: %s", len(got), f.Data)
			}
			created, ok := got["createdAt"].(string)
			if !ok || !isoMillis.MatchString(created) {
				t.Errorf("data.createdAt = %#v, want ISO with milliseconds and Z", got["createdAt"])
			}
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("data.%s = %#v, want %#v", k, got[k], want)
				}
			}
		})
	}
}

func TestSystemInfoPeriodic(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Options{Interval: 20 * time.Millisecond})
	c := b.dial(t, "r1")
	for range 3 {
		if f := read(t, c); f.Name != events.EventSystemInfo {
			t.Fatalf("frame = %q, want systemInfo", f.Name)
		}
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Options{})
	c := b.dial(t, "r1")
	read(t, c) // systemInfo on connect: the connection is registered
	tests := []struct {
		name string
		data any
		want string
	}{
		{events.EventAborting, nil, `{}`},
		{events.EventAborting, struct{}{}, `{}`},
		{events.EventPersistState, events.PersistStateData{}, `{"isMigrating":false}`},
		{events.EventMigrating, events.MigratingData{TimeRemainingSecs: 30}, `{"timeRemainingSecs":30}`},
	}
	for _, tt := range tests {
		if n := b.hub.Send("r1", tt.name, tt.data); n != 1 {
			t.Fatalf("Send(%s) = %d, want 1", tt.name, n)
		}
		f := readEvent(t, c)
		if f.Name != tt.name || string(f.Data) != tt.want {
			t.Errorf("frame = %s %s, want %s %s", f.Name, f.Data, tt.name, tt.want)
		}
	}
}

func TestQueuedUntilConnect(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Options{})
	const sent = events.MaxQueued + 4
	for i := range sent {
		if n := b.hub.Send("r1", "e"+strconv.Itoa(i), nil); n != 0 {
			t.Fatalf("Send with no connection = %d, want 0", n)
		}
	}
	c := b.dial(t, "r1")
	for i := sent - events.MaxQueued; i < sent; i++ {
		if f := read(t, c); f.Name != "e"+strconv.Itoa(i) {
			t.Fatalf("frame = %q, want e%d (the last %d, in order)", f.Name, i, events.MaxQueued)
		}
	}
	if f := read(t, c); f.Name != events.EventSystemInfo {
		t.Fatalf("frame = %q after the queued ones, want systemInfo", f.Name)
	}
	// Delivered once: a second connection gets only new events.
	c2 := b.dial(t, "r1")
	read(t, c2)
	b.hub.Send("r1", events.EventAborting, nil)
	if f := readEvent(t, c2); f.Name != events.EventAborting {
		t.Fatalf("second connection got %q, want aborting", f.Name)
	}
}

func TestMultipleConnections(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Options{})
	a1, a2, other := b.dial(t, "a"), b.dial(t, "a"), b.dial(t, "b")
	for _, c := range []*websocket.Conn{a1, a2, other} {
		read(t, c)
	}
	if n := b.hub.Send("a", events.EventAborting, nil); n != 2 {
		t.Fatalf("Send = %d, want 2", n)
	}
	if n := b.hub.Send("b", "marker", nil); n != 1 {
		t.Fatalf("Send = %d, want 1", n)
	}
	for _, c := range []*websocket.Conn{a1, a2} {
		if f := readEvent(t, c); f.Name != events.EventAborting {
			t.Errorf("run a got %q, want aborting", f.Name)
		}
	}
	if f := readEvent(t, other); f.Name != "marker" {
		t.Errorf("run b got %q first, want only its own marker", f.Name)
	}
}

func TestForget(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Options{})
	c := b.dial(t, "r1")
	read(t, c)
	b.hub.Send("r1", events.EventAborting, nil)
	b.hub.Forget("r1")
	// What was sent before Forget still arrives, then the close.
	if f := readEvent(t, c); f.Name != events.EventAborting {
		t.Fatalf("got %q, want aborting", f.Name)
	}
	_, _, err := c.Read(t.Context())
	if got := websocket.CloseStatus(err); got != websocket.StatusNormalClosure {
		t.Fatalf("read after Forget: %v, want normal closure", err)
	}

	// Queued events are dropped.
	b.hub.Send("r2", "forgotten", nil)
	b.hub.Forget("r2")
	c2 := b.dial(t, "r2")
	if f := read(t, c2); f.Name != events.EventSystemInfo {
		t.Fatalf("first frame = %q, want systemInfo", f.Name)
	}
	b.hub.Send("r2", "marker", nil)
	if f := readEvent(t, c2); f.Name != "marker" {
		t.Fatalf("got %q, want marker (forgotten event dropped)", f.Name)
	}
}

func TestClientMessagesDiscarded(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Options{})
	c := b.dial(t, "r1")
	read(t, c)
	big := strings.Repeat("x", 100<<10)
	for _, msg := range []string{`{"name":"hello"}`, big} {
		if err := c.Write(t.Context(), websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	b.hub.Send("r1", "marker", nil)
	if f := readEvent(t, c); f.Name != "marker" {
		t.Fatalf("got %q, want marker", f.Name)
	}
}

func TestClientClose(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Options{})
	c := b.dial(t, "r1")
	read(t, c)
	if got := b.hub.Connections("r1"); got != 1 {
		t.Fatalf("Connections = %d, want 1", got)
	}
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("client close: %v", err)
	}
	// The hub notices on its own goroutine; there is no event to wait on.
	deadline := time.Now().Add(5 * time.Second)
	for b.hub.Connections("r1") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("connection still registered after the client closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := b.hub.Send("r1", events.EventAborting, nil); n != 0 {
		t.Errorf("Send after client close = %d, want 0 (queued)", n)
	}
}

func TestHubClose(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Options{})
	c := b.dial(t, "r1")
	read(t, c)
	closed := make(chan error, 1)
	go func() { closed <- b.hub.Close() }()
	_, _, err := c.Read(t.Context())
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Fatalf("read after Close: %v, want going away", err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	// New connections are refused.
	c2 := b.dial(t, "r1")
	_, _, err = c2.Read(t.Context())
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Fatalf("read on a connection after Close: %v, want going away", err)
	}
	if n := b.hub.Send("r1", events.EventAborting, nil); n != 0 {
		t.Errorf("Send after Close = %d, want 0", n)
	}
}

func TestCreatedAtFormat(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 8, 9, 18, 4, 16, 161_900_000, time.FixedZone("CEST", 2*3600))
	b := setup(t, events.Options{Now: func() time.Time { return at }})
	f := read(t, b.dial(t, "r1"))
	if want := "2024-08-09T16:04:16.161Z"; f.CreatedAt != want {
		t.Errorf("createdAt = %q, want %q", f.CreatedAt, want)
	}
	var data events.SystemInfoData
	if err := json.Unmarshal(f.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.CreatedAt != f.CreatedAt {
		t.Errorf("data.createdAt = %q, want %q", data.CreatedAt, f.CreatedAt)
	}
}
