// Package builder turns an actor version into a build that the process
// executor can run: an immutable folder with the version's files, its
// dependencies installed the way the project's ecosystem expects, and the
// start command taken from the Dockerfile.
package builder

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/artifact"
	"github.com/troupehq/troupe/internal/logsink"
)

// DefaultConcurrency is how many builds run at once unless
// Config.Concurrency says otherwise; further builds wait, READY, for a
// slot.
const DefaultConcurrency = 4

// DefaultTimeout is how long a build may take unless its request or
// Config.Timeout says otherwise (Apify's default build timeout).
const DefaultTimeout = 1800 * time.Second

// Config configures a Builder.
type Config struct {
	Store troupe.Store
	// DataDir holds builds (DataDir/builds/BUILDID) and the npm cache.
	DataDir string
	// BaseEnv is the environment of install steps (e.g. PATH).
	BaseEnv []string
	// BuildEnv is added to the environment of install steps only (never of
	// runs): e.g. PIP_INDEX_URL for a private package index.
	BuildEnv []string
	// Concurrency is how many builds run at once (default
	// DefaultConcurrency).
	Concurrency int
	// Timeout is how long a build may take when its request sets no
	// timeout (default DefaultTimeout).
	Timeout time.Duration
	// Instance names this server among replicas sharing the store: a build
	// it left RUNNING when it stopped is marked FAILED when it starts
	// again.
	Instance string
	// Sandbox, when set, runs every install step in a bubblewrap sandbox.
	Sandbox *Sandbox
	// WarnNoSandbox, with no Sandbox, starts every build's log with
	// NoSandboxWarning.
	WarnNoSandbox bool
	// Installer, when set, runs the npm install of Node.js projects in the
	// image their Dockerfile's FROM names (a Kubernetes pod) instead of on
	// the server; its steps authenticate with build tokens signed with
	// TokenSecret (troupe.BuildToken).
	Installer   troupe.Installer
	TokenSecret []byte
	Logger      *slog.Logger
	Now         func() time.Time
}

// Builder builds actor versions, a few at a time. Each build runs under
// its timeout, can be aborted through the store (status ABORTING) and is
// stopped, its processes killed, when the Builder stops.
type Builder struct {
	cfg  Config
	sem  chan struct{}
	wg   sync.WaitGroup
	ctx  context.Context
	stop context.CancelCauseFunc

	cacheMu    sync.Mutex
	cacheOwned bool // the npm cache belongs to the sandbox user
}

// The causes that end a build early.
var (
	errTimedOut      = errors.New("build timed out")
	errAborted       = errors.New("build aborted")
	errServerStopped = errors.New("server stopped")
)

// New returns a Builder.
func New(cfg Config) *Builder {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = troupe.Now
	}
	if sb := cfg.Sandbox; sb != nil {
		c := *sb
		if c.UID <= 0 {
			c.UID = DefaultBuildUID
		}
		if c.MaxProcs <= 0 {
			c.MaxProcs = DefaultBuildMaxProcs
		}
		cfg.Sandbox = &c
	}
	ctx, stop := context.WithCancelCause(context.Background())
	return &Builder{cfg: cfg, sem: make(chan struct{}, cfg.Concurrency), ctx: ctx, stop: stop}
}

// Start builds the READY builds a previous server left waiting, and ends
// the builds this server (the same Instance) left unfinished when it
// stopped without finishing them: FAILED, or ABORTED when they were being
// aborted.
func (b *Builder) Start(ctx context.Context) error {
	for offset := 0; ; offset += 1000 {
		actors, total, err := b.cfg.Store.ListActors(ctx, troupe.ListOptions{Offset: offset, Limit: 1000})
		if err != nil {
			return err
		}
		for _, a := range actors {
			builds, _, err := b.cfg.Store.ListBuilds(ctx, a.ID, troupe.ListOptions{Limit: 1000, Desc: true})
			if err != nil {
				return err
			}
			for _, bd := range builds {
				switch {
				case bd.Status == troupe.StatusReady:
					b.Enqueue(bd.ID)
				case !bd.Status.Terminal():
					if err := b.endOrphan(ctx, bd.ID); err != nil {
						return err
					}
				}
			}
		}
		if offset+len(actors) >= total || len(actors) == 0 {
			return nil
		}
	}
}

// endOrphan ends a build this server was running when it stopped, and
// removes what its install step left (Config.Installer).
func (b *Builder) endOrphan(ctx context.Context, id string) error {
	const msg = "The server stopped during the build; start a new build."
	now := b.cfg.Now()
	_, err := b.cfg.Store.UpdateBuild(ctx, id, func(x *troupe.Build) error {
		if x.Status.Terminal() || x.Status == troupe.StatusReady || (x.Instance != "" && x.Instance != b.cfg.Instance) {
			return errDone
		}
		if x.Status == troupe.StatusAborting {
			x.Status = troupe.StatusAborted
		} else {
			x.Status = troupe.StatusFailed
		}
		x.StatusMessage = msg
		x.FinishedAt = &now
		return nil
	})
	if errors.Is(err, errDone) {
		return nil
	}
	if err == nil {
		b.logLine(ctx, id, "[troupe] "+msg)
		if b.cfg.Installer != nil {
			if ferr := b.cfg.Installer.Forget(ctx, id); ferr != nil {
				b.cfg.Logger.Warn("remove the install step of a build the server left", "build", id, "err", ferr)
			}
		}
	}
	return err
}

// Stop ends running builds (FAILED, their processes killed) and waits for
// them. Builds still waiting for a slot stay READY for the next start.
func (b *Builder) Stop() {
	b.stop(errServerStopped)
	b.wg.Wait()
}

// Enqueue builds the stored build with this id in the background, as soon
// as fewer than Concurrency builds run.
func (b *Builder) Enqueue(buildID string) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		select {
		case b.sem <- struct{}{}:
		case <-b.ctx.Done():
			return
		}
		defer func() { <-b.sem }()
		if err := b.Build(b.ctx, buildID); err != nil {
			b.cfg.Logger.Error("build", "build", buildID, "err", err)
		}
	}()
}

// Build builds one stored READY build now and records the outcome on it
// (and, on success, points its tag at it). The build ends TIMED-OUT after
// its timeout, ABORTED when its status becomes ABORTING in the store, and
// FAILED when ctx ends first; its processes are killed in each case. It
// returns an error only when the outcome could not be recorded.
func (b *Builder) Build(ctx context.Context, buildID string) error {
	st := b.cfg.Store
	start := time.Now()
	timeout := b.cfg.Timeout
	bd, err := st.UpdateBuild(ctx, buildID, func(bd *troupe.Build) error {
		if bd.Status != troupe.StatusReady {
			return errDone
		}
		bd.Status = troupe.StatusRunning
		bd.Instance = b.cfg.Instance
		if bd.Options.TimeoutSecs > 0 {
			timeout = time.Duration(bd.Options.TimeoutSecs) * time.Second
		} else {
			bd.Options.TimeoutSecs = int(timeout / time.Second)
		}
		return nil
	})
	if errors.Is(err, errDone) {
		return nil
	}
	if err != nil {
		return err
	}
	sink := logsink.New(ctx, st, buildID, b.cfg.Logger, nil)
	defer sink.Close()
	logf := func(format string, args ...any) { sink.System(fmt.Sprintf(format, args...)) }

	// The build's own context ends at its timeout, on abort, or when ctx
	// (the server) ends; its cause says which.
	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	bctx, cancelTimeout := context.WithTimeoutCause(bctx, timeout, errTimedOut)
	defer cancelTimeout()
	stopWatch := b.watchAbort(bctx, buildID, cancel)
	defer stopWatch()

	if b.cfg.Sandbox == nil && b.cfg.WarnNoSandbox {
		logf("%s", NoSandboxWarning)
	}
	logf("Building %s version %s as build %s (timeout %s).", bd.ActID, bd.ActorVersion, bd.BuildNumber, timeout)
	res, buildErr := b.make(bctx, bd, sink, logf)
	if buildErr == nil && res.Artifact == "" {
		buildErr = b.keep(bctx, res, logf)
	}
	if buildErr == nil && bctx.Err() != nil {
		buildErr = bctx.Err()
	}
	status, message := troupe.StatusSucceeded, ""
	if buildErr != nil {
		switch cause := context.Cause(bctx); {
		case bctx.Err() == nil:
			status, message = troupe.StatusFailed, "Build failed: "+troupe.ErrorMessage(buildErr)
		case errors.Is(cause, errTimedOut):
			status, message = troupe.StatusTimedOut, fmt.Sprintf("The build timed out after %s; its processes were killed.", timeout)
		case errors.Is(cause, errAborted):
			status, message = troupe.StatusAborted, "The build was aborted; its processes were killed."
		default:
			status, message = troupe.StatusFailed, "The server stopped during the build; its processes were killed. Start a new build."
		}
		logf("%s", message)
	} else {
		logf("Build finished; start command: %s", strings.Join(res.Command, " "))
	}
	sink.Flush()
	now := b.cfg.Now()
	wctx := context.WithoutCancel(ctx)
	finish := func(x *troupe.Build) {
		x.FinishedAt = &now
		x.Stats.DurationMillis = time.Since(start).Milliseconds()
		x.Stats.RunTimeSecs = float64(x.Stats.DurationMillis) / 1000
	}
	fail := func(status troupe.Status, message string) error {
		_, err := st.UpdateBuild(wctx, buildID, func(x *troupe.Build) error {
			finish(x)
			x.Status, x.StatusMessage = status, message
			return nil
		})
		return err
	}
	if status != troupe.StatusSucceeded {
		return fail(status, message)
	}
	// The tag points at the build before the build shows SUCCEEDED, so that
	// whoever sees it succeed (a `troupe push` waiting for it, say) finds it
	// under its tag at once. A run asking for the tag in between is told
	// that the build has not finished. An abort asked for from here on
	// comes too late: the build succeeds.
	bd, err = st.UpdateBuild(wctx, buildID, func(x *troupe.Build) error {
		x.Command, x.Dir, x.Env, x.InputSchema = res.Command, res.Dir, res.Env, res.InputSchema
		x.Artifact, x.Image = res.Artifact, res.Image
		return nil
	})
	if err != nil {
		return err
	}
	tag := bd.Tag
	if tag == "" {
		tag = "latest"
	}
	_, err = st.UpdateActor(wctx, bd.ActID, func(a *troupe.Actor) error {
		if a.TaggedBuilds == nil {
			a.TaggedBuilds = map[string]*troupe.TaggedBuild{}
		}
		a.TaggedBuilds[tag] = &troupe.TaggedBuild{BuildID: bd.ID, BuildNumber: bd.BuildNumber, FinishedAt: &now}
		return nil
	})
	if err != nil {
		msg := fmt.Sprintf("Build failed: the tag %s could not be set.", tag)
		logf("%s", msg)
		sink.Flush()
		return errors.Join(err, fail(troupe.StatusFailed, msg))
	}
	_, err = st.UpdateBuild(wctx, buildID, func(x *troupe.Build) error {
		finish(x)
		x.Status = troupe.StatusSucceeded
		return nil
	})
	return err
}

// watchAbort cancels the build with errAborted once its stored status is
// ABORTING (set by the API, possibly on another replica). It returns a
// function that stops the watch.
func (b *Builder) watchAbort(ctx context.Context, id string, cancel context.CancelCauseFunc) func() {
	ch, stopWatch := b.cfg.Store.Watch(id)
	ctx, quit := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			// The watch exists before the first read, so no change is missed.
			if bd, err := b.cfg.Store.GetBuild(ctx, id); err == nil && bd.Status == troupe.StatusAborting {
				cancel(errAborted)
				return
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		quit()
		<-done
		stopWatch()
	}
}

var errDone = errors.New("build already finished")

// keep packs the build folder into an archive (artifact.Pack) streamed into
// the store, and sets res.Artifact to its digest, so that a replica that
// shares only the store can run the build.
func (b *Builder) keep(ctx context.Context, res *result, logf func(string, ...any)) error {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(artifact.Pack(res.Dir, pw))
	}()
	digest, size, err := b.cfg.Store.PutArtifact(ctx, pr)
	pr.CloseWithError(errors.New("archive no longer read"))
	<-done
	if err != nil {
		return fmt.Errorf("keep the build's files: %w", err)
	}
	res.Artifact = digest
	logf("Kept the build's files as an archive of %.1f MB (sha256 %s).", float64(size)/1e6, digest)
	return nil
}

type result struct {
	Dir         string
	Artifact    string // digest of the folder's archive in the store (set: kept already)
	Command     []string
	Env         []troupe.EnvVar
	InputSchema json.RawMessage
	Image       string // the Dockerfile's FROM (Kubernetes executor)
}

func (b *Builder) make(ctx context.Context, bd *troupe.Build, sink *logsink.Sink, logf func(string, ...any)) (*result, error) {
	actor, err := b.cfg.Store.GetActor(ctx, bd.ActID)
	if err != nil {
		return nil, err
	}
	var version *troupe.Version
	for i := range actor.Versions {
		if actor.Versions[i].VersionNumber == bd.ActorVersion {
			version = &actor.Versions[i]
		}
	}
	if version == nil {
		return nil, troupe.Errorf(troupe.ErrRecordNotFound, "Actor version %s was not found.", bd.ActorVersion)
	}
	dir, err := filepath.Abs(filepath.Join(b.cfg.DataDir, "builds", bd.ID))
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	switch version.SourceType {
	case troupe.SourceFiles:
		err = writeSourceFiles(dir, version.SourceFiles)
	case troupe.SourceFolder:
		err = copyTree(version.SourceDir, dir)
	default:
		err = troupe.Errorf(troupe.ErrInvalidValue, "Source type %q cannot be built by troupe; use SOURCE_FILES.", version.SourceType)
	}
	if err != nil {
		return nil, err
	}
	res := &result{Dir: dir, Env: append([]troupe.EnvVar{}, version.EnvVars...)}
	proj, err := readProject(dir)
	if err != nil {
		return nil, err
	}
	res.InputSchema = proj.inputSchema
	for _, kv := range proj.docker.Env {
		res.Env = append(res.Env, troupe.EnvVar{Name: kv[0], Value: kv[1]})
	}
	res.Command, res.Image = proj.docker.Command(), cmp.Or(actor.Image, proj.docker.From)
	if len(res.Command) == 0 && proj.hasStartScript {
		res.Command = []string{"npm", "start", "--silent"}
	}
	if len(res.Command) == 0 {
		return nil, troupe.Errorf(troupe.ErrInvalidInput, "The project has no start command: add CMD to its Dockerfile.")
	}
	if declared := pythonProject(dir); declared != "" {
		env, err := b.installPython(ctx, dir, declared, sink, logf)
		if err != nil {
			return nil, err
		}
		res.Env = append(res.Env, env...)
	}
	// npm install runs when there are dependencies to install, or scripts
	// of the project's own that an install runs (as a Dockerfile's
	// `RUN npm install` would).
	install := proj.hasDependencies
	if data, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil && hasInstallScripts(data) {
		install = true
	}
	if install && b.cfg.Installer != nil {
		if res.Artifact, err = b.installAway(ctx, bd, dir, res.Image, sink, logf); err != nil {
			return nil, err
		}
		return res, nil
	}
	if install {
		argv := []string{"npm", "install", "--no-audit", "--no-fund", "--omit=dev",
			"--cache", b.cacheDir()}
		key := b.layerKey(ctx, dir, argv)
		if key != "" && b.restoreLayer(key, dir) {
			logf("Reusing the dependencies an earlier build installed from the same package.json and package-lock.json.")
			return res, nil
		}
		logf("Installing dependencies with npm install.")
		if err := b.install(ctx, dir, sink, argv); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, troupe.Errorf(troupe.ErrBuildFailed, "npm install failed: %v", err)
		}
		if key != "" {
			if err := b.saveLayer(key, dir); err != nil {
				b.cfg.Logger.Warn("save npm layer", "build", bd.ID, "err", err)
			}
		}
	}
	return res, nil
}

func (b *Builder) logLine(ctx context.Context, buildID, text string) {
	line := time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " " + text + "\n"
	if err := b.cfg.Store.AppendLog(context.WithoutCancel(ctx), buildID, []byte(line)); err != nil {
		b.cfg.Logger.Error("append build log", "build", buildID, "err", err)
	}
}

// safeJoin joins a relative source file name to dir, refusing names that
// would leave it.
func safeJoin(dir, name string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(name))
	if name == "" || filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", troupe.Errorf(troupe.ErrInvalidValue, "Source file name %q is not a relative path inside the project.", name)
	}
	return filepath.Join(dir, clean), nil
}

func writeSourceFiles(dir string, files []troupe.SourceFile) error {
	for _, f := range files {
		p, err := safeJoin(dir, f.Name)
		if err != nil {
			return err
		}
		if f.Folder {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		data := []byte(f.Content)
		if strings.EqualFold(f.Format, "BASE64") {
			if data, err = base64.StdEncoding.DecodeString(f.Content); err != nil {
				return troupe.Errorf(troupe.ErrInvalidValue, "Source file %q is not valid base64.", f.Name)
			}
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(f.Name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			return err
		}
	}
	return nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "storage") && rel != "." {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
}
