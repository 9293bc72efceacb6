package controller

import (
	"net"
	"strconv"
	"testing"
)

// freePort gives loopback ports that a run's web server can then listen on.
func TestFreePort(t *testing.T) {
	for range 20 {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if p <= 0 || p > 65535 {
			t.Fatalf("port %d", p)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("listen on the port freePort gave: %v", err)
		}
		l.Close()
	}
}
