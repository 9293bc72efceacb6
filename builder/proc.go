package builder

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/troupehq/troupe/internal/logsink"
)

// maxLinePiece is the longest piece of an output line written to the build
// log as one line; a longer line is split.
const maxLinePiece = 64 << 10

// drainWait is how long a finished or killed install step's output is
// still read before its pipe is closed.
const drainWait = 2 * time.Second

// run runs an install step in dir, its output going to the build log. The
// step runs in its own process group; when it ends, and when ctx ends
// first, the whole group is killed.
func (b *Builder) run(ctx context.Context, dir string, sink *logsink.Sink, argv []string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, b.cfg.BaseEnv...), "HOME="+filepath.Join(b.cfg.DataDir, "home"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = drainWait
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		readLines(pr, sink.Line)
	}()
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
		_ = killGroup(cmd) // what the step left behind
		if errors.Is(err, exec.ErrWaitDelay) {
			err = nil // it succeeded; what kept its output open is killed
		}
	}
	pw.Close()
	<-done
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
