package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
	"github.com/troupehq/troupe/builder"
	webconsole "github.com/troupehq/troupe/console"
	"github.com/troupehq/troupe/controller"
	"github.com/troupehq/troupe/events"
	"github.com/troupehq/troupe/examples"
	"github.com/troupehq/troupe/executor/process"
	"github.com/troupehq/troupe/health"
	"github.com/troupehq/troupe/internal/bwrap"
	"github.com/troupehq/troupe/internal/inflight"
	"github.com/troupehq/troupe/internal/npmstart"
	"github.com/troupehq/troupe/metrics"
	"github.com/troupehq/troupe/scheduler"
	"github.com/troupehq/troupe/webhook"
)

type serveOptions struct {
	listen       string
	dataDir      string
	publicURL    string
	username     string
	gracePeriod  time.Duration
	timeoutGrace time.Duration
	examples     bool
	logLevel     string
	logFormat    string
	openMetrics  bool
	instance     string
	store        string
	leaseTTL     time.Duration
	buildTimeout time.Duration
	buildConc    int
	sandbox      string
	proxyURL     string
	hookRetry    time.Duration
	hookAttempts int
	hookTimeout  time.Duration
	migrateGrace time.Duration
	buildEnv     []string
	pprof        string
	artifacts    artifactOptions
	kube         kubeOptions
}

func newServeCmd() *cobra.Command {
	o := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Start the troupe server (SQLite store, local processes)",
		Long: `Start the troupe server. It keeps its data (SQLite database, builds, token) in
--data, listens on --listen (loopback by default) and requires a token on every
request: TROUPE_TOKEN when set, otherwise one generated at first start, printed
once and kept in the data folder.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8700", "address to listen on")
	f.StringVar(&o.dataDir, "data", defaultDataDir(), "data folder")
	f.StringVar(&o.publicURL, "public-url", "", "base URL run processes use to reach the API (default: the listen address)")
	f.StringVar(&o.username, "username", "local", "username of the account troupe serves (used in user~name ids)")
	f.DurationVar(&o.gracePeriod, "grace-period", 30*time.Second, "how long a graceful abort waits before it kills the run")
	f.DurationVar(&o.timeoutGrace, "timeout-grace", 5*time.Second, "how long a timed-out run gets to stop before it is killed")
	f.BoolVar(&o.examples, "examples", true, "install the example actors at start when they are missing")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text (key=value) or json (one object per line)")
	f.BoolVar(&o.openMetrics, "metrics-public", false, "serve /metrics without the admin token")
	f.StringVar(&o.store, "store", defaultStore(), "store: a postgres:// URL, sqlite:PATH, or empty for troupe.db in --data (default $TROUPE_STORE)")
	f.DurationVar(&o.leaseTTL, "lease-ttl", 10*time.Second, "how long a replica may miss heartbeats before the others take over its runs")
	f.DurationVar(&o.buildTimeout, "build-timeout", builder.DefaultTimeout, "how long a build may take when its request sets no timeout")
	f.IntVar(&o.buildConc, "build-concurrency", builder.DefaultConcurrency, "how many builds run at once; others wait, READY")
	f.StringVar(&o.sandbox, "sandbox", "bwrap", "sandbox of every run and build: bwrap (bubblewrap), or none to run actors and their install scripts as the server's own user with its view of the machine (unsafe)")
	f.DurationVar(&o.migrateGrace, "migration-grace", 10*time.Second, "on SIGTERM, how long runs get to save their state after the migrating event before they are stopped (they continue at the next start or on another replica)")
	f.StringArrayVar(&o.buildEnv, "build-env", nil, "NAME=VALUE added to the environment of builds' install steps (not of runs), e.g. PIP_INDEX_URL=https://pypi.example/simple or npm_config_registry=…; repeat for more")
	f.StringVar(&o.proxyURL, "proxy-url", os.Getenv("TROUPE_PROXY_URL"), "upstream HTTP proxy handed to runs as Apify Proxy (http://[user:]password@host:port; default $TROUPE_PROXY_URL, which keeps the password off the command line)")
	f.DurationVar(&o.hookRetry, "webhook-retry", troupe.DefaultWebhookRetry.Base, "how long a webhook dispatch waits after its first failed call; each later wait doubles (up to 2 h), with jitter")
	f.IntVar(&o.hookAttempts, "webhook-attempts", troupe.DefaultWebhookRetry.Attempts, "how many calls a webhook dispatch makes before it fails")
	f.DurationVar(&o.hookTimeout, "webhook-timeout", 30*time.Second, "how long one webhook call may take")
	f.StringVar(&o.pprof, "pprof", "", "serve Go profiles (net/http/pprof, /debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060 (default: off)")
	f.StringVar(&o.instance, "instance", "", "name of this server among replicas sharing a store (default: host name and data folder)")
	addArtifactFlags(f, &o.artifacts)
	addKubeFlags(f, &o.kube)
	return cmd
}

func defaultDataDir() string {
	if d := os.Getenv("TROUPE_DATA"); d != "" {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".troupe")
	}
	return ".troupe"
}

func runServe(ctx context.Context, o serveOptions) error {
	logger, err := newLogger(o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	if err := privateDir(o.dataDir); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if o.kube.executor != "process" && o.kube.executor != "kubernetes" {
		return fmt.Errorf("--executor: %q is not process or kubernetes", o.kube.executor)
	}
	execOpts, err := executorOptions(o, logger)
	if err != nil {
		return err
	}
	for _, kv := range o.buildEnv {
		if name, _, ok := strings.Cut(kv, "="); !ok || name == "" {
			return fmt.Errorf("--build-env: %q is not NAME=VALUE", kv)
		}
	}
	proxy, err := parseProxyURL(o.proxyURL)
	if err != nil {
		return err
	}
	token, err := adminToken(o.dataDir)
	if err != nil {
		return err
	}
	rawDB, err := openStore(ctx, o.store, o.dataDir)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer rawDB.Close()
	if rawDB, err = withArtifacts(ctx, o.artifacts, rawDB); err != nil {
		return err
	}
	m := metrics.New(metrics.Options{Logger: logger})
	m.RegisterRunsByStatus(rawDB)
	db := m.Store(rawDB)
	userID, err := db.Setting(ctx, "user_id", troupe.NewID())
	if err != nil {
		return err
	}
	username, err := db.Setting(ctx, "username", o.username)
	if err != nil {
		return err
	}
	// Run tokens are signed with a key derived from the admin token: nothing
	// a run could read (the database, the data folder) holds it.
	secret := troupe.RunTokenSecret(token)

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	if o.pprof != "" {
		addr, stop, err := startPprof(o.pprof)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(os.Stderr, "troupe: profiles on http://%s/debug/pprof/\n", addr)
	}
	publicURL := strings.TrimRight(o.publicURL, "/")
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	instance := o.instance
	if instance == "" {
		instance = defaultInstance(o.dataDir)
	}
	baseEnv := []string{"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}
	var runExec troupe.Executor = process.New(execOpts)
	remote := false
	var installer troupe.Installer
	if o.kube.executor == "kubernetes" {
		kex, err := newKubeExecutor(o.kube, publicURL, instance, logger)
		if err != nil {
			return err
		}
		defer kex.Close()
		runExec, remote = kex, true
		// npm install runs in a pod of the image the runs use.
		installer = kex
		// Runs get the PATH of a container, not the server's.
		baseEnv = []string{"PATH=" + containerPath, "LANG=C.UTF-8"}
	}

	var ctrl *controller.Controller
	hub := events.NewHub(events.Options{
		Stats:       func(runID string) (troupe.ProcessStats, bool) { return ctrl.Stats(runID) },
		MemoryLimit: func(runID string) int64 { return ctrl.MemoryLimit(runID) },
		Logger:      logger,
	})
	defer hub.Close()
	runWrites := &inflight.Tracker{}
	ctrl = controller.New(controller.Config{
		Store:          db,
		Executor:       m.Executor(runExec),
		Events:         hub,
		PublicURL:      publicURL,
		RunWrites:      runWrites,
		RunTokenSecret: secret,
		UserID:         userID,
		DataDir:        o.dataDir,
		GracePeriod:    o.gracePeriod,
		TimeoutGrace:   o.timeoutGrace,
		BaseEnv:        baseEnv,
		Proxy:          proxy,
		NPMScripts:     &npmstart.Rewriter{},
		Instance:       instance,
		LeaseTTL:       o.leaseTTL,
		// A heartbeat every fifth of the lease: a few may be late or lost.
		HeartbeatInterval: o.leaseTTL / 5,
		Logger:            logger,
	})
	// Builds run their install scripts in the same kind of sandbox as runs
	// (--sandbox covers both).
	bcfg := builder.Config{Store: db, DataDir: o.dataDir, BaseEnv: baseEnv, BuildEnv: o.buildEnv, Logger: logger,
		Timeout: o.buildTimeout, Concurrency: o.buildConc, Instance: instance,
		Installer: installer, TokenSecret: secret}
	if sb := execOpts.Sandbox; sb != nil {
		bcfg.Sandbox = &builder.Sandbox{Bwrap: sb.Bwrap, Hide: sb.Hide}
	} else {
		bcfg.WarnNoSandbox = true
	}
	bld := builder.New(bcfg)
	srv := api.New(api.Config{
		Store: db, Controller: ctrl, Builder: bld, Events: hub,
		RunWrites: runWrites,
		Token:     token, RunTokenSecret: secret,
		UserID: userID, Username: username, Logger: logger,
		Instrument: m.InstrumentAPI, FinishWoken: m.FinishWoken,
		ProxyConfigured: proxy != nil,
	})
	if err := ctrl.Start(ctx); err != nil {
		return fmt.Errorf("recover runs: %w", err)
	}
	if err := bld.Start(ctx); err != nil {
		return fmt.Errorf("recover builds: %w", err)
	}
	sched := scheduler.New(scheduler.Config{Store: db, Wake: ctrl.Wake, Logger: logger, UserID: userID,
		Defaults: troupe.RunDefaults{TimeoutSecs: api.DefaultRunTimeoutSecs, MemoryMbytes: api.DefaultRunMemoryMbytes}})
	schedCtx, stopSched := context.WithCancel(ctx)
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); sched.Run(schedCtx) }()
	defer func() { stopSched(); <-schedDone }()
	if o.examples {
		if err := installExamples(ctx, db, bld, userID, username); err != nil {
			logger.Error("install example actors", "err", err)
		}
	}

	hooks := webhook.New(webhook.Config{Store: db, Owner: instance, Logger: logger, Timeout: o.hookTimeout,
		Retry: troupe.WebhookRetry{Base: o.hookRetry, Max: troupe.DefaultWebhookRetry.Max, Attempts: o.hookAttempts}})
	hookCtx, stopHooks := context.WithCancel(context.Background())
	hooksDone := make(chan struct{})
	go func() { defer close(hooksDone); hooks.Run(hookCtx) }()
	defer func() { stopHooks(); <-hooksDone }()

	// Requests that wait (waitForFinish, log streams) end when the server
	// shuts down, so that shutdown does not wait for them.
	reqCtx, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	httpSrv := srv.HTTPServer()
	// The web console at /; /v2 goes on to the API.
	httpSrv.Handler = webconsole.New(webconsole.Config{Store: db, API: srv, Token: token, Username: username,
		Secure: strings.HasPrefix(publicURL, "https://"), Logger: logger})
	httpSrv.BaseContext = func(net.Listener) context.Context { return reqCtx }
	httpSrv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	metricsToken := token
	if o.openMetrics {
		metricsToken = ""
	}
	httpSrv.Handler = operatorRoutes(httpSrv.Handler, m.Handler(metricsToken), health.Live(),
		health.Ready(health.ReadyConfig{Store: db, Running: ctrl.Running, Logger: logger}))
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "troupe: listening on %s (data in %s)\n", publicURL, o.dataDir)
	logger.Info("listening", "url", publicURL, "data", o.dataDir, "instance", instance)
	if proxy != nil {
		logger.Info("runs get an upstream proxy", "proxy", proxy.Redacted())
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	// Runs are told to migrate and get the grace period to save their
	// state through the API, which keeps serving meanwhile. Pods are left
	// running: the next start, or another replica, adopts them.
	if !remote {
		ctrl.Migrate(o.migrateGrace)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cancelRequests()
	_ = httpSrv.Shutdown(shutdownCtx)
	// Runs stay RUNNING in the store; the next start (or another replica,
	// after the lease) restarts them (stats.migrationCount). Running
	// builds end FAILED, their processes killed; queued ones stay READY.
	ctrl.Stop(!remote)
	bld.Stop()
	return nil
}

// executorOptions configures the run executor for --sandbox: bubblewrap
// hiding the data folder (and a SQLite file kept elsewhere), or no sandbox
// with a warning here and in every run's log.
func executorOptions(o serveOptions, logger *slog.Logger) (process.Options, error) {
	opts := process.Options{Logger: logger}
	switch o.sandbox {
	case "bwrap":
		bin, err := bwrap.Find()
		if err != nil {
			return opts, fmt.Errorf("%w\nrefusing to run actors without a sandbox; start with --sandbox none to do so anyway (unsafe: every actor can then read troupe's data and secrets)", err)
		}
		data, err := filepath.Abs(o.dataDir)
		if err != nil {
			return opts, err
		}
		hide := []string{data}
		if file, ok := strings.CutPrefix(o.store, "sqlite:"); ok {
			if abs, err := filepath.Abs(file); err == nil {
				hide = append(hide, filepath.Dir(abs))
			}
		}
		opts.Sandbox = &process.Sandbox{Bwrap: bin, Hide: hide}
		logger.Info("runs and builds are sandboxed with bubblewrap", "bwrap", bin)
	case "none":
		opts.WarnNoSandbox = true
		fmt.Fprintln(os.Stderr, "troupe: WARNING: --sandbox none: runs and builds are NOT sandboxed. Every actor (and every build's install scripts) runs as this server's user, sees the whole machine and can read troupe's database, token and secrets. Use it only for actors you trust.")
	default:
		return opts, fmt.Errorf("--sandbox: %q is not bwrap or none", o.sandbox)
	}
	return opts, nil
}

// parseProxyURL checks --proxy-url: empty (no proxy), or an http:// URL
// with a host and port. Errors never repeat the URL, which may hold a
// password.
func parseProxyURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("--proxy-url: not a URL")
	}
	if u.Scheme != "http" || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
		return nil, errors.New("--proxy-url: want http://[user:]password@host:port (the Apify SDK speaks plain HTTP to its proxy)")
	}
	return u, nil
}

// adminToken returns TROUPE_TOKEN, or the token kept in the data folder
// (0600), generating and printing it once when there is none.
func adminToken(dataDir string) (string, error) {
	if t := os.Getenv("TROUPE_TOKEN"); t != "" {
		return t, nil
	}
	path := filepath.Join(dataDir, "token")
	data, err := os.ReadFile(path)
	if err == nil {
		if err := os.Chmod(path, 0o600); err != nil {
			return "", err
		}
		return strings.TrimSpace(string(data)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	token := "troupe_" + randomHex(20)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save token: %w", err)
	}
	fmt.Fprintf(os.Stderr, "troupe: generated the admin token (kept in %s; it is not printed again):\n\n    export TROUPE_TOKEN=%s\n\n", path, token)
	return token, nil
}

// privateDir creates the data folder, or narrows an existing one, so that
// only the server's user can enter it (0700).
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// defaultInstance names a server after its host and data folder, so that it
// keeps its name (and so its runs) across restarts.
func defaultInstance(dataDir string) string {
	host, _ := os.Hostname()
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	sum := sha256.Sum256([]byte(abs))
	return host + "-" + hex.EncodeToString(sum[:4])
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// installExamples creates each example actor that does not exist yet and
// builds it.
func installExamples(ctx context.Context, st troupe.Store, bld *builder.Builder, userID, username string) error {
	for _, name := range examples.Names {
		if _, err := st.GetActorByName(ctx, username, name); err == nil {
			continue
		} else if !troupe.IsNotFound(err) {
			return err
		}
		sub, err := fs.Sub(examples.FS, name)
		if err != nil {
			return err
		}
		files, err := troupe.ReadSourceFiles(sub)
		if err != nil {
			return err
		}
		now := troupe.Now()
		a := &troupe.Actor{
			ID: troupe.NewID(), UserID: userID, Username: username, Name: name,
			CreatedAt: now, ModifiedAt: now,
			Versions: []troupe.Version{{VersionNumber: "0.1", SourceType: troupe.SourceFiles,
				SourceFiles: files, BuildTag: "latest", EnvVars: []troupe.EnvVar{}}},
			DefaultRunOptions: troupe.DefaultRunOptions{Build: "latest", TimeoutSecs: 3600, MemoryMbytes: 1024},
			TaggedBuilds:      map[string]*troupe.TaggedBuild{},
		}
		if err := st.CreateActor(ctx, a); err != nil {
			return err
		}
		b := &troupe.Build{ID: troupe.NewID(), ActID: a.ID, UserID: userID, StartedAt: now,
			Status: troupe.StatusReady, Meta: troupe.RunMeta{Origin: troupe.OriginDevelopment},
			ActorVersion: "0.1", Tag: "latest", Options: troupe.BuildOptions{MemoryMbytes: 1024, DiskMbytes: 2048}}
		if err := st.CreateBuild(ctx, b); err != nil {
			return err
		}
		bld.Enqueue(b.ID)
	}
	return nil
}
