// Package bwrap starts programs inside a bubblewrap (bwrap) sandbox: their
// own PID, mount, IPC and UTS namespaces, a root file system that shows only
// the system directories (read-only) and the paths the caller lists, a
// private /tmp and /dev/shm, a fresh /proc and /dev, no capabilities and no
// new privileges. The network namespace is shared with the caller, so a
// sandboxed program reaches the internet and the caller's loopback servers.
//
// When the caller is root, bwrap runs without a user namespace and the
// program is started as [Sandbox.UID]/[Sandbox.GID] through setpriv(1),
// after prlimit(1) has set RLIMIT_NPROC to [Sandbox.MaxProcs]: the program's
// real user on the host is then that unprivileged id (bwrap's own --uid
// would need a user namespace that maps it back to root). When the caller
// is not root, bwrap makes a user namespace in which the program keeps the
// caller's id, with every capability dropped; UID, GID and MaxProcs are then
// ignored.
//
// The program's environment is exactly [Sandbox.Env]: it is handed to bwrap
// as its own environment (bwrap passes it on unchanged) rather than as
// --setenv arguments, so secrets in it never appear in a command line that
// every user of the host can read.
//
// Tested with bubblewrap 0.8.0 (Debian 12).
package bwrap

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// SystemDirs are the host directories every sandbox sees, read-only, when
// they exist. A directory that is a symbolic link on the host (/bin on a
// merged-/usr system) is recreated as the same link. They are looked at
// once, by the first Command.
var SystemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"}

// Sandbox describes the sandbox of one program. The zero value (plus Env)
// is a sandbox that sees only [SystemDirs].
type Sandbox struct {
	// Bwrap is the bwrap program; empty means "bwrap" looked up in PATH.
	Bwrap string
	// ReadOnly host paths are bound read-only at the same path.
	ReadOnly []string
	// Writable host paths are bound read-write at the same path. The
	// sandbox user must be allowed to write to them (the caller chowns).
	Writable []string
	// Hide host paths are covered with an empty tmpfs, so that nothing under
	// them shows through a system directory. ReadOnly, Writable and Work
	// paths may lie inside a hidden one: binds are made after it, parents
	// first.
	Hide []string
	// Work, when set, is an absolute path at which the sandbox gets a
	// private folder of its own: a tmpfs of at most TmpBytes that every
	// process of the sandbox may write (mode 0777; no other user can enter
	// the sandbox) and that vanishes with it. Nothing of it exists on the
	// host.
	Work string
	// WorkLinks, when set with Work, is a host folder (normally one of
	// ReadOnly) whose top-level entries each get a symbolic link in Work,
	// of the same name, made by bwrap inside the sandbox.
	WorkLinks string
	// WorkLinkNames, when not nil, are the names of WorkLinks' top-level
	// entries, as the caller knows them (a folder that never changes);
	// nil makes Command read the folder.
	WorkLinkNames []string
	// Dir is the working directory of the program; empty means "/".
	Dir string
	// Env is the whole environment of the program ("KEY=value"). bwrap
	// sets PWD to Dir: an Env without PWD, or with another one, costs the
	// sandbox a process more (env(1)) to set it right.
	Env []string
	// TmpBytes caps the size of the private /tmp, /dev/shm and Work (each);
	// 0 leaves the kernel's default (half of the memory).
	TmpBytes int64
	// UID and GID are the user and group the program runs as when the
	// caller is root. Both must be above 0.
	UID, GID int
	// MaxProcs is RLIMIT_NPROC for UID (processes and threads of that user
	// on the whole host) when the caller is root; 0 means no limit.
	MaxProcs int
	// Hold makes the sandbox wait, once made, until [Cmd.Release] before it
	// starts the program (to inspect it first).
	Hold bool
}

// lookupEnv returns the value of key in env ("KEY=value" entries; the last
// one wins, as in exec.Cmd).
func lookupEnv(env []string, key string) (string, bool) {
	val, found := "", false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			val, found = v, true
		}
	}
	return val, found
}

// systemArgs are the arguments that show SystemDirs in a sandbox, worked
// out from the host's file system once per process: the host's system
// folders do not change while troupe runs.
var systemArgs = sync.OnceValues(func() ([]string, error) {
	var a []string
	for _, d := range SystemDirs {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
			continue
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(d)
			if err != nil {
				return nil, err
			}
			a = append(a, "--symlink", target, d)
		case fi.IsDir():
			a = append(a, "--ro-bind", d, d)
		}
	}
	return a, nil
})

// underSystemDir reports whether p is inside one of SystemDirs.
func underSystemDir(p string) bool {
	for _, d := range SystemDirs {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// Info is what bwrap reports about a started sandbox.
type Info struct {
	// ChildPID is the host pid of the sandbox's first process: pid 1 of
	// its PID namespace. Every process of the sandbox dies with it.
	ChildPID int `json:"child-pid"`
	// PIDNamespace is the inode number of the sandbox's PID namespace.
	PIDNamespace uint64 `json:"pid-namespace"`
}

// Pidfd opens a pidfd on the sandbox's first process, after checking that
// ChildPID still is that process (in PIDNamespace). Sending it SIGKILL
// (unix.PidfdSendSignal) ends every process of the sandbox at once; do so
// rather than rely on killing bwrap, which a sandbox still being made may
// outlive. The caller closes the fd.
func (i Info) Pidfd() (int, error) {
	fd, err := unix.PidfdOpen(i.ChildPID, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(i.ChildPID)+"/ns/pid", &st); err != nil || st.Ino != i.PIDNamespace {
		unix.Close(fd)
		return -1, fmt.Errorf("sandbox process %d is gone", i.ChildPID)
	}
	return fd, nil
}

// ErrNotInstalled is returned by [Find] when bwrap is not installed.
var ErrNotInstalled = errors.New("bubblewrap (bwrap) is not installed: install it (Debian/Ubuntu: apt-get install bubblewrap)")

// Find returns the path of bwrap from PATH, after checking that it starts a
// sandbox on this machine (namespaces may be forbidden, e.g. inside an
// unprivileged container).
func Find() (string, error) {
	path, err := exec.LookPath("bwrap")
	if err != nil {
		return "", ErrNotInstalled
	}
	cmd, err := (&Sandbox{Bwrap: path, UID: 65534, GID: 65534}).Command([]string{"true"})
	if err != nil {
		return "", err
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("bubblewrap (%s) cannot start a sandbox here: %v: %s", path, err, strings.TrimSpace(string(out)))
	}
	return path, nil
}

// Cmd is a sandboxed program not yet started. Configure the embedded
// exec.Cmd (output, SysProcAttr) and call [Cmd.Start], not Cmd.Cmd.Start.
type Cmd struct {
	*exec.Cmd
	infoR, infoW   *os.File
	blockR, blockW *os.File // nil unless Hold
}

// Command returns the command that runs argv in the sandbox. argv[0] is
// looked up in the PATH of Env inside the sandbox unless it holds a slash.
func (s *Sandbox) Command(argv []string) (*Cmd, error) {
	blockFD := -1
	if s.Hold {
		blockFD = 4
	}
	args, err := s.args(argv, 3, blockFD)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c := &Cmd{infoR: r, infoW: w}
	if s.Hold {
		if c.blockR, c.blockW, err = os.Pipe(); err != nil {
			r.Close()
			w.Close()
			return nil, err
		}
	}
	env := s.Env
	if env == nil {
		env = []string{} // a nil Env would inherit the caller's environment
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = slices.Clone(env)
	cmd.ExtraFiles = []*os.File{w} // fd 3
	if s.Hold {
		cmd.ExtraFiles = append(cmd.ExtraFiles, c.blockR) // fd 4
	}
	c.Cmd = cmd
	return c, nil
}

// Start starts bwrap. With Hold, call Release once started.
func (c *Cmd) Start() error {
	err := c.Cmd.Start()
	c.infoW.Close()
	if c.blockR != nil {
		c.blockR.Close()
	}
	if err != nil {
		c.infoR.Close()
		c.Release()
	}
	return err
}

// Release lets a held sandbox start its program. It may be called any
// number of times, and does nothing without Hold.
func (c *Cmd) Release() {
	if c.blockW != nil {
		_, _ = c.blockW.Write([]byte{1})
		c.blockW.Close()
		c.blockW = nil
	}
}

// CombinedOutput runs the command and returns its stdout and stderr.
func (c *Cmd) CombinedOutput() ([]byte, error) {
	defer c.infoR.Close()
	defer c.infoW.Close()
	c.Release()
	return c.Cmd.CombinedOutput()
}

// Info waits for bwrap's report on the started sandbox. It fails when bwrap
// exits before making the sandbox. Call it at most once, after Start.
func (c *Cmd) Info() (Info, error) {
	defer c.infoR.Close()
	b, err := io.ReadAll(io.LimitReader(c.infoR, 64<<10))
	if err != nil {
		return Info{}, fmt.Errorf("read bwrap info: %w", err)
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil || info.ChildPID <= 0 {
		return Info{}, fmt.Errorf("bwrap reported no sandbox (%q)", b)
	}
	return info, nil
}

// Args returns the whole command line (bwrap first) that runs argv in the
// sandbox, with bwrap reporting its [Info] on infoFD (-1 for none).
func (s *Sandbox) Args(argv []string, infoFD int) ([]string, error) {
	return s.args(argv, infoFD, -1)
}

func (s *Sandbox) args(argv []string, infoFD, blockFD int) ([]string, error) {
	if len(argv) == 0 {
		return nil, errors.New("bwrap: empty command")
	}
	root := os.Geteuid() == 0
	if root && (s.UID <= 0 || s.GID <= 0) {
		return nil, errors.New("bwrap: a sandbox started by root needs a user and group other than root")
	}
	bin := s.Bwrap
	if bin == "" {
		bin = "bwrap"
	}
	a := []string{bin,
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--die-with-parent", "--new-session",
	}
	if !root {
		a = append(a, "--unshare-user", "--cap-drop", "ALL")
	}
	sys, err := systemArgs()
	if err != nil {
		return nil, err
	}
	a = append(a, sys...)
	a = append(a, "--proc", "/proc", "--dev", "/dev")
	for _, d := range []string{"/tmp", "/dev/shm"} {
		a = append(a, "--perms", "1777")
		if s.TmpBytes > 0 {
			a = append(a, "--size", strconv.FormatInt(s.TmpBytes, 10))
		}
		a = append(a, "--tmpfs", d)
	}
	type bind struct {
		path string
		op   string
	}
	var binds []bind
	for _, p := range s.Hide {
		binds = append(binds, bind{p, "--tmpfs"})
	}
	for _, p := range s.ReadOnly {
		binds = append(binds, bind{p, "--ro-bind"})
	}
	for _, p := range s.Writable {
		binds = append(binds, bind{p, "--bind"})
	}
	var links []string // --symlink arguments, made once Work is mounted
	if s.Work != "" {
		binds = append(binds, bind{s.Work, "work"})
		if s.WorkLinks != "" {
			names := s.WorkLinkNames
			if names == nil {
				entries, err := os.ReadDir(s.WorkLinks)
				if err != nil {
					return nil, err
				}
				for _, e := range entries {
					names = append(names, e.Name())
				}
			}
			for _, name := range names {
				links = append(links, "--symlink", filepath.Join(s.WorkLinks, name), filepath.Join(s.Work, name))
			}
		}
	}
	for i := range binds {
		p := binds[i].path
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("bwrap: path %q is not absolute", p)
		}
		binds[i].path = filepath.Clean(p)
	}
	// Parents before children; at one path, hide before bind.
	slices.SortStableFunc(binds, func(x, y bind) int {
		return strings.Count(x.path, "/") - strings.Count(y.path, "/")
	})
	// bwrap would create missing parents of a mount point with mode 0700,
	// out of the sandbox user's reach: make them 0755 first.
	mounts := map[string]bool{"/": true, "/proc": true, "/dev": true, "/tmp": true, "/dev/shm": true}
	for _, d := range SystemDirs {
		mounts[d] = true
	}
	for _, b := range binds {
		var parents []string
		for p := filepath.Dir(b.path); !mounts[p]; p = filepath.Dir(p) {
			if underSystemDir(p) {
				parents = nil // exists on the host, bound read-only
				break
			}
			parents = append(parents, p)
		}
		for _, p := range slices.Backward(parents) {
			a = append(a, "--perms", "0755", "--dir", p)
			mounts[p] = true
		}
		switch b.op {
		case "--tmpfs":
			a = append(a, "--perms", "0755", b.op, b.path)
		case "work":
			a = append(a, "--perms", "0777")
			if s.TmpBytes > 0 {
				a = append(a, "--size", strconv.FormatInt(s.TmpBytes, 10))
			}
			a = append(a, "--tmpfs", b.path)
		default:
			a = append(a, b.op, b.path, b.path)
		}
		mounts[b.path] = true
	}
	a = append(a, links...)
	dir := s.Dir
	if dir == "" {
		dir = "/"
	}
	a = append(a, "--chdir", dir)
	if infoFD >= 0 {
		a = append(a, "--info-fd", strconv.Itoa(infoFD))
	}
	if blockFD >= 0 {
		a = append(a, "--block-fd", strconv.Itoa(blockFD))
	}
	a = append(a, "--")
	// bwrap sets PWD to the working directory; give the program Env's.
	// Without a PWD of its own there, env is a process more to start.
	switch pwd, ok := lookupEnv(s.Env, "PWD"); {
	case !ok:
		a = append(a, "/usr/bin/env", "-u", "PWD", "--")
	case pwd != dir:
		if !root && strings.Contains(argv[0], "=") {
			return nil, fmt.Errorf("bwrap: command %q holds '=' (env would take it for a variable)", argv[0])
		}
		a = append(a, "/usr/bin/env", "--", "PWD="+pwd)
	}
	if root {
		if s.MaxProcs > 0 {
			n := strconv.Itoa(s.MaxProcs)
			a = append(a, "/usr/bin/prlimit", "--nproc="+n+":"+n, "--")
		}
		a = append(a, "/usr/bin/setpriv",
			"--reuid="+strconv.Itoa(s.UID), "--regid="+strconv.Itoa(s.GID), "--clear-groups",
			"--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--")
	}
	return append(a, argv...), nil
}
