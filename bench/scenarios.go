package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/troupehq/troupe/client"
)

// warmups is how many unmeasured rounds precede a measured series.
const warmups = 2

// ---- 1. start latency ------------------------------------------------------

// startOnce starts bench-exit, waits for it to finish and returns the time
// from just before the POST to the actor's own start stamp.
func (b *bench) startOnce(ctx context.Context, c *client.Client) (time.Duration, string, error) {
	t0 := monoNow()
	run, err := c.Actor("~"+actorExit).Start(ctx, nil, &client.StartOptions{WaitForFinish: 60})
	if err != nil {
		return 0, "", fmt.Errorf("start %s: %w", actorExit, err)
	}
	if !run.Status.Terminal() {
		if run, err = c.Run(run.ID).WaitForFinish(ctx, 120); err != nil {
			return 0, "", err
		}
	}
	if run.Status != client.StatusSucceeded {
		return 0, "", fmt.Errorf("run %s of %s ended %s", run.ID, actorExit, run.Status)
	}
	started, err := runLogStamp(ctx, c, run.ID, "bench-start")
	if err != nil {
		return 0, "", err
	}
	return time.Duration(started - t0), run.ID, nil
}

// baselineStartOnce fork/execs benchactor and returns the time from just
// before the fork to its start stamp.
func (b *bench) baselineStartOnce() (time.Duration, error) {
	t0 := monoNow()
	p, err := b.startBaseline("exit")
	if err != nil {
		return 0, err
	}
	started, err := p.next("bench-start")
	if werr := p.wait(); err == nil {
		err = werr
	}
	return time.Duration(started - t0), err
}

// starts measures n troupe starts and, when withBaseline, n baseline starts
// interleaved with them (so that drift hits both alike).
func (b *bench) starts(ctx context.Context, phase string, n int, withBaseline bool) (troupeLat, baseLat latencies, err error) {
	c := b.srv.client(2)
	for i := -warmups; i < n; i++ {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		b.prog.set(phase, "%d/%d runs", max(i+1, 0), n)
		d, id, err := b.startOnce(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		b.finishedRun = id
		if withBaseline {
			bd, err := b.baselineStartOnce()
			if err != nil {
				return nil, nil, fmt.Errorf("baseline: %w", err)
			}
			if i >= 0 {
				baseLat = append(baseLat, bd)
			}
		}
		if i >= 0 {
			troupeLat = append(troupeLat, d)
		}
	}
	return troupeLat, baseLat, nil
}

func (b *bench) startLatency(ctx context.Context) ([]Row, error) {
	tl, bl, err := b.starts(ctx, "start latency", b.sizes.start, true)
	if err != nil {
		return nil, err
	}
	r := latencyRow("start latency", tl)
	r.vs("fork/exec p50", *r.P50Ms, ms(bl.pct(50)), "p50")
	r.target("p50 ≤ 10 ms", *r.P50Ms, 10, true)
	// The tail of the same starts, against their own median.
	tail := latencyRow("start latency: p99 ÷ p50", tl)
	tail.vs("its own p50", *tail.P99Ms, *tail.P50Ms, "p99")
	tail.target("p99 ≤ 4× p50", *tail.Ratio, 4, true)
	if p50 := bl.pct(50); p50 > 0 {
		tail.Note = fmt.Sprintf("the fork/exec baseline's own p99 ÷ p50 in this run: %.2f (%s ÷ %s)",
			float64(bl.pct(99))/float64(p50), fmtDur(ms(bl.pct(99))), fmtDur(ms(p50)))
	}
	return []Row{r, tail}, nil
}

// ---- 2. finish-to-wake -----------------------------------------------------

func (b *bench) finishToWake(ctx context.Context) ([]Row, error) {
	n := b.sizes.finish
	c := b.srv.client(2)
	var tl, bl latencies
	for i := -warmups; i < n; i++ {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		b.prog.set("finish-to-wake", "%d/%d runs", max(i+1, 0), n)
		run, err := c.Actor("~"+actorLinger).Start(ctx, nil, nil)
		if err != nil {
			return nil, err
		}
		// The actor lingers lingerMS after it starts, so this request is
		// blocked on the server when the process exits.
		run, err = c.Run(run.ID).WaitForFinish(ctx, 120)
		woke := monoNow()
		if err != nil {
			return nil, err
		}
		if run.Status != client.StatusSucceeded {
			return nil, fmt.Errorf("run %s of %s ended %s", run.ID, actorLinger, run.Status)
		}
		exited, err := runLogStamp(ctx, c, run.ID, "bench-exit")
		if err != nil {
			return nil, err
		}

		p, err := b.startBaseline("linger", fmt.Sprint(lingerMS))
		if err != nil {
			return nil, err
		}
		bexit, err := p.next("bench-exit")
		if err != nil {
			return nil, err
		}
		if err := p.wait(); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		bwoke := monoNow()
		if i >= 0 {
			tl = append(tl, time.Duration(woke-exited))
			bl = append(bl, time.Duration(bwoke-bexit))
		}
	}
	r := latencyRow("finish-to-wake (waitForFinish)", tl)
	r.vs("exit→wait() p50", *r.P50Ms, ms(bl.pct(50)), "p50")
	r.target("p50 ≤ 5 ms", *r.P50Ms, 5, true)
	return []Row{r}, nil
}

// ---- 3. end-to-end throughput ----------------------------------------------

// e2eClients is the concurrency of the throughput scenario.
const e2eClients = 8

// parallel runs fn for i in [0, n) on workers goroutines and returns the
// first error (which stops the others from taking more work).
func parallel(ctx context.Context, workers, n int, fn func(ctx context.Context, worker, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, w, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

func (b *bench) throughput(ctx context.Context) ([]Row, error) {
	n, nb := b.sizes.e2eRuns, b.sizes.e2eBaseline
	clients := make([]*client.Client, e2eClients)
	for i := range clients {
		clients[i] = b.srv.client(2)
	}
	call := func(ctx context.Context, c *client.Client) (time.Duration, error) {
		t0 := time.Now()
		run, err := c.Actor("~"+actorExit).Call(ctx, nil, nil, 120)
		if err != nil {
			return 0, err
		}
		if run.Status != client.StatusSucceeded {
			return 0, fmt.Errorf("run %s ended %s", run.ID, run.Status)
		}
		return time.Since(t0), nil
	}
	// Warm up every client's connection.
	if err := parallel(ctx, e2eClients, e2eClients, func(ctx context.Context, w, _ int) error {
		_, err := call(ctx, clients[w])
		return err
	}); err != nil {
		return nil, err
	}

	var mu sync.Mutex
	var tl latencies
	var done atomic.Int64
	srvCPU0, _ := procCPU(b.srv.pid())
	myCPU0, _ := procCPU(os.Getpid())
	begin := time.Now()
	err := parallel(ctx, e2eClients, n, func(ctx context.Context, w, _ int) error {
		d, err := call(ctx, clients[w])
		if err != nil {
			return err
		}
		mu.Lock()
		tl = append(tl, d)
		mu.Unlock()
		b.prog.set("end-to-end throughput", "%d/%d runs (8 clients)", done.Add(1), n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	troupeRate := float64(n) / time.Since(begin).Seconds()
	srvCPU1, _ := procCPU(b.srv.pid())
	myCPU1, _ := procCPU(os.Getpid())
	srvCPU, myCPU := srvCPU1.sub(srvCPU0), myCPU1.sub(myCPU0)

	var bl latencies
	done.Store(0)
	begin = time.Now()
	err = parallel(ctx, e2eClients, nb, func(ctx context.Context, _, _ int) error {
		t0 := time.Now()
		p, err := b.startBaseline("exit")
		if err != nil {
			return err
		}
		if err := p.wait(); err != nil {
			return err
		}
		d := time.Since(t0)
		mu.Lock()
		bl = append(bl, d)
		mu.Unlock()
		b.prog.set("end-to-end throughput", "baseline %d/%d fork/exec/wait (8 goroutines)", done.Add(1), nb)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	baseRate := float64(nb) / time.Since(begin).Seconds()
	myCPU2, _ := procCPU(os.Getpid())
	baseCPU := myCPU2.sub(myCPU1)

	r := latencyRow("end-to-end start+waitForFinish, 8 clients", tl)
	r.Throughput, r.ThroughputUnit = ptr(troupeRate), "runs/s"
	b.forkExecRate = baseRate
	r.vs("8× fork/exec/wait", troupeRate, baseRate, "runs per second")
	r.target("ratio ≥ 0.5", *r.Ratio, 0.5, false)
	perRun := func(d time.Duration, k int) string { return fmtDur(ms(d) / float64(k)) }
	r.Note = fmt.Sprintf("CPU per run: server %s, run process %s, clients %s; baseline: process %s, parent %s",
		perRun(srvCPU.self, n), perRun(srvCPU.children, n), perRun(myCPU.self, n),
		perRun(baseCPU.children, nb), perRun(baseCPU.self, nb))
	return []Row{r}, nil
}

// ---- 4. abort latency ------------------------------------------------------

func (b *bench) abortLatency(ctx context.Context) ([]Row, error) {
	c := b.srv.client(2)
	logs := b.srv.client(2) // log streams get their own connections

	var tl, bl latencies
	n := b.sizes.abortNow
	for i := -warmups; i < n; i++ {
		b.prog.set("abort latency", "immediate %d/%d", max(i+1, 0), n)
		run, err := c.Actor("~"+actorSleep).Start(ctx, nil, nil)
		if err != nil {
			return nil, err
		}
		if err := waitLogEvent(ctx, logs, run.ID, "bench-start"); err != nil {
			return nil, err
		}
		t0 := monoNow()
		run, err = c.Run(run.ID).Abort(ctx, false)
		t1 := monoNow()
		if err != nil {
			return nil, err
		}
		if run.Status != client.StatusAborted {
			return nil, fmt.Errorf("immediate abort of %s answered %s, not ABORTED", run.ID, run.Status)
		}

		p, err := b.startBaseline("sleep")
		if err != nil {
			return nil, err
		}
		if _, err := p.next("bench-start"); err != nil {
			return nil, err
		}
		b0 := monoNow()
		_ = p.cmd.Process.Kill()
		_ = p.wait()
		b1 := monoNow()
		if i >= 0 {
			tl = append(tl, time.Duration(t1-t0))
			bl = append(bl, time.Duration(b1-b0))
		}
	}
	now := latencyRow("abort immediate → ABORTED", tl)
	now.vs("kill+wait p50", *now.P50Ms, ms(bl.pct(50)), "p50")
	now.target("p50 ≤ 20 ms", *now.P50Ms, 20, true)

	tl, bl = nil, nil
	n = b.sizes.abortGraceful
	for i := -warmups; i < n; i++ {
		b.prog.set("abort latency", "graceful %d/%d", max(i+1, 0), n)
		run, err := c.Actor("~"+actorGraceful).Start(ctx, nil, nil)
		if err != nil {
			return nil, err
		}
		if err := waitLogEvent(ctx, logs, run.ID, "bench-ready"); err != nil {
			return nil, err
		}
		t0 := monoNow()
		if _, err := c.Run(run.ID).Abort(ctx, true); err != nil {
			return nil, err
		}
		run, err = c.Run(run.ID).WaitForFinish(ctx, 120)
		t1 := monoNow()
		if err != nil {
			return nil, err
		}
		if run.Status != client.StatusAborted {
			return nil, fmt.Errorf("graceful abort of %s ended %s, not ABORTED", run.ID, run.Status)
		}

		p, err := b.startBaseline("sleep")
		if err != nil {
			return nil, err
		}
		if _, err := p.next("bench-start"); err != nil {
			return nil, err
		}
		b0 := monoNow()
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.wait(); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		b1 := monoNow()
		if i >= 0 {
			tl = append(tl, time.Duration(t1-t0))
			bl = append(bl, time.Duration(b1-b0))
		}
	}
	gr := latencyRow("abort graceful → ABORTED (actor exits on aborting)", tl)
	gr.vs("SIGTERM+wait p50", *gr.P50Ms, ms(bl.pct(50)), "p50")
	return []Row{now, gr}, nil
}

// ---- 5. API read throughput ------------------------------------------------

// loadResult is what a load run measured.
type loadResult struct {
	n       int
	lat     latencies
	elapsed time.Duration
}

func (l loadResult) rate() float64 { return float64(l.n) / l.elapsed.Seconds() }

// load sends GETs from conns keep-alive connections (one per goroutine)
// for the duration d, or until total requests were sent when total > 0.
// urlOf gives the URL of request i.
func load(ctx context.Context, conns int, d time.Duration, total int, urlOf func(i int) string) (loadResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadline := time.Now().Add(d)
	var next atomic.Int64
	var mu sync.Mutex
	var res loadResult
	var first error
	var wg sync.WaitGroup
	begin := time.Now()
	for range conns {
		wg.Go(func() {
			tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr}
			var lat latencies
			defer func() {
				mu.Lock()
				res.lat = append(res.lat, lat...)
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if total > 0 && i >= total || total <= 0 && time.Now().After(deadline) {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, urlOf(i), nil)
				req.Header.Set("Authorization", "Bearer "+benchToken)
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("GET %s: HTTP %d", req.URL.Path, resp.StatusCode)
					}
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
				lat = append(lat, time.Since(t0))
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(begin)
	res.n = len(res.lat)
	if first != nil {
		return res, first
	}
	return res, ctx.Err()
}

// getBody GETs url with the benchmark's token and returns the body.
func getBody(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: HTTP %d: %.200s", url, resp.StatusCode, body)
	}
	return body, err
}

// startBareServer starts the bare net/http baseline serving body and
// returns its URL and a function that stops it.
func (b *bench) startBareServer(body []byte) (string, func(), error) {
	file := filepath.Join(b.tmp, "bare-body.json")
	if err := os.WriteFile(file, body, 0o644); err != nil {
		return "", nil, err
	}
	p, err := b.startProc(b.netBin, "serve", file)
	if err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = p.cmd.Process.Kill()
		_ = p.wait()
	}
	line, err := p.out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		stop()
		return "", nil, fmt.Errorf("bare server did not start: %q %v", line, err)
	}
	return "http://" + addr, stop, nil
}

func (b *bench) apiRead(ctx context.Context) ([]Row, error) {
	runURL := b.srv.URL + "/v2/actor-runs/" + b.finishedRun
	body, err := getBody(ctx, runURL)
	if err != nil {
		return nil, err
	}
	bareURL, stop, err := b.startBareServer(body)
	if err != nil {
		return nil, err
	}
	defer stop()
	bareRunURL := bareURL + "/v2/actor-runs/" + b.finishedRun
	conns, d := b.opts.conns, b.sizes.readFor

	warm := min(d/4, 500*time.Millisecond)
	b.prog.set("API read throughput", "warming up")
	for _, u := range []string{runURL, bareRunURL} {
		if _, err := load(ctx, conns, warm, 0, func(int) string { return u }); err != nil {
			return nil, err
		}
	}
	b.prog.set("API read throughput", "troupe: GET run from %d connections for %s", conns, d)
	tr, err := load(ctx, conns, d, 0, func(int) string { return runURL })
	if err != nil {
		return nil, err
	}
	b.prog.set("API read throughput", "bare net/http: same bytes from %d connections for %s", conns, d)
	br, err := load(ctx, conns, d, 0, func(int) string { return bareRunURL })
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	r := latencyRow(fmt.Sprintf("API GET run, %d keep-alive conns", conns), tr.lat)
	r.Throughput, r.ThroughputUnit = ptr(tr.rate()), "req/s"
	r.vs("bare net/http, same bytes", tr.rate(), br.rate(), "requests per second")
	r.target("ratio ≥ 0.50", *r.Ratio, 0.50, false)
	r.Note = fmt.Sprintf("response body %d bytes; bare net/http p50 %s, p99 %s", len(body),
		fmtDur(ms(br.lat.pct(50))), fmtDur(ms(br.lat.pct(99))))
	return []Row{r}, nil
}

// ---- 6. many live runs -----------------------------------------------------

func (b *bench) manyLive(ctx context.Context) ([]Row, error) {
	n := b.sizes.live
	conns := b.opts.conns
	pid := b.srv.pid()
	idleRSS, err := procStatusKB(pid, "VmRSS")
	if err != nil {
		return nil, err
	}
	runURL := func(id string) string { return b.srv.URL + "/v2/actor-runs/" + id }

	b.prog.set("many live runs", "GET run with no live runs")
	idle, err := load(ctx, conns, 0, b.sizes.liveGets, func(int) string { return runURL(b.finishedRun) })
	if err != nil {
		return nil, err
	}

	starters := make([]*client.Client, 16)
	for i := range starters {
		starters[i] = b.srv.client(1)
	}
	ids := make([]string, n)
	var started atomic.Int64
	begin := time.Now()
	err = parallel(ctx, len(starters), n, func(ctx context.Context, w, i int) error {
		run, err := starters[w].Actor("~"+actorSleep).Start(ctx, nil, nil)
		if err != nil {
			return err
		}
		ids[i] = run.ID
		b.prog.set("many live runs", "started %d/%d sleeping runs", started.Add(1), n)
		return nil
	})
	// Whatever happens next, abort what was started.
	defer b.abortAll(context.WithoutCancel(ctx), starters, ids)
	if err != nil {
		return nil, err
	}
	if err := b.waitRunning(ctx, starters, ids); err != nil {
		return nil, err
	}
	allRunning := time.Since(begin)
	rss1, err := procStatusKB(pid, "VmRSS")
	if err != nil {
		return nil, err
	}

	b.prog.set("many live runs", "GET run while %d runs live", n)
	live, err := load(ctx, conns, 0, b.sizes.liveGets, func(i int) string { return runURL(ids[(i*7919)%n]) })
	if err != nil {
		return nil, err
	}
	rss2, err := procStatusKB(pid, "VmRSS")
	if err != nil {
		return nil, err
	}
	hwm, _ := procStatusKB(pid, "VmHWM")
	rssMB := float64(max(rss1, rss2)) / 1024

	label := fmt.Sprintf("%s live runs", thousands(n))
	mem := Row{Scenario: label + ": server RSS", Count: n, ValueMB: ptr(rssMB)}
	mem.vs("idle server RSS", rssMB, float64(idleRSS)/1024, "MB")
	mem.target("≤ 200 MB", rssMB, 200, true)
	mem.Note = fmt.Sprintf("all %d RUNNING (process started) %.1fs after the first POST; server peak RSS (VmHWM) %.1f MB",
		n, allRunning.Seconds(), float64(hwm)/1024)

	get := latencyRow(fmt.Sprintf("%s: GET run, %d conns", label, conns), live.lat)
	get.Throughput, get.ThroughputUnit = ptr(live.rate()), "req/s"
	get.vs("same GETs, no live runs p99", *get.P99Ms, ms(idle.lat.pct(99)), "p99")
	get.target("p99 ≤ 20 ms", *get.P99Ms, 20, true)
	return []Row{mem, get}, nil
}

// waitRunning waits until every run is RUNNING with its process started
// (containerUrl is set once the process runs).
func (b *bench) waitRunning(ctx context.Context, cs []*client.Client, ids []string) error {
	pending := append([]string(nil), ids...)
	deadline := time.Now().Add(10 * time.Minute)
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d runs still not running after 10 minutes", len(pending))
		}
		ready := make([]bool, len(pending))
		err := parallel(ctx, len(cs), len(pending), func(ctx context.Context, w, i int) error {
			run, err := cs[w].Run(pending[i]).Get(ctx)
			if err != nil {
				return err
			}
			if run == nil || run.Status.Terminal() {
				return fmt.Errorf("sleeping run %s ended early", pending[i])
			}
			ready[i] = run.Status == client.StatusRunning && run.ContainerURL != ""
			return nil
		})
		if err != nil {
			return err
		}
		var still []string
		for i, ok := range ready {
			if !ok {
				still = append(still, pending[i])
			}
		}
		pending = still
		b.prog.set("many live runs", "%d/%d runs running", len(ids)-len(pending), len(ids))
		if len(pending) > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// abortAll aborts the runs at once and waits until none is live.
func (b *bench) abortAll(ctx context.Context, cs []*client.Client, ids []string) {
	var aborted atomic.Int64
	_ = parallel(ctx, len(cs), len(ids), func(ctx context.Context, w, i int) error {
		if ids[i] == "" {
			return nil
		}
		if _, err := cs[w].Run(ids[i]).Abort(ctx, false); err != nil {
			fmt.Fprintf(os.Stderr, "\nbench: abort %s: %v\n", ids[i], err)
		}
		b.prog.set("many live runs", "aborted %d/%d", aborted.Add(1), len(ids))
		return nil
	})
	// Wait until the store has no live run left.
	c := cs[0]
	for range 600 {
		list, err := c.Runs().List(ctx, &client.RunListOptions{Limit: 1,
			Status: []string{"READY", "RUNNING", "ABORTING", "TIMING-OUT"}})
		if err != nil || list.Total == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// thousands formats n with a comma every three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, out...), ",")
}

// decodeTotal reads data.total and the number of data.items of a list body.
func decodeTotal(body []byte) (total, items int, err error) {
	var env struct {
		Data struct {
			Total int               `json:"total"`
			Items []json.RawMessage `json:"items"`
		} `json:"data"`
	}
	err = json.Unmarshal(body, &env)
	return env.Data.Total, len(env.Data.Items), err
}
