package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
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
	case spec.dir != "":
		sb.Writable = []string{spec.dir}
	}
	if spec.buildDir != "" {
		sb.ReadOnly = []string{spec.buildDir}
	}
	return sb.Command(append([]string{path}, spec.args...))
}

type sandboxSpec struct {
	dir, buildDir string
	private       bool // dir is made by bwrap (ExecSpec.PrivateDir)
	env, args     []string
	limit         int64
	uid           int
}

// nsUsage sums the memory and CPU of every process of the sandbox whose
// first process is childPID in PID namespace ns, read through the
// sandbox's own /proc (which also lists processes of namespaces nested in
// it), and adds what its private /tmp, /dev/shm and working folder work
// (when not "") hold, since tmpfs pages are memory too.
//
// With exact, memory comes from smaps_rollup, which walks page tables,
// rather than from stat, whose figure the kernel keeps only approximately
// (it can read 0 for a small process).
func nsUsage(childPID int, ns uint64, exact bool, work string) (u groupUsage, err error) {
	root := "/proc/" + strconv.Itoa(childPID) + "/root"
	if err := checkNS(childPID, ns); err != nil {
		return u, err
	}
	if !sandboxReady(childPID, ns) {
		return u, errNotReady
	}
	d, err := os.Open(root + "/proc")
	if err != nil {
		return u, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return u, err
	}
	for _, name := range names {
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		b, err := os.ReadFile(root + "/proc/" + name + "/stat")
		if err != nil {
			continue
		}
		st, err := parseProcStat(b)
		if err != nil {
			continue
		}
		u.procs++
		u.cpu += st.cpu
		if !exact {
			u.rss += st.rssBytes
		} else if b, err := os.ReadFile(root + "/proc/" + name + "/smaps_rollup"); err == nil {
			u.rss += rollupRSS(b)
		}
	}
	for _, tmp := range []string{"/tmp", "/dev/shm", work} {
		if tmp == "" {
			continue
		}
		var fs syscall.Statfs_t
		if syscall.Statfs(root+tmp, &fs) == nil {
			u.rss += int64(fs.Blocks-fs.Bfree) * fs.Bsize
		}
	}
	// The first process may have died and its pid gone to another
	// process while we read.
	return u, checkNS(childPID, ns)
}

// rollupRSS returns the Rss line of a smaps_rollup file in bytes.
func rollupRSS(b []byte) int64 {
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("Rss:")); ok {
			f := bytes.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return kb << 10
			}
		}
	}
	return 0
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

// firstUsage returns the memory (exactly, from smaps_rollup) and CPU of
// a held sandbox: its first process, read through the host's /proc.
func firstUsage(info bwrap.Info) (u groupUsage, err error) {
	if err := checkNS(info.ChildPID, info.PIDNamespace); err != nil {
		return u, err
	}
	st, err := readProcStat(info.ChildPID)
	if err != nil {
		return u, err
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(info.ChildPID) + "/smaps_rollup")
	if err != nil {
		return u, err
	}
	u.procs, u.cpu, u.rss = 1, st.cpu, rollupRSS(b)
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
