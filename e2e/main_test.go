// Package e2e_test drives a real `troupe serve` process, on a free loopback
// port, with the Go client: real SQLite, real child processes, real
// websockets.
package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/troupehq/troupe/client"
	"github.com/troupehq/troupe/examples"
	"github.com/troupehq/troupe/pgtest"
)

const testToken = "e2e-token"

var (
	binPath string
	shared  *server
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "troupe-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	defer pgtest.StopShared()
	binPath = filepath.Join(dir, "troupe")
	build := exec.Command("go", append(append([]string{"build"}, raceFlags...), "-o", binPath, "../cmd/troupe")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build troupe:", err)
		return 1
	}
	shared, err = launch(filepath.Join(dir, "shared-data"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer shared.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := shared.waitExamples(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err, "\n", shared.output())
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, "server output:\n"+shared.output())
	}
	return code
}

// server is a running `troupe serve` process.
type server struct {
	URL     string
	DataDir string
	c       *client.Client
	cmd     *exec.Cmd

	mu  sync.Mutex
	out strings.Builder
}

// launch starts `troupe serve` on a free loopback port with dataDir and
// returns once it listens.
func launch(dataDir string, args ...string) (*server, error) {
	return launchAs(testToken, dataDir, args...)
}

// launchAs is launch with token as the admin token.
func launchAs(token, dataDir string, args ...string) (*server, error) {
	s := &server{DataDir: dataDir}
	s.cmd = exec.Command(binPath, append([]string{"serve", "--listen", "127.0.0.1:0", "--data", dataDir,
		"--grace-period", "3s", "--timeout-grace", "1s", "--migration-grace", "1s", "--log-level", "warn"}, args...)...)
	s.cmd.Env = append(os.Environ(), "TROUPE_TOKEN="+token)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.out.WriteString(line + "\n")
			s.mu.Unlock()
			if rest, ok := strings.CutPrefix(line, "troupe: listening on "); ok {
				ready <- strings.Fields(rest)[0]
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		close(ready)
	}()
	select {
	case u, ok := <-ready:
		if !ok {
			_ = s.cmd.Wait()
			return nil, fmt.Errorf("troupe serve exited:\n%s", s.output())
		}
		s.URL = u
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		return nil, fmt.Errorf("troupe serve did not start:\n%s", s.output())
	}
	s.c = client.New(client.WithBaseURL(s.URL), client.WithToken(token), client.WithMaxRetries(2),
		client.WithMinRetryDelay(50*time.Millisecond))
	return s, nil
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// stop stops the server with SIGTERM.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// crash kills the server with SIGKILL.
func (s *server) crash() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// waitExamples waits until every example actor's first build finished.
func (s *server) waitExamples(ctx context.Context) error {
	for _, name := range examples.Names {
		var builds *client.BuildList
		for {
			var err error
			builds, err = s.c.Actor("~"+name).Builds().List(ctx, nil)
			if err == nil && builds.Count > 0 {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("example %s has no build: %v", name, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		b, err := s.c.Build(builds.Items[0].ID).WaitForFinish(ctx, 120)
		if err != nil {
			return err
		}
		if b.Status != client.StatusSucceeded {
			log, _ := s.c.Build(b.ID).Log().Get(ctx)
			return fmt.Errorf("example %s build %s: %s\n%s", name, b.ID, b.Status, log)
		}
	}
	return nil
}
