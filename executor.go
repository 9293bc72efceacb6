package troupe

import "context"

// ExecSpec is what an executor needs to start one process of a run.
type ExecSpec struct {
	RunID      string
	Generation int
	// Command is the argv to run; Command[0] is looked up in PATH.
	Command []string
	// Dir is the folder the process starts in: the run's own working
	// folder, whose entries may link into BuildDir. A sandboxed executor
	// makes it writable by the process.
	Dir string
	// BuildDir holds the build's files. A sandboxed executor shows it to
	// the process read-only, and nothing else of the server's data.
	BuildDir string
	// Env is the whole environment of the process ("KEY=value").
	Env []string
	// MemoryMbytes is the memory limit; 0 means none.
	MemoryMbytes int
	// Output receives each line the process writes to stdout or stderr,
	// without the newline, in the order read. It is called from one
	// goroutine at a time.
	Output func(line string)
}

// ExitStatus says how a process ended.
type ExitStatus struct {
	// Code is the exit code; -1 when the process was killed by a signal.
	Code int
	// Signal names the signal that killed it, if any.
	Signal string
	// OutOfMemory is set when the executor killed it for going over its
	// memory limit.
	OutOfMemory bool
}

// ProcessStats is a sample of a process's resource use.
type ProcessStats struct {
	MemCurrentBytes int64
	MemMaxBytes     int64
	MemAvgBytes     float64
	CPUCurrentUsage float64 // percent of one core
	CPUAvgUsage     float64
	CPUMaxUsage     float64
}

// Process is a started run process.
type Process interface {
	// PID is the process (and process group) id; StartTime tells it apart
	// from a later process with the same id.
	PID() int
	StartTime() uint64
	// Done is closed when the process has exited and its output is drained.
	Done() <-chan struct{}
	// Exit returns how the process ended; valid after Done is closed.
	Exit() ExitStatus
	// Kill kills the whole process group at once.
	Kill() error
	// Stats returns the latest resource sample.
	Stats() ProcessStats
}

// Executor starts run processes.
type Executor interface {
	// Start starts a process for spec. The process keeps running when ctx
	// ends; stop it with Kill. The message of an *Error it returns is shown
	// to the run's user (status message and log), so it names no server
	// path or secret. Other errors go to the server's log; the user learns
	// only whether the program was missing (exec.ErrNotFound,
	// fs.ErrNotExist), not executable (fs.ErrPermission, ENOEXEC) or the
	// server failed.
	Start(ctx context.Context, spec *ExecSpec) (Process, error)
	// KillOrphan kills a process group left by an earlier server instance, if
	// that exact process (pid and start time) still exists.
	KillOrphan(pid int, startTime uint64) error
}
