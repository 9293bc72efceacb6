// Package process implements [troupe.Executor] with local child processes.
//
// Each run process starts in its own process group (Setpgid), in the build's
// folder, with exactly the environment of its [troupe.ExecSpec] (nothing is
// inherited from the server), stdin on /dev/null, and SIGKILL as its
// parent-death signal so that it dies with the server. Its stdout and stderr
// are read line by line and handed to ExecSpec.Output one line at a time.
// Killing a process kills its whole group at once; when the main process
// exits on its own, whatever is left of its group is killed too, so a
// forgotten background child can neither outlive the run nor hold its output
// open.
//
// # Sandbox
//
// With Options.Sandbox (what `troupe serve` uses unless told --sandbox
// none) every process starts inside bubblewrap (package internal/bwrap):
// its own PID namespace, so that the whole process tree dies with it and
// neither setsid nor setpgid escapes; its own mount namespace showing the
// system directories read-only, ExecSpec.BuildDir read-only, ExecSpec.Dir
// writable, a private /tmp and /dev/shm (each capped at the memory limit)
// and nothing of Sandbox.Hide; a fresh /proc, so the server's processes and
// their environments are invisible; no capabilities and no new privileges.
// With ExecSpec.PrivateDir, ExecSpec.Dir is not taken from the host: bwrap
// makes it in the sandbox as a tmpfs (capped at the memory limit, counted
// as memory) holding a link to each top-level entry of ExecSpec.BuildDir,
// so the server makes and removes nothing for it.
// When the server runs as root each live process gets its own user id
// (Sandbox.UIDBase onwards), which owns a host ExecSpec.Dir, and RLIMIT_NPROC of
// Sandbox.MaxProcs (default 2048) bounds its processes and threads. The
// network is the server's, so runs reach the internet and troupe's API on
// loopback. Process.PID is then bwrap's pid.
//
// Without a sandbox, Options.WarnNoSandbox puts [NoSandboxWarning] first in
// every process's output.
//
// # Memory limit
//
// ExecSpec.MemoryMbytes is enforced in one of two ways, chosen once by [New]
// (see [Executor.MemoryEnforcement]):
//
//   - cgroup v2, when /sys/fs/cgroup/cgroup.controllers exists and the
//     server's cgroup (or Options.CgroupRoot) is writable with the memory
//     controller available. Each process is started directly inside its own
//     child cgroup (clone3 with CLONE_INTO_CGROUP, via
//     SysProcAttr.UseCgroupFD) with memory.max set to the limit,
//     memory.swap.max 0 and memory.oom.group 1. The kernel enforces the limit
//     exactly; when its OOM killer fires, the exit reports OutOfMemory. When
//     the server shares its cgroup only with itself (a container, a systemd
//     unit with Delegate=yes) it moves itself into a "troupe-server" leaf
//     first, as cgroup v2 requires.
//   - sampling, everywhere else (cgroup v1 hosts, no delegation): every
//     SampleInterval (at most 1 s) the executor sums the resident set size of
//     every process of the sandbox's PID namespace (read through the
//     sandbox's own /proc, which also lists namespaces nested in it, from a
//     descriptor of the sandbox's root opened once) plus
//     what its /tmp, /dev/shm and private working folder hold, or without a
//     sandbox of every process in the group (from /proc/<pid>/stat), and
//     SIGKILLs them all when the sum exceeds the limit, reporting
//     OutOfMemory. A process can overshoot the limit between two samples,
//     and the RSS of memory shared between processes is counted once per
//     process.
//
// RLIMIT_AS is deliberately not used: it limits virtual address space, and
// runtimes such as Node.js reserve far more of it than they ever touch, so
// they would fail at start.
//
// # Statistics
//
// Stats are sampled every SampleInterval, and once about 100 ms after start
// so that short runs have figures. With cgroups they come from the cgroup
// (memory.current, cpu.stat); otherwise memory is the summed RSS of the
// group and CPU is the summed utime+stime (plus reaped children) of the
// group's processes. In a sandbox, a first sample is taken before the
// program starts (bwrap holds it until then), so that short runs have
// figures. When the process exits, its
// rusage's CPU time (and memory.peak) fill in a final sample; its
// ru_maxrss is not used, as it starts at the server's own peak.
package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/bwrap"
)

var _ troupe.Executor = (*Executor)(nil)

// Options configure an [Executor]. The zero value is usable.
type Options struct {
	Logger *slog.Logger
	// SampleInterval is how often resource use is sampled and, without
	// cgroups, the memory limit checked. Default 1 s; longer values are
	// capped at 1 s.
	SampleInterval time.Duration
	// WaitDelay bounds how long Done waits for stdout and stderr to reach
	// EOF after the main process exited and its group was killed (a process
	// that left the group may still hold them open). Default 2 s.
	WaitDelay time.Duration
	// CgroupRoot is a cgroup v2 folder in which the executor creates one
	// child cgroup per process. Empty means the server's own cgroup.
	CgroupRoot string
	// NoCgroup turns cgroups off: memory is then enforced by sampling.
	NoCgroup bool
	// Sandbox, when set, starts every process in a bubblewrap sandbox.
	Sandbox *Sandbox
	// WarnNoSandbox, without Sandbox, makes NoSandboxWarning the first
	// line of every process's output.
	WarnNoSandbox bool
}

// Executor starts local processes. It is safe for concurrent use.
type Executor struct {
	log        *slog.Logger
	interval   time.Duration
	waitDelay  time.Duration
	cgroupRoot string // "" when memory is enforced by sampling
	seq        atomic.Uint64
	sandbox    *Sandbox // nil: no sandbox
	warn       bool

	uidNext int
	uidUsed map[int]bool

	// buildNames caches the top-level names of build folders, which never
	// change once built (see buildEntries).
	buildMu    sync.Mutex
	buildNames map[string][]string

	mu       sync.Mutex
	live     map[*Process]struct{}
	roots    map[*Process]int // sampler goroutine only: the open root of each sandbox (openRoot)
	sampling bool             // the sampler goroutine runs
	kick     chan struct{}    // asks the sampler for an early sample
}

// firstSampleDelay is when a new process gets its first sample.
const firstSampleDelay = 100 * time.Millisecond

// New returns an executor. It decides once whether memory limits are
// enforced with cgroup v2 or by sampling, and logs the choice.
func New(opts Options) *Executor {
	e := &Executor{
		log:       opts.Logger,
		interval:  opts.SampleInterval,
		waitDelay: opts.WaitDelay,
		live:      make(map[*Process]struct{}),
		roots:     make(map[*Process]int),
		kick:      make(chan struct{}, 1),
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.interval <= 0 || e.interval > time.Second {
		e.interval = time.Second
	}
	if e.waitDelay <= 0 {
		e.waitDelay = 2 * time.Second
	}
	if opts.Sandbox != nil {
		sb := *opts.Sandbox
		if sb.UIDBase <= 0 {
			sb.UIDBase = DefaultUIDBase
		}
		if sb.UIDs <= 0 {
			sb.UIDs = DefaultUIDs
		}
		if sb.MaxProcs <= 0 {
			sb.MaxProcs = DefaultMaxProcs
		}
		e.sandbox = &sb
		e.uidUsed = make(map[int]bool)
	}
	e.warn = opts.WarnNoSandbox && e.sandbox == nil
	if !opts.NoCgroup {
		root, err := setupCgroupRoot(opts.CgroupRoot)
		if err != nil {
			e.log.Info("process executor: memory limits enforced by sampling", "reason", err.Error())
		} else {
			e.cgroupRoot = root
			e.log.Info("process executor: memory limits enforced by cgroup v2", "cgroup", root)
			e.removeStaleCgroups()
		}
	}
	return e
}

// maxProcs is the pids limit of one process's sandbox, 0 for none.
func (e *Executor) maxProcs() int {
	if e.sandbox == nil {
		return 0
	}
	return e.sandbox.MaxProcs
}

// MemoryEnforcement names how memory limits are enforced: "cgroup-v2" or
// "sampling".
func (e *Executor) MemoryEnforcement() string {
	if e.cgroupRoot != "" {
		return "cgroup-v2"
	}
	return "sampling"
}

// Start starts spec.Command. Command[0] is looked up in the PATH of
// spec.Env, or in the server's PATH when spec.Env has none; a name with a
// slash is used as is (relative to spec.Dir). The process keeps running when
// ctx ends.
func (e *Executor) Start(ctx context.Context, spec *troupe.ExecSpec) (troupe.Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if spec == nil || len(spec.Command) == 0 {
		return nil, errors.New("start process: empty command")
	}
	if spec.PrivateDir && e.sandbox == nil {
		return nil, errors.New("start process: a private working folder needs the sandbox")
	}
	files := ""
	if spec.PrivateDir {
		files = spec.BuildDir
	}
	path, err := lookPath(spec.Command[0], spec.Env, spec.Dir, files)
	if err != nil {
		return nil, fmt.Errorf("start process: %w", err)
	}
	limit := int64(spec.MemoryMbytes) << 20

	var cg *cgroup
	if e.cgroupRoot != "" {
		name := fmt.Sprintf("%s%d-%d-%s-%d", cgroupPrefix, os.Getpid(), e.seq.Add(1), safeName(spec.RunID), spec.Generation)
		cg, err = newCgroup(filepath.Join(e.cgroupRoot, name), limit, e.maxProcs())
		if err != nil {
			e.log.Warn("process executor: no cgroup for process, sampling instead", "run", spec.RunID, "err", err)
			cg = nil
		}
	}
	p, err := e.spawn(path, spec, cg)
	var pathErr *fs.PathError
	if err != nil && cg != nil && !errors.As(err, &pathErr) {
		// clone3 into a cgroup can fail on old kernels; run without it.
		e.log.Warn("process executor: start in cgroup failed, sampling instead", "run", spec.RunID, "err", err)
		_ = cg.remove(0)
		cg = nil
		p, err = e.spawn(path, spec, nil)
	}
	if err != nil {
		if cg != nil {
			_ = cg.remove(0)
		}
		return nil, fmt.Errorf("start process: %w", err)
	}
	e.register(p)
	go p.wait()
	return p, nil
}

// spawn starts the process with its output pipes and reader goroutines.
func (e *Executor) spawn(path string, spec *troupe.ExecSpec, cg *cgroup) (*Process, error) {
	env := slices.Clone(spec.Env)
	if env == nil {
		env = []string{} // a nil Env would inherit the server's environment
	}
	var (
		cmd *exec.Cmd
		bc  *bwrap.Cmd
		uid int
	)
	if e.sandbox != nil {
		if os.Geteuid() == 0 {
			var err error
			if uid, err = e.allocUID(); err != nil {
				return nil, err
			}
			if spec.Dir != "" && !spec.PrivateDir {
				if err := os.Chown(spec.Dir, uid, uid); err != nil {
					e.releaseUID(uid)
					return nil, err
				}
			}
		}
		var err error
		bc, err = e.sandboxCommand(path, &sandboxSpec{
			dir: spec.Dir, buildDir: spec.BuildDir, private: spec.PrivateDir, env: env, args: spec.Command[1:],
			limit: int64(spec.MemoryMbytes) << 20, uid: uid,
		})
		if err != nil {
			e.releaseUID(uid)
			return nil, err
		}
		cmd = bc.Cmd
	} else {
		cmd = &exec.Cmd{Path: path, Args: slices.Clone(spec.Command), Dir: spec.Dir, Env: env}
	}
	release := func() {
		if uid > 0 {
			e.releaseUID(uid)
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		release()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		release()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW // stdin nil: /dev/null
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// Sent when the OS thread that started the child exits. Go keeps
		// its threads for the life of the process, so in practice this is
		// the death of the server.
		Pdeathsig: syscall.SIGKILL,
	}
	if cg != nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(cg.fd.Fd())
	}
	if bc != nil {
		err = bc.Start()
	} else {
		err = cmd.Start()
	}
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		release()
		return nil, err
	}
	pid := cmd.Process.Pid
	// The child cannot be reaped before wait runs, so its stat is there.
	st, err := readProcStat(pid)
	if err != nil {
		e.log.Warn("process executor: read start time", "pid", pid, "err", err)
	}
	p := &Process{
		e:         e,
		runID:     spec.RunID,
		cmd:       cmd,
		pid:       pid,
		startTime: st.startTime,
		started:   time.Now(),
		cg:        cg,
		outR:      outR,
		errR:      errR,
		output:    spec.Output,
		done:      make(chan struct{}),
		drained:   make(chan struct{}),
		uid:       uid,
		sandboxed: bc != nil,
		work:      workDir(spec),
		nsPidfd:   -1,
		limit:     int64(spec.MemoryMbytes) << 20,
	}
	p.lastAt = p.started
	if e.warn {
		p.emit([]byte(NoSandboxWarning))
	}
	if bc != nil {
		go p.watchSandbox(bc)
	}
	// The last reader to reach EOF closes drained.
	readers := new(atomic.Int32)
	readers.Store(2)
	for _, f := range []*os.File{outR, errR} {
		go func() {
			readLines(f, MaxLineBytes, p.emit)
			if readers.Add(-1) == 0 {
				close(p.drained)
			}
		}()
	}
	return p, nil
}

// KillOrphan kills the process group of pid when pid is still the process
// that started at startTime (field 22 of /proc/<pid>/stat). When the leader
// itself is gone (a server crash kills it through its parent-death signal)
// but members of its group that started after it are alive, the group is
// killed too: Linux does not hand out a pid while a process group with that
// id exists, so such members belong to the orphaned run. With cgroups, the
// orphan's cgroup is killed and removed as well. A process that no longer
// exists is not an error.
func (e *Executor) KillOrphan(pid int, startTime uint64) error {
	if pid <= 1 {
		return nil // never signal group 0 (ours) or -1 (everyone)
	}
	var members []int
	st, err := readProcStat(pid)
	switch {
	case err == nil:
		if st.startTime != startTime {
			return nil
		}
		members = []int{pid}
	case errors.Is(err, errNoProcess):
		members = groupMembers(pid, startTime)
		if len(members) == 0 {
			return nil
		}
	default:
		return fmt.Errorf("kill orphan %d: %w", pid, err)
	}
	cg := e.cgroupOf(members[0])
	err = syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) && len(members) == 1 && members[0] == pid {
		// Not a group leader after all: kill the process alone.
		err = syscall.Kill(pid, syscall.SIGKILL)
	}
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill orphan %d: %w", pid, err)
	}
	if cg != nil {
		cg.kill()
		if err := cg.remove(time.Second); err != nil {
			e.log.Warn("process executor: remove orphan cgroup", "cgroup", cg.dir, "err", err)
		}
	}
	return nil
}

// cgroupOf returns the per-process cgroup of this executor's root that pid
// is in, or nil.
func (e *Executor) cgroupOf(pid int) *cgroup {
	if e.cgroupRoot == "" {
		return nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		rel, ok := strings.CutPrefix(line, "0::")
		if !ok {
			continue
		}
		dir := filepath.Join(cgroupMount, rel)
		if filepath.Dir(dir) == e.cgroupRoot && strings.HasPrefix(filepath.Base(dir), cgroupPrefix) {
			return &cgroup{dir: dir}
		}
	}
	return nil
}

// cgroupPrefix starts the name of every per-process cgroup; the server's pid
// follows, so that servers sharing a root can tell theirs apart.
const cgroupPrefix = "troupe-run-"

// removeStaleCgroups removes the empty per-process cgroups that earlier
// servers left behind. Populated ones cannot be removed and stay.
func (e *Executor) removeStaleCgroups() {
	entries, err := os.ReadDir(e.cgroupRoot)
	if err != nil {
		return
	}
	mine := fmt.Sprintf("%s%d-", cgroupPrefix, os.Getpid())
	for _, de := range entries {
		name := de.Name()
		if de.IsDir() && strings.HasPrefix(name, cgroupPrefix) && !strings.HasPrefix(name, mine) {
			_ = os.Remove(filepath.Join(e.cgroupRoot, name))
		}
	}
}

// PrivateDirs reports whether ExecSpec.PrivateDir may be set: only in a
// sandbox, where bwrap makes the folder (see the package documentation).
func (e *Executor) PrivateDirs() bool { return e.sandbox != nil }

// workDir is the private working folder of spec's process, "" for none.
func workDir(spec *troupe.ExecSpec) string {
	if spec.PrivateDir {
		return spec.Dir
	}
	return ""
}

// lookPath finds name in the PATH of env (or the server's PATH); relative
// PATH entries are taken from dir. When files is set, dir does not exist on
// the server (a private working folder) and whatever lies inside it is
// looked for in files, where its entries link.
func lookPath(name string, env []string, dir, files string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathList, found := "", false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathList, found = v, true
		}
	}
	if !found {
		pathList = os.Getenv("PATH")
	}
	for _, d := range filepath.SplitList(pathList) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, name)
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		host := p
		if files != "" {
			if rel, err := filepath.Rel(dir, p); err == nil && filepath.IsLocal(rel) {
				host = filepath.Join(files, rel)
			}
		}
		if fi, err := os.Stat(host); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: %w", name, exec.ErrNotFound)
}

// safeName keeps letters, digits, '-' and '_' of s for a cgroup name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}
