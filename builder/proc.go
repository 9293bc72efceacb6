package builder

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/troupehq/troupe/internal/bwrap"
	"github.com/troupehq/troupe/internal/logsink"
)

// maxLinePiece is the longest piece of an output line written to the build
// log as one line; a longer line is split.
const maxLinePiece = 64 << 10

// drainWait is how long a finished or killed install step's output is
// still read before its pipe is closed.
const drainWait = 2 * time.Second

// run runs an install step in dir, its output going to the build log: in
// the Sandbox when there is one, else as the server's user. The step runs
// in its own process group (and, sandboxed, its own PID namespace); when ctx
// ends first, everything it started is killed at once, and what it leaves
// behind when it exits is killed too.
func (b *Builder) run(ctx context.Context, dir string, sink *logsink.Sink, argv []string) error {
	var cmd *exec.Cmd
	var sandboxed *bwrap.Cmd
	if sb := b.cfg.Sandbox; sb != nil {
		env := append(slices.Concat(b.cfg.BaseEnv, b.cfg.BuildEnv), "HOME=/tmp")
		s := &bwrap.Sandbox{Bwrap: sb.Bwrap, Hide: sb.Hide, Writable: []string{dir, b.cacheDir()},
			Dir: dir, Env: env, TmpBytes: buildTmpBytes, UID: sb.UID, GID: sb.UID, MaxProcs: sb.MaxProcs}
		c, err := s.Command(argv)
		if err != nil {
			return err
		}
		sandboxed, cmd = c, c.Cmd
	} else {
		cmd = exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Env = append(slices.Concat(b.cfg.BaseEnv, b.cfg.BuildEnv), "HOME="+filepath.Join(b.cfg.DataDir, "home"))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = drainWait
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		readLines(pr, sink.Line)
	}()
	defer func() {
		pw.Close()
		<-done
	}()

	var err error
	if sandboxed != nil {
		err = sandboxed.Start()
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return err
	}
	// The sandbox's first process: with it dies every process of the
	// sandbox's PID namespace, and bwrap exits once it is gone. Killing it
	// (rather than bwrap, whose death reaches it only later, through the
	// parent-death signal) means that when Wait returns the whole step is
	// gone.
	var child atomic.Int64
	infoDone := make(chan struct{})
	if sandboxed != nil {
		go func() {
			defer close(infoDone)
			if info, err := sandboxed.Info(); err == nil {
				child.Store(int64(info.ChildPID))
			}
		}()
	} else {
		close(infoDone)
	}
	stopKill := context.AfterFunc(ctx, func() {
		if pid := child.Load(); pid > 0 {
			_ = syscall.Kill(int(pid), syscall.SIGKILL)
		} else {
			_ = killGroup(cmd)
		}
	})
	err = cmd.Wait()
	stopKill()
	_ = killGroup(cmd) // what the step left behind
	<-infoDone
	if pid := child.Load(); pid > 0 {
		// Gone already unless bwrap was killed before it reported the
		// sandbox: then the namespace dies through the parent-death signal.
		waitGone(int(pid), drainWait)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // it succeeded; what kept its output open is killed
	}
	return err
}

// killGroup kills the process group the command leads.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// readLines reads r to its end and calls emit with each line (without its
// line ending), splitting lines longer than maxLinePiece.
func readLines(r io.Reader, emit func(string)) {
	br := bufio.NewReaderSize(r, maxLinePiece)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			text := line
			if err == nil {
				text = text[:len(text)-1]
				if n := len(text); n > 0 && text[n-1] == '\r' {
					text = text[:n-1]
				}
			}
			emit(string(text))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// waitGone waits up to d for the process pid (not a child of ours) to
// exit.
func waitGone(pid int, d time.Duration) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone already
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds())+1)
		if n > 0 || (err != nil && !errors.Is(err, unix.EINTR)) {
			return
		}
	}
}
