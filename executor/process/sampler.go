package process

import (
	"time"

	"golang.org/x/sys/unix"
)

// The executor runs one sampler goroutine while it has live processes. Each
// tick it scans /proc once for all processes without a cgroup (rather than
// once per process) and reads the cgroup files of the others.

// register adds p to the sampled processes and asks for a first sample
// shortly.
func (e *Executor) register(p *Process) {
	e.mu.Lock()
	e.live[p] = struct{}{}
	if !e.sampling {
		e.sampling = true
		go e.sampleLoop()
	}
	e.mu.Unlock()
	e.kickSampler()
}

// kickSampler asks for a sample shortly.
func (e *Executor) kickSampler() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

func (e *Executor) unregister(p *Process) {
	e.mu.Lock()
	delete(e.live, p)
	e.mu.Unlock()
}

func (e *Executor) sampleLoop() {
	tick := time.NewTicker(e.interval)
	defer tick.Stop()
	var soon <-chan time.Time
	for {
		select {
		case <-tick.C:
		case <-e.kick:
			if soon == nil {
				soon = time.After(firstSampleDelay)
			}
			continue
		case <-soon:
			soon = nil
		}
		if !e.sampleAll() {
			return
		}
	}
}

// sampleAll samples every live process. It returns false, and marks the
// sampler stopped, when there are none.
func (e *Executor) sampleAll() bool {
	e.mu.Lock()
	procs := make([]*Process, 0, len(e.live))
	for p := range e.live {
		procs = append(procs, p)
	}
	// Sandboxes that ended release their roots.
	for p, fd := range e.roots {
		if _, live := e.live[p]; !live {
			unix.Close(fd)
			delete(e.roots, p)
		}
	}
	if len(e.live) == 0 {
		e.sampling = false
		e.mu.Unlock()
		return false
	}
	e.mu.Unlock()

	groups := make(map[int]*groupUsage)
	for _, p := range procs {
		if p.cg == nil && !p.sandboxed {
			groups[p.pid] = &groupUsage{}
		}
	}
	if len(groups) > 0 {
		if err := scanGroups(groups); err != nil {
			e.log.Warn("process executor: scan /proc", "err", err)
		}
	}
	now := time.Now()
	for _, p := range procs {
		if p.cg != nil {
			mem, cpu, err := p.cg.usage()
			if err == nil {
				p.record(now, mem, cpu)
			}
			continue
		}
		if p.sandboxed {
			root, ok := e.roots[p]
			if !ok {
				p.mu.Lock()
				info := p.sandbox
				p.mu.Unlock()
				if info.ChildPID == 0 {
					continue // bwrap has not reported yet
				}
				var err error
				if root, err = openRoot(info.ChildPID, info.PIDNamespace); err != nil {
					continue // not made yet, or gone
				}
				e.roots[p] = root
			}
			if u, err := sandboxUsage(root, p.work); err == nil && u.procs > 0 {
				p.record(now, u.rss, u.cpu)
			}
			continue
		}
		if u := groups[p.pid]; u.procs > 0 {
			p.record(now, u.rss, u.cpu)
		}
	}
	return true
}
