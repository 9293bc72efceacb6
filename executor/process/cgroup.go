package process

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupMount is where the cgroup v2 (unified) hierarchy is mounted on a
// host that uses it.
const cgroupMount = "/sys/fs/cgroup"

// setupCgroupRoot prepares root (a cgroup v2 folder) to hold one child
// cgroup per process with the memory controller on. root "" means the
// server's own cgroup. It returns the prepared folder, or an error saying
// why cgroups cannot be used (the executor then enforces memory by
// sampling).
func setupCgroupRoot(root string) (string, error) {
	if _, err := os.Stat(filepath.Join(cgroupMount, "cgroup.controllers")); err != nil {
		return "", fmt.Errorf("no cgroup v2 hierarchy at %s", cgroupMount)
	}
	own := root == ""
	if own {
		rel, err := ownCgroup()
		if err != nil {
			return "", err
		}
		root = filepath.Join(cgroupMount, rel)
	}
	root = filepath.Clean(root)
	if !own {
		if err := os.MkdirAll(root, 0o755); err != nil {
			return "", fmt.Errorf("create cgroup %s: %w", root, err)
		}
	}
	if err := unix.Access(root, unix.W_OK); err != nil {
		return "", fmt.Errorf("cgroup %s is not writable: %w", root, err)
	}
	ctrl, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return "", err
	}
	if !hasWord(ctrl, "memory") {
		return "", fmt.Errorf("memory controller not available in %s", root)
	}
	if err := enableMemory(root); err != nil {
		// cgroup v2 forbids controllers in the children of a cgroup that
		// holds processes itself. When the server is alone in its own
		// cgroup (a container, or a systemd unit with Delegate=yes), move
		// it into a leaf child and try again.
		if !own || !errors.Is(err, syscall.EBUSY) {
			return "", fmt.Errorf("enable memory controller in %s: %w", root, err)
		}
		if err := moveSelfToLeaf(root); err != nil {
			return "", err
		}
		if err := enableMemory(root); err != nil {
			return "", fmt.Errorf("enable memory controller in %s: %w", root, err)
		}
	}
	return root, nil
}

// ownCgroup returns the server's cgroup v2 path from /proc/self/cgroup.
func ownCgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			return rest, nil
		}
	}
	return "", errors.New("no cgroup v2 entry in /proc/self/cgroup")
}

// enableMemory enables the memory controller for root's children, and the
// pids controller too when it can.
func enableMemory(root string) error {
	sub, err := os.ReadFile(filepath.Join(root, "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	if !hasWord(sub, "memory") {
		if err := os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
			return err
		}
	}
	if !hasWord(sub, "pids") {
		_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+pids"), 0)
	}
	return nil
}

// moveSelfToLeaf moves the server into root/troupe-server when it is the
// only process in root.
func moveSelfToLeaf(root string) error {
	procs, err := os.ReadFile(filepath.Join(root, "cgroup.procs"))
	if err != nil {
		return err
	}
	self := strconv.Itoa(os.Getpid())
	for _, p := range strings.Fields(string(procs)) {
		if p != self {
			return fmt.Errorf("cgroup %s holds other processes; give troupe a delegated cgroup", root)
		}
	}
	leaf := filepath.Join(root, "troupe-server")
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(self), 0)
}

func hasWord(b []byte, w string) bool {
	for _, f := range bytes.Fields(b) {
		if string(f) == w {
			return true
		}
	}
	return false
}

// cgroup is the child cgroup of one process.
type cgroup struct {
	dir string
	fd  *os.File // open folder, for SysProcAttr.CgroupFD
}

// newCgroup creates dir with memory.max set to limit bytes (0: no limit),
// no swap, the OOM killer set to kill the whole cgroup at once, and
// pids.max set to maxProcs where the pids controller is on (0: no limit).
func newCgroup(dir string, limit int64, maxProcs int) (*cgroup, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	cg := &cgroup{dir: dir}
	fail := func(err error) (*cgroup, error) {
		cg.remove(0)
		return nil, err
	}
	if limit > 0 {
		if err := cg.write("memory.max", strconv.FormatInt(limit, 10)); err != nil {
			return fail(err)
		}
		// Without this the kernel swaps instead of enforcing the limit.
		// The file is missing when swap accounting is off; that is fine.
		_ = cg.write("memory.swap.max", "0")
	}
	_ = cg.write("memory.oom.group", "1")
	if maxProcs > 0 {
		// Missing unless the pids controller is enabled for the root's
		// children; RLIMIT_NPROC still bounds sandboxed processes.
		_ = cg.write("pids.max", strconv.Itoa(maxProcs))
	}
	f, err := os.Open(dir)
	if err != nil {
		return fail(err)
	}
	cg.fd = f
	return cg, nil
}

func (cg *cgroup) write(name, value string) error {
	return os.WriteFile(filepath.Join(cg.dir, name), []byte(value), 0)
}

// kill kills every process in the cgroup (cgroup.kill, Linux 5.14+), also
// those that left the process group.
func (cg *cgroup) kill() {
	_ = cg.write("cgroup.kill", "1")
}

// usage returns the memory in use and the CPU time used so far.
func (cg *cgroup) usage() (mem int64, cpu time.Duration, err error) {
	b, err := os.ReadFile(filepath.Join(cg.dir, "memory.current"))
	if err != nil {
		return 0, 0, err
	}
	mem, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, 0, err
	}
	usec := cg.keyed("cpu.stat", "usage_usec")
	return mem, time.Duration(usec) * time.Microsecond, nil
}

// peak returns memory.peak (Linux 5.19+), or 0.
func (cg *cgroup) peak() int64 {
	b, err := os.ReadFile(filepath.Join(cg.dir, "memory.peak"))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// oomKilled reports whether the kernel's OOM killer acted in the cgroup.
func (cg *cgroup) oomKilled() bool {
	return cg.keyed("memory.events", "oom_kill") > 0 || cg.keyed("memory.events", "oom_group_kill") > 0
}

// keyed reads the value of key from a flat-keyed cgroup file, 0 if absent.
func (cg *cgroup) keyed(file, key string) int64 {
	f, err := os.Open(filepath.Join(cg.dir, file))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// remove closes the folder and removes the cgroup, retrying for up to wait
// while its last processes die.
func (cg *cgroup) remove(wait time.Duration) error {
	if cg.fd != nil {
		cg.fd.Close()
		cg.fd = nil
	}
	deadline := time.Now().Add(wait)
	for {
		err := os.Remove(cg.dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		cg.kill()
		time.Sleep(20 * time.Millisecond)
	}
}
