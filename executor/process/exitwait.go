package process

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// awaitExit returns once the child process pid has exited, without reaping
// it: while it is a zombie its pid, and so its group id, stays reserved. It
// waits on a pidfd through the runtime's poller, so a live process holds
// no thread of the server (a blocking waitid holds one per process, each
// with its own stacks); where pidfds cannot be polled it falls back to a
// blocking waitid.
func awaitExit(pid int) {
	if fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK); err == nil {
		f := os.NewFile(uintptr(fd), "pidfd")
		err := pollExit(f)
		f.Close()
		if err == nil {
			return
		}
	}
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// pollExit waits until the pidfd f is readable, which it is once its
// process has exited.
func pollExit(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, 0)
			switch {
			case errors.Is(err, unix.EINTR):
				continue
			case err != nil:
				perr = err
				return true
			}
			return n > 0
		}
	})
	if err != nil {
		return err
	}
	return perr
}
