package process

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/bwrap"
	"golang.org/x/sys/unix"
)

var _ troupe.Process = (*Process)(nil)

// Process is a started process. It is safe for concurrent use.
type Process struct {
	e         *Executor
	runID     string
	limit     int64 // memory limit in bytes, 0 for none
	cmd       *exec.Cmd
	pid       int
	startTime uint64
	started   time.Time
	cg        *cgroup // nil when sampling
	outR      *os.File
	errR      *os.File
	uid       int    // sandbox user id to release, 0 for none
	sandboxed bool   // runs in a bubblewrap sandbox
	work      string // private working folder in the sandbox, "" for none

	outMu  sync.Mutex // serialises calls of output
	output func(string)

	drained chan struct{} // both output readers reached EOF
	done    chan struct{}

	mu           sync.Mutex
	leaderExited bool       // the main process exited (it may not be reaped yet)
	oom          bool       // killed by the sampler for using too much memory
	sandbox      bwrap.Info // zero until bwrap reports
	nsPidfd      int        // pidfd of the sandbox's first process, -1 until known
	killed       bool       // Kill or the exit of the main process killed the group
	killCalled   bool       // Kill was called while the main process lived
	finished     bool       // finish ran; nsPidfd is closed
	exit         troupe.ExitStatus
	stats        troupe.ProcessStats
	lastAt       time.Time     // time of the last sample
	lastCPU      time.Duration // CPU total at the last sample
	cpuTotal     time.Duration // CPU used since start, as sampled
	memSum       float64
	samples      int
}

// PID returns the process id, which is also its process group id.
func (p *Process) PID() int { return p.pid }

// StartTime returns field 22 of /proc/<pid>/stat: clock ticks after boot.
func (p *Process) StartTime() uint64 { return p.startTime }

// Done is closed once the process has exited, the rest of its group has been
// killed and its output has been delivered.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit returns how the process ended. It is valid once Done is closed.
func (p *Process) Exit() troupe.ExitStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// Kill sends SIGKILL to the whole process group (and, with cgroups, to every
// process of the cgroup). It may be called any number of times; after the
// process has exited it does nothing.
func (p *Process) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leaderExited {
		return nil
	}
	p.killCalled = true
	return p.killLocked()
}

// killLocked kills the group. The leader is not reaped yet (wait keeps it a
// zombie until the group is killed), so the group id cannot have been reused.
func (p *Process) killLocked() error {
	p.killed = true
	p.killNSLocked()
	err := syscall.Kill(-p.pid, syscall.SIGKILL)
	if p.cg != nil {
		p.cg.kill()
	}
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// Stats returns the latest resource sample.
func (p *Process) Stats() troupe.ProcessStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// emit delivers one output line.
func (p *Process) emit(line []byte) {
	if p.output == nil {
		return
	}
	s := string(line)
	p.outMu.Lock()
	defer p.outMu.Unlock()
	p.output(s)
}

// wait follows the process to its end and closes done.
func (p *Process) wait() {
	awaitExit(p.pid)
	p.mu.Lock()
	p.leaderExited = true
	// Whatever the main process left behind goes with it.
	if err := p.killLocked(); err != nil {
		p.e.log.Warn("process executor: kill group after exit", "run", p.runID, "pid", p.pid, "err", err)
	}
	p.mu.Unlock()

	_ = p.cmd.Wait() // the exit status is read from ProcessState
	exitedAt := time.Now()

	// A process that left the group may still hold the pipes open.
	t := time.NewTimer(p.e.waitDelay)
	select {
	case <-p.drained:
	case <-t.C:
		past := time.Unix(1, 0)
		_ = p.outR.SetReadDeadline(past)
		_ = p.errR.SetReadDeadline(past)
		<-p.drained
		p.e.log.Warn("process executor: output still open after exit; stopped reading", "run", p.runID, "pid", p.pid)
	}
	t.Stop()
	p.outR.Close()
	p.errR.Close()

	p.finish(exitedAt)
	p.e.unregister(p)
	if p.uid > 0 {
		p.e.releaseUID(p.uid)
	}
	close(p.done)
}

// finish records the exit status and a final sample, and removes the cgroup.
//
// The peak memory comes from the samples (and the cgroup's memory.peak),
// never from the rusage's ru_maxrss: the kernel starts that figure at the
// peak of the memory the child shared with the server until its exec,
// which is the server's own peak.
func (p *Process) finish(exitedAt time.Time) {
	var (
		cpu     time.Duration
		peakMem int64
		cgOOM   bool
	)
	state := p.cmd.ProcessState
	if state != nil {
		if ru, ok := state.SysUsage().(*syscall.Rusage); ok && ru != nil {
			cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if p.cg != nil {
		if _, c, err := p.cg.usage(); err == nil && c > cpu {
			cpu = c
		}
		peakMem = max(peakMem, p.cg.peak())
		cgOOM = p.cg.oomKilled()
		if err := p.cg.remove(p.e.waitDelay); err != nil {
			p.e.log.Warn("process executor: remove cgroup", "cgroup", p.cg.dir, "err", err)
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nsPidfd >= 0 {
		unix.Close(p.nsPidfd)
		p.nsPidfd = -1
	}
	p.finished = true
	st := troupe.ExitStatus{Code: -1, OutOfMemory: p.oom || cgOOM}
	if state != nil {
		if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			st.Signal = unix.SignalName(ws.Signal())
		} else {
			st.Code = state.ExitCode()
		}
	}
	// Kill sends SIGKILL to the sandbox's first process and to bwrap; when
	// bwrap sees its child die first, it exits with 128+SIGKILL instead of
	// dying of the signal itself. Either way the executor killed the run.
	if p.killCalled && st.Signal == "" && st.Code == 128+int(syscall.SIGKILL) {
		st = troupe.ExitStatus{Code: -1, Signal: "SIGKILL", OutOfMemory: st.OutOfMemory}
	}
	p.exit = st

	// Final sample from the rusage of the process and its reaped children.
	if d := cpu - p.lastCPU; d > 0 {
		p.cpuTotal += d
		if dt := exitedAt.Sub(p.lastAt); p.samples == 0 || dt >= firstSampleDelay {
			p.setCPUCurrentLocked(d, dt)
		}
		p.lastCPU = cpu
	}
	if life := exitedAt.Sub(p.started); life > 0 {
		p.stats.CPUAvgUsage = percent(p.cpuTotal, life)
	}
	if peakMem > p.stats.MemMaxBytes {
		p.stats.MemMaxBytes = peakMem
	}
	if p.samples == 0 {
		p.stats.MemCurrentBytes = p.stats.MemMaxBytes
		p.stats.MemAvgBytes = float64(p.stats.MemMaxBytes)
	}
}

// record stores one sample: mem bytes in use and the CPU total so far.
func (p *Process) record(now time.Time, mem int64, cpu time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leaderExited {
		return // the group is being torn down; finish takes the last sample
	}
	d := max(cpu-p.lastCPU, 0) // a member that exited takes its CPU time along
	p.cpuTotal += d
	p.setCPUCurrentLocked(d, now.Sub(p.lastAt))
	p.lastAt, p.lastCPU = now, cpu
	if life := now.Sub(p.started); life > 0 {
		p.stats.CPUAvgUsage = percent(p.cpuTotal, life)
	}

	p.samples++
	p.memSum += float64(mem)
	p.stats.MemCurrentBytes = mem
	p.stats.MemMaxBytes = max(p.stats.MemMaxBytes, mem)
	p.stats.MemAvgBytes = p.memSum / float64(p.samples)

	if p.cg == nil && p.limit > 0 && mem > p.limit && !p.oom {
		p.oom = true
		p.e.log.Info("process executor: memory limit exceeded, killing", "run", p.runID, "pid", p.pid,
			"memBytes", mem, "limitBytes", p.limit)
		if err := p.killLocked(); err != nil {
			p.e.log.Warn("process executor: kill for memory", "run", p.runID, "pid", p.pid, "err", err)
		}
	}
}

func (p *Process) setCPUCurrentLocked(d, dt time.Duration) {
	if dt <= 0 {
		return
	}
	// CPU times have a 10 ms granularity; over a short interval that can
	// exceed what the machine can do.
	cur := min(percent(d, dt), float64(100*runtime.NumCPU()))
	p.stats.CPUCurrentUsage = cur
	p.stats.CPUMaxUsage = max(p.stats.CPUMaxUsage, cur)
}

// percent returns cpu time over wall time dt as a percentage of one core.
func percent(cpu, dt time.Duration) float64 {
	return float64(cpu) / float64(dt) * 100
}
