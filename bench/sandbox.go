package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupehq/troupe/client"
	"github.com/troupehq/troupe/executor/process"
	"github.com/troupehq/troupe/internal/bwrap"
)

// ---- 9. sandbox ------------------------------------------------------------

// The price of isolation: troupe's runs are sandboxed with bubblewrap, so
// these scenarios compare them with bwrap's own launch of the same program
// (bench-exit's build) with the same flags the process executor uses: the
// system folders, the build read-only, a private working folder of links to
// it, the data folder hidden, /tmp, /dev/shm and the working folder capped
// at the actor's 256 MB, an unprivileged user and RLIMIT_NPROC when root.

// sandboxBaseline is bwrap's launch of bench-exit, without troupe.
type sandboxBaseline struct {
	sb   *bwrap.Sandbox
	argv []string
}

func (b *bench) newSandboxBaseline() (*sandboxBaseline, error) {
	bin, err := bwrap.Find()
	if err != nil {
		return nil, err
	}
	id := b.buildIDs[actorExit]
	data, err := filepath.Abs(b.srv.dataDir)
	if err != nil {
		return nil, err
	}
	build := filepath.Join(data, "builds", id)
	if _, err := os.Stat(filepath.Join(build, actorProgram)); err != nil {
		return nil, fmt.Errorf("build %s of %s: %w", id, actorExit, err)
	}
	// The run folder a troupe run gets: made by bwrap in the sandbox,
	// holding a link to each of the build's entries.
	work := filepath.Join(data, "runs", "sandbox-baseline")
	// Below the executor's ids and the builds' (builder.DefaultBuildUID),
	// so that none shares its RLIMIT_NPROC with the baseline.
	uid := process.DefaultUIDBase - 2
	return &sandboxBaseline{
		sb: &bwrap.Sandbox{
			Bwrap: bin, ReadOnly: []string{build}, Work: work, WorkLinks: build, Hide: []string{data},
			Dir: work, Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "HOME=" + work, "PWD=" + work},
			TmpBytes: 256 << 20, UID: uid, GID: uid, MaxProcs: process.DefaultMaxProcs,
		},
		argv: []string{"./" + actorProgram, "exit"},
	}, nil
}

// start launches the program in its sandbox, its stdout on a pipe.
func (s *sandboxBaseline) start(b *bench) (*baselineProc, error) {
	cmd, err := s.sb.Command(s.argv)
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _, _ = cmd.Info() }() // drain bwrap's report
	b.children.add(cmd.Cmd)
	return &baselineProc{cmd: cmd.Cmd, out: bufio.NewReader(stdout), b: b}, nil
}

// sandboxNote says whether the server's runs are sandboxed at all.
func (b *bench) sandboxNote() string {
	if strings.Contains(b.opts.serveArgs, "--sandbox none") || strings.Contains(b.opts.serveArgs, "--sandbox=none") {
		return "the server runs with --sandbox none: its runs are NOT sandboxed"
	}
	return "runs sandboxed with bubblewrap (troupe serve's default)"
}

func (b *bench) sandboxStart(ctx context.Context) ([]Row, error) {
	base, err := b.newSandboxBaseline()
	if err != nil {
		return nil, err
	}
	c := b.srv.client(2)
	n := b.sizes.sandboxStarts
	var tl, bl latencies
	for i := -warmups; i < n; i++ {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		b.prog.set("sandbox start latency", "%d/%d runs", max(i+1, 0), n)
		d, id, err := b.startOnce(ctx, c)
		if err != nil {
			return nil, err
		}
		b.finishedRun = id
		t0 := monoNow()
		p, err := base.start(b)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		started, err := p.next("bench-start")
		if werr := p.wait(); err == nil {
			err = werr
		}
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		if i >= 0 {
			tl = append(tl, d)
			bl = append(bl, time.Duration(started-t0))
		}
	}
	r := latencyRow("sandbox: start latency", tl)
	r.vs("bwrap launch p50", *r.P50Ms, ms(bl.pct(50)), "p50")
	r.target("p50 ≤ 2× bwrap's", *r.Ratio, 2, true)
	r.Note = b.sandboxNote()
	return []Row{r}, nil
}

func (b *bench) sandboxThroughput(ctx context.Context) ([]Row, error) {
	base, err := b.newSandboxBaseline()
	if err != nil {
		return nil, err
	}
	n := b.sizes.sandboxRuns
	clients := make([]*client.Client, e2eClients)
	for i := range clients {
		clients[i] = b.srv.client(2)
	}
	var done atomic.Int64
	call := func(ctx context.Context, w, _ int) error {
		run, err := clients[w].Actor("~"+actorExit).Call(ctx, nil, nil, 120)
		if err != nil {
			return err
		}
		if run.Status != "SUCCEEDED" {
			return fmt.Errorf("run %s ended %s", run.ID, run.Status)
		}
		b.prog.set("sandbox throughput", "%d/%d runs (8 clients)", done.Add(1), n)
		return nil
	}
	// Warm up every client's connection.
	if err := parallel(ctx, e2eClients, e2eClients, call); err != nil {
		return nil, err
	}
	done.Store(0)
	var mu sync.Mutex
	var tl latencies
	begin := time.Now()
	err = parallel(ctx, e2eClients, n, func(ctx context.Context, w, i int) error {
		t0 := time.Now()
		if err := call(ctx, w, i); err != nil {
			return err
		}
		mu.Lock()
		tl = append(tl, time.Since(t0))
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	troupeRate := float64(n) / time.Since(begin).Seconds()

	done.Store(0)
	begin = time.Now()
	err = parallel(ctx, e2eClients, n, func(ctx context.Context, _, _ int) error {
		p, err := base.start(b)
		if err != nil {
			return err
		}
		if err := p.wait(); err != nil {
			return err
		}
		b.prog.set("sandbox throughput", "baseline %d/%d bwrap launches (8 goroutines)", done.Add(1), n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	baseRate := float64(n) / time.Since(begin).Seconds()

	r := latencyRow("sandbox: end-to-end start+waitForFinish, 8 clients", tl)
	r.Throughput, r.ThroughputUnit = ptr(troupeRate), "runs/s"
	r.vs("8× bwrap launch/wait", troupeRate, baseRate, "runs per second")
	r.target("ratio ≥ 0.5", *r.Ratio, 0.5, false)
	r.Note = b.sandboxNote()
	if b.forkExecRate > 0 {
		// The sandbox's own share: what bwrap alone leaves of the
		// end-to-end scenario's bare fork/exec/wait.
		r.Note += fmt.Sprintf("; bwrap's launch/wait alone is %.2f of 8× fork/exec/wait (%.0f runs/s): "+
			"the most a sandboxed run can reach", baseRate/b.forkExecRate, b.forkExecRate)
	}
	return []Row{r}, nil
}
