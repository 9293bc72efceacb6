package api_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
	"github.com/troupehq/troupe/sqlite"
)

// shortLimits are connection limits short enough for a test to outlast.
func shortLimits(c *api.Config) {
	c.ReadHeaderTimeout = 200 * time.Millisecond
	c.ReadTimeout = 400 * time.Millisecond
	c.IdleTimeout = 300 * time.Millisecond
	c.WriteStallTimeout = 200 * time.Millisecond
	c.MaxHeaderBytes = 4096
}

// dial opens a raw connection to b's server.
func (b *bundle) dial(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", b.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// Every read below ends long before this unless the server hangs.
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// closedAfter reads from a connection until the server closes it and
// returns how long after start that was; it fails if the server sent
// anything.
func closedAfter(t *testing.T, start time.Time, br *bufio.Reader) time.Duration {
	t.Helper()
	n, err := br.Read(make([]byte, 1))
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read %d bytes, err %v; want the server to close the connection", n, err)
	}
	return time.Since(start)
}

func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, false, shortLimits)

	t.Run("IdleAfter401", func(t *testing.T) {
		c, br := b.dial(t)
		start := time.Now() // the idle timeout starts after the answer
		fmt.Fprint(c, "GET /v2/actor-runs HTTP/1.1\r\nHost: troupe\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 401 || resp.Close {
			t.Fatalf("status %d, close %v; want a kept-alive 401", resp.StatusCode, resp.Close)
		}
		if d := closedAfter(t, start, br); d < 300*time.Millisecond {
			t.Errorf("closed after %v, before the idle timeout", d)
		}
	})
	t.Run("SlowHeaders", func(t *testing.T) {
		start := time.Now() // the header timeout starts after the dial
		c, br := b.dial(t)
		fmt.Fprint(c, "GET /v2/actor-runs HTTP/1.1\r\nHost: troupe\r\n")
		if d := closedAfter(t, start, br); d < 200*time.Millisecond {
			t.Errorf("closed after %v, before the header timeout", d)
		}
	})
	t.Run("HeadersTooLarge", func(t *testing.T) {
		c, br := b.dial(t)
		fmt.Fprintf(c, "GET /v2/actor-runs HTTP/1.1\r\nHost: troupe\r\nX-Big: %s\r\n\r\n", strings.Repeat("x", 10000))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
	})
	t.Run("SlowBody", func(t *testing.T) {
		var ds troupe.Storage
		b.call("POST", "/v2/datasets?name=slow", nil).ok(t, 201, &ds)
		c, br := b.dial(t)
		fmt.Fprintf(c, "POST /v2/datasets/%s/items HTTP/1.1\r\nHost: troupe\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n[{\"a\":1}", ds.ID, adminToken)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "invalid-request") || !strings.Contains(string(body), "time limit") {
			t.Errorf("cut-off body = %d %s", resp.StatusCode, body)
		}
		closedAfter(t, time.Now(), br)
		var got troupe.Storage
		if b.call("GET", "/v2/datasets/"+ds.ID, nil).ok(t, 200, &got); got.ItemCount == nil || *got.ItemCount != 0 {
			t.Errorf("items after a cut-off push: %v", got.ItemCount)
		}
	})
	// waitForFinish holds a request longer than every limit above, with
	// and without a request body.
	t.Run("LongWaitsKept", func(t *testing.T) {
		a := b.actor("waiter", "")
		start := time.Now()
		run := b.start(a.ID, "?waitForFinish=1", []byte(`{"x":1}`), "application/json")
		var again troupe.Run
		b.call("GET", "/v2/actor-runs/"+run.ID+"?waitForFinish=1", nil).ok(t, 200, &again)
		if again.ID != run.ID {
			t.Errorf("GET run = %q", again.ID)
		}
		if d := time.Since(start); d < 2*time.Second {
			t.Errorf("two waits of 1 s took %v", d)
		}
	})
}

// TestWriteStall: a client that stops reading a large response is cut off,
// and the handler ends.
func TestWriteStall(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "troupe.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	st, _, err := db.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindKeyValueStore})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789"), api.MaxBodyBytes/10)
	if err := db.PutRecord(ctx, st.ID, &troupe.Record{Key: "big", Value: big, ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{Store: db, Token: adminToken, RunTokenSecret: runSecret, UserID: userID, Username: username}
	shortLimits(&cfg)
	h := api.New(cfg)
	srv := httptest.NewUnstartedServer(h)
	srv.Config = h.HTTPServer()
	closed := make(chan struct{})
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			close(closed)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(c, "GET /v2/key-value-stores/%s/records/big HTTP/1.1\r\nHost: troupe\r\nAuthorization: Bearer %s\r\n\r\n", st.ID, adminToken)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the server still writes to a client that reads nothing")
	}
}

// stallEvents answers the events websocket once the connection has been
// quiet for longer than the server's write-stall and read timeouts.
type stallEvents struct{ quiet time.Duration }

func (e stallEvents) ServeRun(w http.ResponseWriter, r *http.Request, runID string) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	<-time.After(e.quiet)
	_ = ws.Write(r.Context(), websocket.MessageText, []byte("late "+runID))
	_, msg, err := ws.Read(r.Context())
	if err == nil {
		_ = ws.Write(r.Context(), websocket.MessageText, msg)
	}
}

// TestWebsocketOutlivesLimits: a hijacked connection keeps no deadline.
func TestWebsocketOutlivesLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, false, shortLimits, func(c *api.Config) { c.Events = stallEvents{quiet: time.Second} })
	run := b.start(b.actor("ws", "").ID, "", nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(b.srv.URL, "http") + "/v2/actor-runs/" + run.ID + "/events?token=" + adminToken
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, msg, err := ws.Read(ctx); err != nil || string(msg) != "late "+run.ID {
		t.Fatalf("first message %q, %v", msg, err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("echo")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || string(msg) != "echo" {
		t.Fatalf("echo %q, %v", msg, err)
	}
}
