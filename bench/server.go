package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/troupehq/troupe/client"
)

// benchToken is the admin token of the benchmark's server.
const benchToken = "troupe-bench-token"

// goBuild builds pkg (a path relative to the module root) into out. With
// env set it builds a small static program without symbols (the actors'
// programs ship in their builds).
func goBuild(ctx context.Context, moduleDir, pkg, out string, env ...string) error {
	args := []string{"build", "-o", out}
	if len(env) > 0 {
		args = append(args, "-ldflags=-s -w")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// moduleRoot finds the troupe module root from the working folder upwards.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(b), "module github.com/troupehq/troupe\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the benchmark inside the troupe module (go run ./bench), or pass --troupe-bin and --actor-bin")
		}
		dir = parent
	}
}

// server is a `troupe serve` child process on a free loopback port.
type server struct {
	bin     string
	dataDir string
	store   string
	extra   []string

	cmd  *exec.Cmd
	URL  string
	log  *os.File
	done chan struct{}
}

// start starts the server and returns once it listens.
func (s *server) start(ctx context.Context) error {
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data", s.dataDir,
		"--examples=false", "--log-level", "warn", "--grace-period", "10s"}
	if s.store != "" {
		args = append(args, "--store", s.store)
	}
	args = append(args, s.extra...)
	s.cmd = exec.Command(s.bin, args...)
	s.cmd.Env = append(os.Environ(), "TROUPE_TOKEN="+benchToken)
	// The server's log goes to a file next to its data, for a look after a
	// failure.
	logFile, err := os.OpenFile(filepath.Join(filepath.Dir(s.dataDir), "server.log"),
		os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	s.log = logFile
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if rest, ok := strings.CutPrefix(line, "troupe: listening on "); ok {
				select {
				case ready <- strings.Fields(rest)[0]:
				default:
				}
			}
		}
		_, _ = io.Copy(logFile, stderr)
		close(ready)
	}()
	s.done = make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	select {
	case u, ok := <-ready:
		if !ok {
			<-s.done
			return fmt.Errorf("troupe serve exited at start:\n%s", logTail(logFile.Name()))
		}
		s.URL = u
		return nil
	case <-time.After(60 * time.Second):
		s.kill()
		return fmt.Errorf("troupe serve did not start in 60s:\n%s", logTail(logFile.Name()))
	case <-ctx.Done():
		s.kill()
		return ctx.Err()
	}
}

// logTail returns the last lines of the server's log.
func logTail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// pid is the server's process id.
func (s *server) pid() int { return s.cmd.Process.Pid }

// stop stops the server with SIGTERM (SIGKILL after 20s).
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.kill()
	}
	if s.log != nil {
		s.log.Close()
	}
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// client returns a Go client of the server with its own connection pool of
// size conns, and no retries (a failure is a benchmark failure).
func (s *server) client(conns int) *client.Client {
	return newClient(s.URL, conns)
}

func newClient(baseURL string, conns int) *client.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns
	tr.MaxIdleConnsPerHost = conns
	tr.MaxConnsPerHost = conns
	return client.New(client.WithBaseURL(baseURL), client.WithToken(benchToken),
		client.WithHTTPClient(&http.Client{Transport: tr}), client.WithMaxRetries(0))
}

// procStatusKB reads a "Name:   N kB" field of /proc/PID/status.
func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// childProcs is a set of baseline child processes to clean up at exit.
type childProcs struct {
	mu    sync.Mutex
	procs map[*exec.Cmd]struct{}
}

func (c *childProcs) add(cmd *exec.Cmd) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.procs == nil {
		c.procs = map[*exec.Cmd]struct{}{}
	}
	c.procs[cmd] = struct{}{}
}

func (c *childProcs) remove(cmd *exec.Cmd) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.procs, cmd)
}

// killAll kills the baseline processes still registered (each by its own
// pid).
func (c *childProcs) killAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for cmd := range c.procs {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
	}
}

// cpuTimes is the CPU time a process used, and that of its reaped
// children (for the server: the run processes).
type cpuTimes struct{ self, children time.Duration }

// procCPU reads utime+stime and cutime+cstime of /proc/PID/stat.
func procCPU(pid int) (cpuTimes, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	// The command name (field 2) may hold spaces; fields after it follow
	// the last ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 15 {
		return cpuTimes{}, fmt.Errorf("short /proc/%d/stat", pid)
	}
	tick := func(i int) time.Duration {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		return time.Duration(v) * time.Second / clockTicks
	}
	// utime, stime, cutime, cstime are fields 14-17 (indexes 11-14 here).
	return cpuTimes{self: tick(11) + tick(12), children: tick(13) + tick(14)}, nil
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func (a cpuTimes) sub(b cpuTimes) cpuTimes {
	return cpuTimes{self: a.self - b.self, children: a.children - b.children}
}
