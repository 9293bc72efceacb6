// Command bench measures troupe's run lifecycle against baselines taken in
// the same run, and prints one table (or JSON with --json).
//
//	go run ./bench [--quick] [--json] [--store URL] [--troupe-bin PATH]
//
// It builds troupe (unless --troupe-bin is given) and two tiny programs
// (bench/benchactor, the trivial actor, and bench/benchnet, the graceful
// actor and the bare net/http baseline), starts its own `troupe serve` on a
// free loopback port with a throwaway data folder, creates the actors it
// needs through the Go client and runs every scenario of the performance
// issue:
//
//  1. start latency: POST …/runs until the actor's first line, against
//     fork/exec of the same program from the benchmark process;
//  2. finish-to-wake: the actor's exit until a client blocked in
//     waitForFinish returns, against fork/exec/wait;
//  3. end-to-end throughput: 8 clients doing start + waitForFinish, against
//     8 goroutines doing fork/exec/wait;
//  4. abort latency, immediate and graceful, against kill/SIGTERM + wait;
//  5. API read throughput: GET /v2/actor-runs/{id} over keep-alive
//     connections, against a bare net/http server returning the same bytes;
//  6. many live runs: server RSS and GET p99 with 1,000 sleeping runs;
//  7. growth: start latency and a 1,000-run list page with 10,000 and with
//     1,000,000 runs stored (seeded into SQLite while the server is down);
//     then the web console's first runs page with those runs stored, against
//     the API's list of the same runs (see console.go);
//  8. storages: a hook for the storages issue (see storage.go);
//  9. sandbox: start latency and end-to-end throughput of (sandboxed) runs
//     against bwrap's own launch of the same program with the same flags
//     (see sandbox.go);
//  10. SDK actor: `troupe call` of a real Apify SDK actor against `node
//     main.js` run directly (see sdk.go; needs node and npm, and skips
//     with a line saying so without them).
//
// Every ratio is troupe's figure divided by its baseline's; which baseline
// each row uses is printed in the table. A progress line goes to stderr.
// With --quick every scenario runs with tiny counts (about a minute in all),
// which only proves that the benchmark works; its figures mean nothing.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/troupehq/troupe/pgtest"
)

// options are the command-line flags.
type options struct {
	quick     bool
	json      bool
	store     string
	troupeBin string
	actorBin  string
	netBin    string
	conns     int
	keep      bool
	serveArgs string
	only      string
}

func main() {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "run every scenario with tiny counts (proves the benchmark works; figures are meaningless)")
	flag.BoolVar(&o.json, "json", false, "print the results as JSON on stdout (the table then goes to stderr)")
	flag.StringVar(&o.store, "store", "", "store the server uses, passed to troupe serve --store (postgres://… or sqlite:PATH), or pgtest for a throwaway local PostgreSQL with its default, durable settings, started like the tests' (pgtest.StartDurable) from the PostgreSQL binaries installed; default: the embedded SQLite store in the data folder")
	flag.StringVar(&o.troupeBin, "troupe-bin", "", "troupe binary to benchmark (default: go build ./cmd/troupe into a temporary folder)")
	flag.StringVar(&o.actorBin, "actor-bin", "", "benchactor binary (default: go build ./bench/benchactor into a temporary folder)")
	flag.StringVar(&o.netBin, "net-bin", "", "benchnet binary (default: go build ./bench/benchnet into a temporary folder)")
	flag.IntVar(&o.conns, "conns", 8, "connections of the API read scenarios")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary folder (server data and log) and print its path")
	flag.StringVar(&o.serveArgs, "serve-args", "", "extra arguments for troupe serve, space-separated (e.g. --pprof 127.0.0.1:6060)")
	flag.StringVar(&o.only, "only", "", "run only the scenarios whose names start with one of these comma-separated prefixes (for profiling)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "bench: unexpected arguments:", flag.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Report is the --json output.
type Report struct {
	Quick     bool      `json:"quick"`
	Store     string    `json:"store"`
	CPUs      int       `json:"cpus"`
	GOOS      string    `json:"goos"`
	GOARCH    string    `json:"goarch"`
	StartedAt time.Time `json:"startedAt"`
	Seconds   float64   `json:"seconds"`
	Rows      []Row     `json:"rows"`
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	began := time.Now()
	tmp, err := os.MkdirTemp("", "troupe-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(stderr, "bench: keeping", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	if o.store == "pgtest" {
		pg, err := pgtest.StartDurable(ctx)
		if err != nil {
			return fmt.Errorf("--store pgtest: %w", err)
		}
		defer pg.Stop()
		db, err := pg.CreateDatabase(ctx)
		if err != nil {
			return fmt.Errorf("--store pgtest: %w", err)
		}
		o.store = pg.URL(db)
	}
	b := &bench{opts: o, tmp: tmp, prog: newProgress(stderr), sizes: fullSizes}
	if o.quick {
		b.sizes = quickSizes
	}
	defer b.children.killAll()
	if err := b.prepare(ctx); err != nil {
		return err
	}
	defer b.srv.stop()

	for _, sc := range scenarios {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !selected(o.only, sc.name) {
			continue
		}
		rows, err := sc.run(b, ctx)
		if err != nil {
			b.prog.clear()
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		b.rows = append(b.rows, rows...)
	}
	b.prog.clear()

	rep := Report{Quick: o.quick, Store: storeName(o.store), CPUs: runtime.NumCPU(), GOOS: runtime.GOOS,
		GOARCH: runtime.GOARCH, StartedAt: began.UTC(), Seconds: time.Since(began).Seconds(), Rows: b.rows}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
		return writeTable(stderr, rep)
	}
	return writeTable(stdout, rep)
}

// selected reports whether the scenario is in the --only list.
func selected(only, name string) bool {
	if only == "" {
		return true
	}
	for _, p := range strings.Split(only, ",") {
		if p = strings.TrimSpace(p); p != "" && strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func storeName(s string) string {
	if s == "" {
		return "sqlite (embedded)"
	}
	return s
}

// scenario is one numbered scenario of the issue; it may add several rows.
type scenario struct {
	name string
	run  func(b *bench, ctx context.Context) ([]Row, error)
}

// scenarios run in this order. The growth scenario restarts the server, so
// it comes last but one; the storage hook may use the restarted server.
var scenarios = []scenario{
	{"start latency", (*bench).startLatency},
	{"finish-to-wake", (*bench).finishToWake},
	{"end-to-end throughput", (*bench).throughput},
	{"abort latency", (*bench).abortLatency},
	{"API read throughput", (*bench).apiRead},
	{"many live runs", (*bench).manyLive},
	{"sandbox start latency", (*bench).sandboxStart},
	{"sandbox throughput", (*bench).sandboxThroughput},
	{"SDK actor", (*bench).sdkActor},
	{"growth", (*bench).growth},
	{"console", (*bench).console},
	{"storages", (*bench).storages},
}

// sizes are the counts of the scenarios.
type sizes struct {
	start, finish                 int // runs measured one at a time
	e2eRuns, e2eBaseline          int // runs (and fork/exec/waits) spread over 8 clients
	abortNow, abortGraceful       int
	readFor                       time.Duration // per side of the API read scenario
	live                          int           // sleeping runs
	liveGets                      int           // GETs while they live
	growthSmall, growthLarge      int           // runs stored
	growthStarts, growthListPages int
	sandboxStarts, sandboxRuns    int // runs measured one at a time, and over 8 clients
	sdkRuns                       int // paired runs of the SDK actor, troupe call and node
}

var fullSizes = sizes{
	start: 200, finish: 200,
	e2eRuns: 800, e2eBaseline: 2000,
	abortNow: 100, abortGraceful: 50,
	readFor:  5 * time.Second,
	live:     1000,
	liveGets: 5000,
	// 10k and 1M runs stored, as the issue asks.
	growthSmall: 10_000, growthLarge: 1_000_000,
	growthStarts: 100, growthListPages: 40,
	sandboxStarts: 100, sandboxRuns: 400,
	sdkRuns: 15,
}

var quickSizes = sizes{
	start: 8, finish: 8,
	e2eRuns: 32, e2eBaseline: 64,
	abortNow: 4, abortGraceful: 3,
	readFor:     400 * time.Millisecond,
	live:        20,
	liveGets:    200,
	growthSmall: 1000, growthLarge: 4000,
	growthStarts: 5, growthListPages: 3,
	sandboxStarts: 5, sandboxRuns: 16,
	sdkRuns: 2,
}

// errSkip marks a scenario that cannot run in this configuration.
var errSkip = errors.New("skipped")

// bench is the state the scenarios share.
type bench struct {
	opts     options
	sizes    sizes
	tmp      string
	actorBin string
	netBin   string
	srv      *server
	prog     *progress
	rows     []Row
	children childProcs

	// finishedRun is a SUCCEEDED run the read scenarios GET.
	finishedRun string
	// buildIDs are the builds of the benchmark actors, by actor name.
	buildIDs map[string]string
	// forkExecRate is the end-to-end scenario's baseline (8× fork/exec/wait,
	// runs per second), once it ran; the sandbox scenario sets its own
	// baseline against it.
	forkExecRate float64
}

// prepare builds the binaries, starts the server and creates the actors.
func (b *bench) prepare(ctx context.Context) error {
	bins := []struct {
		flag *string
		pkg  string
		env  []string
	}{
		{&b.opts.troupeBin, "./cmd/troupe", nil},
		{&b.opts.actorBin, "./bench/benchactor", []string{"CGO_ENABLED=0"}},
		{&b.opts.netBin, "./bench/benchnet", []string{"CGO_ENABLED=0"}},
	}
	root := ""
	for _, bin := range bins {
		if *bin.flag == "" {
			if root == "" {
				var err error
				if root, err = moduleRoot(); err != nil {
					return err
				}
			}
			b.prog.set("build", "go build %s", bin.pkg)
			*bin.flag = filepath.Join(b.tmp, filepath.Base(bin.pkg))
			if err := goBuild(ctx, root, bin.pkg, *bin.flag, bin.env...); err != nil {
				return err
			}
		}
		abs, err := filepath.Abs(*bin.flag)
		if err != nil {
			return err
		}
		*bin.flag = abs
	}
	troupeBin := b.opts.troupeBin
	b.actorBin, b.netBin = b.opts.actorBin, b.opts.netBin
	if b.opts.store != "" {
		if err := checkStoreFlag(ctx, troupeBin); err != nil {
			return err
		}
	}
	b.srv = &server{bin: troupeBin, dataDir: filepath.Join(b.tmp, "data"), store: b.opts.store,
		extra: splitArgs(b.opts.serveArgs)}
	b.prog.set("server", "starting troupe serve")
	if err := b.srv.start(ctx); err != nil {
		return err
	}
	b.prog.set("actors", "creating and building the benchmark actors")
	if err := b.createActors(ctx); err != nil {
		return err
	}
	// A finished run for the read scenarios, whichever scenarios run.
	var err error
	_, b.finishedRun, err = b.startOnce(ctx, b.srv.client(1))
	return err
}
