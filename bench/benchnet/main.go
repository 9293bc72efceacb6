// Command benchnet holds the benchmark's programs that need the network:
//
//	graceful          a troupe actor: print bench-start, connect to
//	                  ACTOR_EVENTS_WEBSOCKET_URL, print bench-ready, and on the
//	                  "aborting" event print bench-exit and exit 0
//	serve FILE        the bare net/http baseline of the API read scenario:
//	                  answer every request with the bytes of FILE as
//	                  application/json; print "listening ADDR" first
//
// Lines carry CLOCK_MONOTONIC in nanoseconds, as benchactor's do.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: benchnet graceful|serve FILE")
	}
	switch os.Args[1] {
	case "graceful":
		stamp("bench-start")
		graceful()
	case "serve":
		if len(os.Args) < 3 {
			fail("serve needs a file")
		}
		serve(os.Args[2])
	default:
		fail("unknown mode " + os.Args[1])
	}
}

func stamp(event string) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		fail(err.Error())
	}
	fmt.Fprintf(os.Stdout, "%s %d\n", event, ts.Nano())
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "benchnet:", msg)
	os.Exit(2)
}

// graceful follows the run's events websocket until the aborting event.
func graceful() {
	u := os.Getenv("ACTOR_EVENTS_WEBSOCKET_URL")
	if u == "" {
		fail("ACTOR_EVENTS_WEBSOCKET_URL is not set")
	}
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		fail("connect events websocket: " + err.Error())
	}
	conn.SetReadLimit(1 << 20)
	stamp("bench-ready")
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			fail("read events websocket: " + err.Error())
		}
		var ev struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(data, &ev) == nil && ev.Name == "aborting" {
			stamp("bench-exit")
			os.Exit(0)
		}
	}
}

// serve is the bare net/http baseline of the API read scenario.
func serve(file string) {
	body, err := os.ReadFile(file)
	if err != nil {
		fail(err.Error())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err.Error())
	}
	fmt.Fprintf(os.Stdout, "listening %s\n", ln.Addr())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	_ = srv.Serve(ln)
}
