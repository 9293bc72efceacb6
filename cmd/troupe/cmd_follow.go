package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/client"
)

const (
	// logDrain is how long the log stream may go on after its job finished.
	logDrain = 5 * time.Second
	// spinEvery and pollEvery pace the status line on a terminal.
	spinEvery = 100 * time.Millisecond
	pollEvery = time.Second
	// maxPartial is the most of an unfinished log line held back on a
	// terminal.
	maxPartial = 4 << 10
)

var spinFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// console writes a job's log to w. On a terminal it keeps a status line
// under the log: log text is written in whole lines, each time clearing the
// status line first and drawing it again after.
type console struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	width   int
	status  string
	shown   bool   // the status line is on screen
	partial []byte // the start of a log line not yet ended (terminal only)
}

func newConsole(w io.Writer) *console {
	width := 80
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 10 {
		width = n
	}
	return &console{w: w, tty: isTerminal(w), width: width}
}

// Write writes log text.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tty {
		return c.w.Write(p)
	}
	c.clear()
	c.partial = append(c.partial, p...)
	if i := bytes.LastIndexByte(c.partial, '\n'); i >= 0 || len(c.partial) > maxPartial {
		if i < 0 {
			i = len(c.partial) - 1
		}
		if _, err := c.w.Write(c.partial[:i+1]); err != nil {
			return 0, err
		}
		c.partial = append([]byte(nil), c.partial[i+1:]...)
	}
	c.draw()
	return len(p), nil
}

// setStatus replaces the status line (terminal only).
func (c *console) setStatus(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tty {
		return
	}
	if r := []rune(s); len(r) > c.width-1 {
		s = string(r[:c.width-2]) + "…"
	}
	c.clear()
	c.status = s
	c.draw()
}

// close removes the status line and ends an unfinished log line.
func (c *console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
	c.status = ""
	if len(c.partial) > 0 {
		c.partial = append(c.partial, '\n')
		_, _ = c.w.Write(c.partial)
		c.partial = nil
	}
}

func (c *console) clear() {
	if c.shown {
		_, _ = io.WriteString(c.w, "\r\x1b[K")
		c.shown = false
	}
}

func (c *console) draw() {
	if c.status != "" {
		_, _ = io.WriteString(c.w, c.status)
		c.shown = true
	}
}

// jobState is what the status line shows of a run or build.
type jobState struct {
	status  client.Status
	started time.Time
	message string
}

// follow copies the job's log stream to con while wait waits for the job to
// finish. On a terminal it also shows a spinner with the job's state, which
// poll refreshes. After wait returns, the log is given up to logDrain to
// end by itself.
func follow(ctx context.Context, con *console, logc *client.LogClient, first jobState, poll func(context.Context) (jobState, error), wait func(context.Context) error) error {
	logCtx, stopLog := context.WithCancel(ctx)
	defer stopLog()
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		rc, err := logc.Stream(logCtx)
		if err != nil {
			if logCtx.Err() == nil {
				fmt.Fprintf(con, "troupe: cannot follow the log: %s\n", cliErrorMessage(err))
			}
			return
		}
		defer rc.Close()
		_, _ = io.Copy(con, rc)
	}()

	statusCtx, stopStatus := context.WithCancel(ctx)
	defer stopStatus()
	var wg sync.WaitGroup
	if con.tty {
		var mu sync.Mutex
		state := first
		wg.Add(2)
		go func() { // poller
			defer wg.Done()
			t := time.NewTicker(pollEvery)
			defer t.Stop()
			for {
				select {
				case <-statusCtx.Done():
					return
				case <-t.C:
				}
				if s, err := poll(statusCtx); err == nil {
					mu.Lock()
					state = s
					mu.Unlock()
				}
			}
		}()
		go func() { // spinner
			defer wg.Done()
			t := time.NewTicker(spinEvery)
			defer t.Stop()
			for i := 0; ; i++ {
				mu.Lock()
				s := state
				mu.Unlock()
				line := fmt.Sprintf("%s %s", spinFrames[i%len(spinFrames)], s.status)
				if !s.started.IsZero() {
					line += " · " + time.Since(s.started).Round(time.Second).String()
				}
				if s.message != "" {
					line += " · " + oneLine(s.message, con.width)
				}
				con.setStatus(line)
				select {
				case <-statusCtx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}

	err := wait(ctx)
	if err == nil {
		t := time.NewTimer(logDrain)
		select {
		case <-logDone:
		case <-t.C:
		}
		t.Stop()
	}
	stopStatus()
	wg.Wait()
	stopLog()
	<-logDone
	con.close()
	return err
}

// followRun follows a run's log until the run finishes and returns the
// finished run.
func followRun(ctx context.Context, c *client.Client, run *client.Run, errOut io.Writer) (*client.Run, error) {
	rc := c.Run(run.ID)
	final := run
	err := follow(ctx, newConsole(errOut), rc.Log(), runState(run),
		func(ctx context.Context) (jobState, error) {
			r, err := rc.Get(ctx)
			if err != nil || r == nil {
				return jobState{}, fmt.Errorf("run %s: %w", run.ID, err)
			}
			return runState(r), nil
		},
		func(ctx context.Context) error {
			r, err := rc.WaitForFinish(ctx, 0)
			if err != nil {
				return err
			}
			final = r
			return nil
		})
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("stopped waiting; run %s goes on (abort it with: troupe runs abort %s)", run.ID, run.ID)
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(errOut, endLine("Run "+final.ID, final.Status, runDuration(final, troupe.Now()), deref(final.StatusMessage)))
	return final, nil
}

// endLine is the status line printed under a job's log when it ended.
func endLine(job string, st client.Status, d time.Duration, msg string) string {
	line := fmt.Sprintf("%s %s after %s", job, st, fmtDuration(d))
	if msg != "" && msg != "-" {
		line += ": " + oneLine(msg, 200)
	}
	return line
}

func runState(r *client.Run) jobState {
	s := jobState{status: r.Status, started: r.StartedAt}
	if r.StatusMessage != nil {
		s.message = *r.StatusMessage
	}
	return s
}

// followBuild follows a build's log until it finishes and returns the
// finished build.
func followBuild(ctx context.Context, c *client.Client, b *client.Build, errOut io.Writer) (*client.Build, error) {
	bc := c.Build(b.ID)
	final := b
	err := follow(ctx, newConsole(errOut), bc.Log(), jobState{status: b.Status, started: b.StartedAt, message: "build " + b.BuildNumber},
		func(ctx context.Context) (jobState, error) {
			got, err := bc.Get(ctx)
			if err != nil || got == nil {
				return jobState{}, fmt.Errorf("build %s: %w", b.ID, err)
			}
			return jobState{status: got.Status, started: got.StartedAt, message: "build " + got.BuildNumber}, nil
		},
		func(ctx context.Context) error {
			got, err := bc.WaitForFinish(ctx, 0)
			if err != nil {
				return err
			}
			final = got
			return nil
		})
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("stopped waiting; build %s goes on (abort it with: troupe builds abort %s)", b.ID, b.ID)
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(errOut, endLine("Build "+final.BuildNumber, final.Status, buildDuration(final, troupe.Now()), final.StatusMessage))
	return final, nil
}
