package troupe

import (
	"context"
	"time"
)

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
	// PrivateDir means that Dir does not exist on the server: the executor
	// makes it for the process alone, holding a symbolic link to each
	// top-level entry of BuildDir, and it vanishes with the process. Set
	// it only for an executor whose PrivateDirs method reports true.
	PrivateDir bool
	// BuildDir holds the build's files. A sandboxed executor shows it to
	// the process read-only, and nothing else of the server's data.
	BuildDir string
	// Env is the whole environment of the process ("KEY=value").
	Env []string
	// MemoryMbytes is the memory limit; 0 means none.
	MemoryMbytes int
	// ActorID, BuildID, Artifact and Image say what a remote executor runs
	// (a local executor ignores them): the actor and build whose archive
	// (GET /v2/actor-builds/{BuildID}/artifact, with the run's APIFY_TOKEN)
	// it unpacks, the archive's sha256 (hex) it checks, and the OCI image
	// (the build's Dockerfile FROM) it runs in.
	ActorID  string
	BuildID  string
	Artifact string
	Image    string
	// Deadline, when not zero, is when the executor may end the process on
	// its own should troupe not have stopped it by then: a backstop for the
	// run's timeout, which the controller enforces itself.
	Deadline time.Time
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
	// Lost is set when the process vanished without troupe killing it (its
	// pod was deleted or evicted, its node was lost): the controller treats
	// the run as one whose server stopped (a restart counted in
	// stats.migrationCount, or FAILED when the actor forbids restarts).
	Lost bool
	// Failure, when set, says why the executor could not run the program
	// at all (its image could not be pulled, the build's archive could not
	// be fetched); the run fails with it as its status message. It names no
	// secret.
	Failure string
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

// PrivateDirs is implemented by executors that can make a process's
// working folder themselves (ExecSpec.PrivateDir), which spares the server
// making and removing a folder of links for every run.
type PrivateDirs interface {
	// PrivateDirs reports whether ExecSpec.PrivateDir may be set.
	PrivateDirs() bool
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

// RemoteExecutor is implemented by an executor whose processes run
// elsewhere than on the troupe server (Kubernetes pods), and that outlive
// the server that started them. The controller then:
//
//   - prepares no folders on the server: ExecSpec.Dir and BuildDir are
//     empty, and the executor gets the build's files itself (ExecSpec's
//     BuildID, Artifact, Image); HOME is WorkDir;
//   - never calls KillOrphan: a process is found by its run id and
//     generation instead;
//   - when it takes a run over (its own after a restart, or a dead
//     replica's), calls Adopt for the run's current generation before
//     anything else, and keeps running the process Adopt returns instead
//     of starting it again. Only when Adopt finds none does it apply the
//     rules of a lost process.
type RemoteExecutor interface {
	Executor
	// WorkDir is the folder the process starts in, as the process sees it.
	WorkDir() string
	// Adopt returns the process of spec's run and generation (RunID,
	// Generation, MemoryMbytes and Output are used) left by an earlier
	// server or another replica, still running or ended since; nil when
	// there is none. Output gets the process's outputs after the first
	// skip of them, in the order and pieces the process's earlier Output
	// got them (skip is how many of them troupe stored, LogMark.Lines; 0
	// for all of them). Processes of the run's other generations are
	// stopped.
	Adopt(ctx context.Context, spec *ExecSpec, skip int64) (Process, error)
}
