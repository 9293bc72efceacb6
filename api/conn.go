package api

import (
	"bufio"
	"net"
	"net/http"
	"time"
)

// Default connection limits (see Config).
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 300 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultWriteStallTimeout = 60 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// HTTPServer returns an http.Server that serves s with the connection
// limits of its Config. The caller sets the address or listener, and may
// set BaseContext and ConnState.
//
// No global WriteTimeout is set: it would cut log streams, waitForFinish
// and the events websocket. ReadTimeout bounds the headers and the body
// only: net/http clears the read deadline once a body is read to its end,
// so waiting handlers are not cut either.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
	}
}

// stallWriter gives every write of a response WriteStallTimeout to reach
// the client, so that a client that stops reading is cut off while a
// stream that writes now and then is not. The deadline is renewed at most
// once per half timeout. A hijacked connection (the events websocket) is
// left alone.
type stallWriter struct {
	http.ResponseWriter
	rc       *http.ResponseController
	timeout  time.Duration
	renewAt  time.Time
	hijacked bool
}

func newStallWriter(w http.ResponseWriter, timeout time.Duration) *stallWriter {
	sw := &stallWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: timeout}
	sw.renew()
	return sw
}

// renew moves the write deadline timeout ahead when half of it has passed.
func (w *stallWriter) renew() {
	if w.hijacked {
		return
	}
	if now := time.Now(); !now.Before(w.renewAt) {
		_ = w.rc.SetWriteDeadline(now.Add(w.timeout))
		w.renewAt = now.Add(w.timeout / 2)
	}
}

// finish gives what the server writes after the handler returns a whole
// timeout.
func (w *stallWriter) finish() {
	if !w.hijacked {
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	}
}

func (w *stallWriter) WriteHeader(code int) {
	w.renew()
	w.ResponseWriter.WriteHeader(code)
}

func (w *stallWriter) Write(p []byte) (int, error) {
	w.renew()
	return w.ResponseWriter.Write(p)
}

// FlushError flushes the response (http.ResponseController.Flush).
func (w *stallWriter) FlushError() error {
	w.renew()
	return w.rc.Flush()
}

// Hijack takes over the connection (net/http clears its deadlines); the
// writer leaves it alone from then on.
func (w *stallWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := w.rc.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, brw, err
}

func (w *stallWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
