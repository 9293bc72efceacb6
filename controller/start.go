package controller

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/troupehq/troupe"
)

// startProc starts the process of the run's current generation: a fresh
// working folder, the environment of an Apify platform run, and the build's
// start command. Then it records the process in the run (recordProc).
func (r *runner) startProc(ctx context.Context, run *troupe.Run) error {
	actor, build, err := r.runnable(ctx, run)
	if err != nil {
		return err
	}
	remote, _ := r.c.cfg.Executor.(troupe.RemoteExecutor)
	pd, _ := r.c.cfg.Executor.(troupe.PrivateDirs)
	private := remote == nil && pd != nil && pd.PrivateDirs()
	var dir, files string
	if remote != nil {
		// The executor gets the build's files itself, from its archive.
		if build.Artifact == "" {
			return &startError{err: errors.New("build has no archive"), msg: fmt.Sprintf(
				"build %s was made before troupe kept build archives and cannot run on this executor; build the actor again.", build.BuildNumber)}
		}
		dir = remote.WorkDir()
	} else {
		if files, err = r.buildFiles(ctx, build); err != nil {
			return err
		}
		dir = r.c.runDir(r.id)
		if private {
			err = checkBuildFiles(build, files)
		} else {
			dir, err = r.prepareDir(build, files)
		}
		if err != nil {
			return err
		}
	}
	port, err := freePort()
	if err != nil {
		return serverFailure("pick web server port", err)
	}
	gen := run.Control.Generation
	r.c.cfg.Events.Forget(r.id)
	if run.Control.StartedGeneration > 0 {
		r.sink.system(fmt.Sprintf("Starting %s/%s build %s (process %d of this run).", actor.Username, actor.Name, build.BuildNumber, gen))
	}
	command, env := build.Command, r.env(run, actor, build, dir, port)
	if rw := r.c.cfg.NPMScripts; rw != nil && remote == nil {
		if argv, npmEnv, ok := rw.Rewrite(ctx, command, dir, files, env); ok {
			command, env = argv, npmEnv
		}
	}
	spec := &troupe.ExecSpec{
		RunID:        r.id,
		Generation:   gen,
		Command:      command,
		PrivateDir:   private,
		BuildDir:     files,
		Env:          env,
		MemoryMbytes: run.Options.MemoryMbytes,
		ActorID:      actor.ID,
		BuildID:      build.ID,
		Artifact:     build.Artifact,
		Image:        build.Image,
		Output:       r.sink.output(gen),
	}
	if remote == nil {
		spec.Dir = dir // a remote process's folder is not on this server
	}
	if t := run.Control.TimeoutAt; t != nil {
		spec.Deadline = t.Add(r.c.cfg.TimeoutGrace + deadlineMargin)
	}
	p, err := r.c.cfg.Executor.Start(ctx, spec)
	if err != nil {
		return execFailure(command[0], err)
	}
	r.proc, r.procGen = p, gen
	r.memBytes = int64(run.Options.MemoryMbytes) << 20
	r.setShared(p, r.memBytes)
	r.recordProc(ctx, p, gen, "http://127.0.0.1:"+strconv.Itoa(port))
	return nil
}

// deadlineMargin is how long after a run's timeout and its grace an
// executor may end the process on its own (ExecSpec.Deadline): troupe
// itself stops it before, unless no server runs the run meanwhile.
const deadlineMargin = time.Minute

// runnable returns the run's actor and build, or why the build cannot run.
// The first process of a run woken with WakeNew uses the actor and build
// the run was created with.
func (r *runner) runnable(ctx context.Context, run *troupe.Run) (actor *troupe.Actor, build *troupe.Build, err error) {
	fa, fb := r.firstActor, r.firstBuild
	r.firstActor, r.firstBuild = nil, nil
	if fb != nil && fb.ID == run.BuildID && run.Control.Generation == 1 {
		build = fb
	} else if build, err = r.c.cfg.Store.GetBuild(ctx, run.BuildID); err != nil {
		return nil, nil, err
	}
	if build.Status != troupe.StatusSucceeded || len(build.Command) == 0 {
		return nil, nil, troupe.Errorf(troupe.ErrBuildFailed, "Build %s (%s) is %s and cannot be run.", build.BuildNumber, build.ID, build.Status)
	}
	if fa != nil && fa.ID == run.ActID && run.Control.Generation == 1 {
		return fa, build, nil
	}
	if actor, err = r.c.cfg.Store.GetActor(ctx, run.ActID); err != nil {
		return nil, nil, err
	}
	return actor, build, nil
}

// recordProc records the started process p of generation gen in the run
// and, for a new run, claims it and marks it RUNNING, in one write. Should
// the run have moved on meanwhile (aborted while READY, claimed by another
// instance, a newer generation), the process is not wanted and is stopped.
func (r *runner) recordProc(ctx context.Context, p troupe.Process, gen int, containerURL string) {
	got, err := r.update(ctx, func(run *troupe.Run, _ troupe.StorageTx) error {
		if run.Control.Generation != gen || run.Status.Terminal() {
			return errNoChange
		}
		if run.Status == troupe.StatusReady {
			if run.Control.Owner != "" && run.Control.Owner != r.c.cfg.Instance {
				return errNoChange
			}
			if err := run.MarkRunning(r.c.now()); err != nil {
				return err
			}
			run.Control.Owner = r.c.cfg.Instance
		} else if run.Control.Owner != r.c.cfg.Instance {
			return errNoChange
		}
		run.Control.PID, run.Control.PIDStartTime = p.PID(), p.StartTime()
		run.Control.StartedGeneration = gen
		run.ContainerURL = containerURL
		return nil
	})
	if err == nil && got.Control.PID == p.PID() && got.Control.Generation == gen {
		return
	}
	r.stopProc()
	if err != nil {
		r.c.log.Error("record run process", "run", r.id, "err", err)
		r.pause(ctx) // do not spin while the store fails
	}
}

// buildFiles returns the folder that holds the build's files on this
// server: the build's own folder when this server sees it (it made the
// build, or shares the data folder of the replica that did), else the
// build's archive, fetched from the store and unpacked once into the
// controller's cache. A build without an archive (made by an older troupe)
// has only its own folder.
func (r *runner) buildFiles(ctx context.Context, build *troupe.Build) (string, error) {
	if build.Artifact == "" {
		return build.Dir, nil
	}
	if _, err := os.Stat(build.Dir); err == nil {
		return build.Dir, nil
	}
	dir, err := r.c.artifacts.Path(ctx, build.Artifact)
	if troupe.ErrorType(err) == troupe.ErrRecordNotFound {
		return "", &startError{err: err, msg: fmt.Sprintf(
			"the archive of build %s is missing from the store; build the actor again.", build.BuildNumber)}
	}
	if err != nil {
		return "", serverFailure("fetch the build's archive", err)
	}
	return dir, nil
}

// prepareDir makes a fresh working folder for the run whose entries link to
// the build's files (in files), so that relative paths in the start command
// work and whatever the process writes at the top level stays in the run's
// folder. An executor with private folders (troupe.PrivateDirs) makes the
// same folder inside its sandbox instead, and nothing is made here.
func (r *runner) prepareDir(build *troupe.Build, files string) (string, error) {
	entries, err := os.ReadDir(files)
	if err != nil {
		return "", buildFilesError(build, err)
	}
	dir := r.c.runDir(r.id)
	if err := os.RemoveAll(dir); err != nil {
		return "", serverFailure("prepare working folder", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", serverFailure("prepare working folder", err)
	}
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(files, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return "", serverFailure("prepare working folder", err)
		}
	}
	return dir, nil
}

// checkBuildFiles fails when the build's files (in files) are missing.
func checkBuildFiles(build *troupe.Build, files string) error {
	if _, err := os.Stat(files); err != nil {
		return buildFilesError(build, err)
	}
	return nil
}

func buildFilesError(build *troupe.Build, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &startError{err: err, msg: fmt.Sprintf(
			"the files of build %s are missing on the server; build the actor again.", build.BuildNumber)}
	}
	return serverFailure("read build folder", err)
}

// env returns the whole environment of the run's process: the base
// environment, the version's variables, and the ACTOR_*/APIFY_* variables
// of the Apify platform, each only when it has a true value.
func (r *runner) env(run *troupe.Run, actor *troupe.Actor, build *troupe.Build, dir string, port int) []string {
	cfg := r.c.cfg
	base := strings.TrimRight(cfg.PublicURL, "/")
	wsURL := strings.Replace(base, "http", "ws", 1) + "/v2/actor-runs/" + run.ID + "/events?token=" +
		url.QueryEscape(troupe.RunToken(cfg.RunTokenSecret, run))
	vars := [][2]string{
		{"HOME", dir},
		{"PWD", dir},
		{"APIFY_IS_AT_HOME", "1"},
		{"APIFY_TOKEN", troupe.RunToken(cfg.RunTokenSecret, run)},
		{"APIFY_API_BASE_URL", base},
		{"APIFY_API_PUBLIC_BASE_URL", base},
		{"APIFY_USER_ID", run.UserID},
		{"APIFY_HEADLESS", "1"},
		{"APIFY_DEDICATED_CPUS", strconv.Itoa(runtime.NumCPU())},
		{"APIFY_ACTOR_PRICING_INFO", `{"pricingModel":"FREE"}`},
		{"APIFY_CHARGED_ACTOR_EVENT_COUNTS", "{}"},
		{"APIFY_META_ORIGIN", run.Meta.Origin},
		{"ACTOR_RUN_ID", run.ID},
		{"ACTOR_ID", actor.ID},
		{"ACTOR_FULL_NAME", actor.Username + "/" + actor.Name},
		{"ACTOR_BUILD_ID", build.ID},
		{"ACTOR_BUILD_NUMBER", build.BuildNumber},
		{"ACTOR_DEFAULT_DATASET_ID", run.DefaultDatasetID},
		{"ACTOR_DEFAULT_KEY_VALUE_STORE_ID", run.DefaultKeyValueStoreID},
		{"ACTOR_DEFAULT_REQUEST_QUEUE_ID", run.DefaultRequestQueueID},
		{"ACTOR_INPUT_KEY", inputKey(run)},
		{"ACTOR_EVENTS_WEBSOCKET_URL", wsURL},
		{"ACTOR_MEMORY_MBYTES", strconv.Itoa(run.Options.MemoryMbytes)},
		{"ACTOR_PERMISSION_LEVEL", run.PermissionLevel()},
		{"ACTOR_STARTED_AT", run.StartedAt.UTC().Format(isoMillis)},
		{"ACTOR_WEB_SERVER_PORT", strconv.Itoa(port)},
		{"ACTOR_WEB_SERVER_URL", "http://127.0.0.1:" + strconv.Itoa(port)},
	}
	vars = append(vars, proxyEnv(cfg.Proxy, base)...)
	if tags := buildTags(actor, build); tags != "" {
		vars = append(vars, [2]string{"ACTOR_BUILD_TAGS", tags})
	}
	if run.Control.TimeoutAt != nil {
		vars = append(vars, [2]string{"ACTOR_TIMEOUT_AT", run.Control.TimeoutAt.UTC().Format(isoMillis)})
	}
	if run.Options.MaxItems != nil {
		vars = append(vars, [2]string{"ACTOR_MAX_PAID_DATASET_ITEMS", strconv.Itoa(*run.Options.MaxItems)})
	}
	if run.Options.RestartOnError {
		vars = append(vars, [2]string{"ACTOR_RESTART_ON_ERROR", "1"})
	}
	env := make([]string, 0, len(cfg.BaseEnv)+len(build.Env)+len(vars))
	env = append(env, cfg.BaseEnv...)
	for _, v := range build.Env {
		env = append(env, v.Name+"="+v.Value)
	}
	for _, v := range vars {
		if v[1] != "" {
			env = append(env, v[0]+"="+v[1])
		}
	}
	return env
}

// NoProxyPassword is the APIFY_PROXY_PASSWORD of runs when the operator
// configured no upstream proxy: the SDK then finds troupe itself as its
// proxy, and troupe's status endpoint tells it that no proxy is configured.
const NoProxyPassword = "troupe-no-proxy-configured"

// proxyEnv returns the APIFY_PROXY_* variables of a run. With an upstream
// proxy they name it; without one they name troupe's own address (the
// SDK's access check then reaches troupe's status endpoint, which answers
// that no proxy is configured and names the setting).
func proxyEnv(proxy *url.URL, base string) [][2]string {
	host, port, password := "", "", NoProxyPassword
	if proxy != nil {
		host, port = proxy.Hostname(), proxy.Port()
		if pw, ok := proxy.User.Password(); ok && pw != "" {
			password = pw
		} else {
			password = "none" // the SDK needs one; a proxy without authentication ignores it
		}
	} else if u, err := url.Parse(base); err == nil {
		host, port = u.Hostname(), u.Port()
		if port == "" && u.Scheme == "https" {
			port = "443"
		}
	}
	if port == "" {
		port = "80"
	}
	return [][2]string{
		{"APIFY_PROXY_HOSTNAME", host},
		{"APIFY_PROXY_PORT", port},
		{"APIFY_PROXY_PASSWORD", password},
		{"APIFY_PROXY_STATUS_URL", base + "/v2/proxy-status"},
	}
}

const isoMillis = "2006-01-02T15:04:05.000Z"

func inputKey(run *troupe.Run) string {
	if run.Control.InputKey != "" {
		return run.Control.InputKey
	}
	return "INPUT"
}

func buildTags(a *troupe.Actor, b *troupe.Build) string {
	var tags []string
	for tag, tb := range a.TaggedBuilds {
		if tb != nil && tb.BuildID == b.ID {
			tags = append(tags, tag)
		}
	}
	return strings.Join(tags, ",")
}

// freePort returns a loopback TCP port that is free now: the kernel picks
// it for a socket bound to port 0, which is then closed. The socket never
// listens and never meets Go's network poller (a net.Listen and its Close
// cost a run start 3% of the server's CPU).
func freePort() (int, error) {
	syscall.ForkLock.RLock() // no process may inherit the socket
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return 0, os.NewSyscallError("socket", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return 0, os.NewSyscallError("bind", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return 0, os.NewSyscallError("getsockname", err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok || in4.Port == 0 {
		return 0, errors.New("no port bound")
	}
	return in4.Port, nil
}
