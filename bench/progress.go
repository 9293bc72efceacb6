package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress is the one progress line on stderr. On a terminal it is
// rewritten in place; otherwise a line is printed when the phase changes
// and at most every two seconds within a phase.
type progress struct {
	w   io.Writer
	tty bool

	mu        sync.Mutex
	phase     string
	lastPrint time.Time
	width     int
}

func newProgress(w io.Writer) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty}
}

// set shows what the benchmark is doing now.
func (p *progress) set(phase, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := fmt.Sprintf("bench: %s: %s", phase, fmt.Sprintf(format, args...))
	now := time.Now()
	if p.tty {
		pad := ""
		if n := p.width - len(msg); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprintf(p.w, "\r%s%s", msg, pad)
		p.width = len(msg)
		return
	}
	if phase != p.phase || now.Sub(p.lastPrint) >= 2*time.Second {
		fmt.Fprintln(p.w, msg)
		p.lastPrint = now
	}
	p.phase = phase
}

// clear removes the progress line (on a terminal).
func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
}
