// Package builder turns an actor version into a build that the process
// executor can run: an immutable folder with the version's files, its
// dependencies installed the way the project's ecosystem expects, and the
// start command taken from the Dockerfile.
package builder

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/troupehq/troupe"
)

// Config configures a Builder.
type Config struct {
	Store troupe.Store
	// DataDir holds builds (DataDir/builds/BUILDID) and the npm cache.
	DataDir string
	// BaseEnv is the environment of install steps (e.g. PATH).
	BaseEnv []string
	// Concurrency is how many builds run at once (default 2).
	Concurrency int
	Logger      *slog.Logger
	Now         func() time.Time
}

// Builder builds actor versions, a few at a time.
type Builder struct {
	cfg  Config
	sem  chan struct{}
	wg   sync.WaitGroup
	ctx  context.Context
	stop context.CancelFunc
}

// New returns a Builder.
func New(cfg Config) *Builder {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = troupe.Now
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Builder{cfg: cfg, sem: make(chan struct{}, cfg.Concurrency), ctx: ctx, stop: stop}
}

// Start builds again the builds a previous server left unfinished.
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
				if !bd.Status.Terminal() {
					b.Enqueue(bd.ID)
				}
			}
		}
		if offset+len(actors) >= total || len(actors) == 0 {
			return nil
		}
	}
}

// Stop cancels running builds and waits for them.
func (b *Builder) Stop() {
	b.stop()
	b.wg.Wait()
}

// Enqueue builds the stored build with this id in the background.
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

// Build builds one stored build now and records the outcome on it (and, on
// success, points its tag at it). It returns an error only when the outcome
// could not be recorded.
func (b *Builder) Build(ctx context.Context, buildID string) error {
	st := b.cfg.Store
	start := time.Now()
	bd, err := st.UpdateBuild(ctx, buildID, func(bd *troupe.Build) error {
		if bd.Status.Terminal() {
			return errDone
		}
		bd.Status = troupe.StatusRunning
		return nil
	})
	if errors.Is(err, errDone) {
		return nil
	}
	if err != nil {
		return err
	}
	logf := func(format string, args ...any) {
		b.logLine(ctx, buildID, fmt.Sprintf(format, args...))
	}
	logf("Building %s version %s as build %s.", bd.ActID, bd.ActorVersion, bd.BuildNumber)
	res, buildErr := b.make(ctx, bd, logf)
	now := b.cfg.Now()
	if buildErr != nil {
		logf("Build failed: %s", troupe.ErrorMessage(buildErr))
	} else {
		logf("Build finished; start command: %s", strings.Join(res.Command, " "))
	}
	wctx := context.WithoutCancel(ctx)
	finish := func(x *troupe.Build) {
		x.FinishedAt = &now
		x.Stats.DurationMillis = time.Since(start).Milliseconds()
		x.Stats.RunTimeSecs = float64(x.Stats.DurationMillis) / 1000
	}
	fail := func() error {
		_, err := st.UpdateBuild(wctx, buildID, func(x *troupe.Build) error {
			finish(x)
			x.Status = troupe.StatusFailed
			return nil
		})
		return err
	}
	if buildErr != nil {
		return fail()
	}
	// The tag points at the build before the build shows SUCCEEDED, so that
	// whoever sees it succeed (a `troupe push` waiting for it, say) finds it
	// under its tag at once. A run asking for the tag in between is told
	// that the build has not finished.
	bd, err = st.UpdateBuild(wctx, buildID, func(x *troupe.Build) error {
		x.Command, x.Dir, x.Env, x.InputSchema = res.Command, res.Dir, res.Env, res.InputSchema
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
		logf("Build failed: the tag %s could not be set.", tag)
		return errors.Join(err, fail())
	}
	_, err = st.UpdateBuild(wctx, buildID, func(x *troupe.Build) error {
		finish(x)
		x.Status = troupe.StatusSucceeded
		return nil
	})
	return err
}

var errDone = errors.New("build already finished")

type result struct {
	Dir         string
	Command     []string
	Env         []troupe.EnvVar
	InputSchema json.RawMessage
}

func (b *Builder) make(ctx context.Context, bd *troupe.Build, logf func(string, ...any)) (*result, error) {
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
	res.Command = proj.docker.Command()
	if len(res.Command) == 0 && proj.hasStartScript {
		res.Command = []string{"npm", "start", "--silent"}
	}
	if len(res.Command) == 0 {
		return nil, troupe.Errorf(troupe.ErrInvalidInput, "The project has no start command: add CMD to its Dockerfile.")
	}
	if proj.hasDependencies {
		argv := []string{"npm", "install", "--no-audit", "--no-fund", "--omit=dev",
			"--cache", filepath.Join(b.cfg.DataDir, "npm-cache")}
		key := b.layerKey(ctx, dir, argv)
		if key != "" && b.restoreLayer(key, dir) {
			logf("Reusing the dependencies an earlier build installed from the same package.json and package-lock.json.")
			return res, nil
		}
		logf("Installing dependencies with npm install.")
		if err := b.run(ctx, dir, bd.ID, argv); err != nil {
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

// run runs an install step in dir, its output going to the build log.
func (b *Builder) run(ctx context.Context, dir, buildID string, argv []string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, b.cfg.BaseEnv...), "HOME="+filepath.Join(b.cfg.DataDir, "home"))
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
		for sc.Scan() {
			b.logLine(ctx, buildID, sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	return err
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
