package process

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/troupehq/troupe/internal/bwrap"
	"golang.org/x/sys/unix"
)

// Sandbox configures the bubblewrap sandbox every process of an [Executor]
// runs in (see the package documentation).
type Sandbox struct {
	// Bwrap is the bwrap program, as found by bwrap.Find.
	Bwrap string
	// Hide lists host paths no process may see, such as the server's data
	// folder. A process still sees its own Dir and BuildDir inside them.
	Hide []string
	// UIDBase is the first of the user (and group) ids given to processes
	// when the server runs as root, one per live process. Default
	// DefaultUIDBase.
	UIDBase int
	// UIDs is how many ids there are from UIDBase. Default DefaultUIDs.
	UIDs int
	// MaxProcs bounds the processes and threads of one process's sandbox
	// (RLIMIT_NPROC of its user, and pids.max with cgroups). Default
	// DefaultMaxProcs.
	MaxProcs int
}

const (
	// DefaultUIDBase is above the ranges that /etc/subuid usually hands
	// out for rootless containers and below 2^31.
	DefaultUIDBase = 1_500_000_000
	// DefaultUIDs is more ids than a machine runs processes at once.
	DefaultUIDs = 100_000
	// DefaultMaxProcs leaves a browser-based crawler room (Chromium uses a
	// few hundred threads) while a fork bomb stops well before the
	// machine's pid space (32768 by default) runs out.
	DefaultMaxProcs = 2048
)

// NoSandboxWarning is the first line of the output of every process of an
// executor with Options.WarnNoSandbox.
const NoSandboxWarning = "WARNING: this run is NOT sandboxed (troupe serve --sandbox none): it runs as the server's user and can read the server's files, environment and secrets."

// allocUID returns a free user id for a sandboxed process, or an error
// when all are taken.
func (e *Executor) allocUID() (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.sandbox.UIDs
	for i := range n {
		uid := e.sandbox.UIDBase + (e.uidNext+i)%n
		if !e.uidUsed[uid] {
			e.uidUsed[uid] = true
			e.uidNext = (e.uidNext + i + 1) % n
			return uid, nil
		}
	}
	return 0, fmt.Errorf("all %d sandbox user ids are in use", n)
}

func (e *Executor) releaseUID(uid int) {
	e.mu.Lock()
	delete(e.uidUsed, uid)
	e.mu.Unlock()
}

// sandboxCommand returns bwrap's command that runs path (the resolved
// argv[0]) with spec's arguments.
func (e *Executor) sandboxCommand(path string, spec *sandboxSpec) (*bwrap.Cmd, error) {
	sb := &bwrap.Sandbox{
		Bwrap:    e.sandbox.Bwrap,
		Hide:     e.sandbox.Hide,
		Dir:      spec.dir,
		Env:      spec.env,
		TmpBytes: spec.limit,
		UID:      spec.uid,
		GID:      spec.uid,
		MaxProcs: e.sandbox.MaxProcs,
		Hold:     true, // until the first sample
	}
	switch {
	case spec.private:
		sb.Work, sb.WorkLinks = spec.dir, spec.buildDir
		sb.WorkLinkNames = e.buildEntries(spec.buildDir)
	case spec.dir != "":
		sb.Writable = []string{spec.dir}
	}
	if spec.buildDir != "" {
		sb.ReadOnly = []string{spec.buildDir}
	}
	return sb.Command(append([]string{path}, spec.args...))
}

// maxBuildNames bounds the build folders whose names buildEntries keeps.
const maxBuildNames = 1024

// buildEntries returns the names of the top-level entries of the build
// folder dir, read once: a build's files do not change after the build. It
// returns nil when the folder cannot be read (bwrap then reads it itself
// and reports why).
func (e *Executor) buildEntries(dir string) []string {
	e.buildMu.Lock()
	names, ok := e.buildNames[dir]
	e.buildMu.Unlock()
	if ok {
		return names
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names = make([]string, len(entries))
	for i, d := range entries {
		names[i] = d.Name()
	}
	e.buildMu.Lock()
	if e.buildNames == nil || len(e.buildNames) >= maxBuildNames {
		e.buildNames = map[string][]string{}
	}
	e.buildNames[dir] = names
	e.buildMu.Unlock()
	return names
}

type sandboxSpec struct {
	dir, buildDir string
	private       bool // dir is made by bwrap (ExecSpec.PrivateDir)
	env, args     []string
	limit         int64
	uid           int
}

// openRoot opens the root folder of the sandbox whose first process is
// childPID in PID namespace ns, once bwrap has made it (errNotReady
// before). The descriptor pins that sandbox's file system: reads through
// it never reach another process's, even once the pid is reused, and find
// no process once the sandbox is gone.
func openRoot(childPID int, ns uint64) (int, error) {
	if !sandboxReady(childPID, ns) {
		return -1, errNotReady
	}
	fd, err := unix.Open("/proc/"+strconv.Itoa(childPID)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	// The pid may have gone to another process since the check: the root
	// must show the sandbox's own /proc.
	var st unix.Stat_t
	if err := unix.Fstatat(fd, "proc/1/ns/pid", &st, 0); err != nil || st.Ino != ns {
		unix.Close(fd)
		return -1, errNoProcess
	}
	return fd, nil
}

// sandboxUsage sums the memory (from stat, which the kernel keeps only
// approximately) and CPU of every process of the sandbox whose root is
// root (from openRoot), read through the sandbox's own /proc (which also
// lists processes of namespaces nested in it), and adds what its private
// /tmp, /dev/shm and working folder work (when not "") hold, since tmpfs
// pages are memory too.
func sandboxUsage(root int, work string) (u groupUsage, err error) {
	pfd, err := unix.Openat(root, "proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return u, err
	}
	d := os.NewFile(uintptr(pfd), "proc")
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return u, err
	}
	var buf [4096]byte
	for _, name := range names {
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		n, err := readAt(pfd, name+"/stat", buf[:])
		if err != nil {
			continue
		}
		st, err := parseProcStat(buf[:n])
		if err != nil {
			continue
		}
		u.procs++
		u.cpu += st.cpu
		u.rss += st.rssBytes
	}
	for _, tmp := range []string{"tmp", "dev/shm", strings.TrimPrefix(work, "/")} {
		if tmp == "" {
			continue
		}
		fd, err := unix.Openat(root, tmp, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		var fs unix.Statfs_t
		if unix.Fstatfs(fd, &fs) == nil {
			u.rss += int64(fs.Blocks-fs.Bfree) * fs.Bsize
		}
		unix.Close(fd)
	}
	return u, nil
}

// readAt reads the file name (relative to dir) into buf, which must hold it
// whole, and returns its length.
func readAt(dir int, name string, buf []byte) (int, error) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, buf)
	if err == nil && n == len(buf) {
		err = errors.New("file larger than the buffer")
	}
	return n, err
}

// killNSLocked kills every process of the sandbox through its first
// process, if bwrap has reported it.
func (p *Process) killNSLocked() {
	if p.nsPidfd >= 0 {
		_ = unix.PidfdSendSignal(p.nsPidfd, unix.SIGKILL, nil, 0)
	}
}

// errNotReady means the sandbox is still being made.
var errNotReady = errors.New("sandbox not ready")

// sandboxReady reports whether the sandbox whose first process is
// childPID, in PID namespace ns, is made: its root then shows its own
// /proc, where pid 1 is that first process. Before that, its root is the
// host's, and then a bare tmpfs on which bwrap builds the sandbox's.
func sandboxReady(childPID int, ns uint64) bool {
	var st syscall.Stat_t
	if syscall.Stat("/proc/"+strconv.Itoa(childPID)+"/root/proc/1/ns/pid", &st) != nil {
		return false
	}
	return st.Ino == ns
}

// firstUsage returns the memory and CPU of a held sandbox: its first
// process, read through the host's /proc, from stat as the sampler reads
// every process.
func firstUsage(info bwrap.Info) (u groupUsage, err error) {
	if err := checkNS(info.ChildPID, info.PIDNamespace); err != nil {
		return u, err
	}
	st, err := readProcStat(info.ChildPID)
	if err != nil {
		return u, err
	}
	u.procs, u.cpu, u.rss = 1, st.cpu, st.rssBytes
	// The first process may have died and its pid gone to another
	// process while we read.
	return u, checkNS(info.ChildPID, info.PIDNamespace)
}

// checkNS fails unless pid is in PID namespace ns.
func checkNS(pid int, ns uint64) error {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/"+strconv.Itoa(pid)+"/ns/pid", &st); err != nil {
		return err
	}
	if st.Ino != ns {
		return errNoProcess
	}
	return nil
}

// watchSandbox records bwrap's report on the sandbox of p, takes a first
// sample, and lets the sandbox start the program.
func (p *Process) watchSandbox(c *bwrap.Cmd) {
	defer c.Release()
	info, err := c.Info()
	if err != nil {
		p.mu.Lock()
		exited := p.leaderExited
		p.mu.Unlock()
		if !exited {
			p.e.log.Warn("process executor: no sandbox info", "run", p.runID, "pid", p.pid, "err", err)
		}
		return
	}
	fd, err := info.Pidfd()
	if err != nil {
		return // the sandbox is gone already
	}
	p.mu.Lock()
	if p.finished {
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		unix.Close(fd)
		p.mu.Unlock()
		return
	}
	p.sandbox, p.nsPidfd = info, fd
	if p.killed {
		// Killed while bwrap was making the sandbox: bwrap may have died
		// before its first process left the process group.
		p.killNSLocked()
	}
	p.mu.Unlock()
	// A first sample before the program starts, so that even a run
	// shorter than the sampling interval has figures of its own. Until
	// Release, the sandbox is its first process alone (bwrap forks the
	// program from it only then), so the host's /proc shows all of it;
	// its folders are still empty.
	if u, err := firstUsage(info); err == nil {
		p.record(time.Now(), u.rss, u.cpu)
	}
	p.e.kickSampler()
}
