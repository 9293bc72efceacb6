package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of the CPU times in
// /proc/<pid>/stat. It is 100 on every Linux architecture Go supports
// (sysconf(_SC_CLK_TCK) is fixed by the kernel ABI).
const clockTicks = 100

// pageSize converts the rss field of /proc/<pid>/stat (pages) to bytes.
var pageSize = int64(os.Getpagesize())

// procStat is the part of /proc/<pid>/stat that the executor reads.
type procStat struct {
	pgrp      int
	cpu       time.Duration // utime+stime+cutime+cstime
	startTime uint64        // clock ticks after boot (field 22)
	rssBytes  int64
}

// errNoProcess means /proc/<pid> does not exist (any more).
var errNoProcess = errors.New("no such process")

// readProcStat reads /proc/<pid>/stat.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return procStat{}, errNoProcess
		}
		return procStat{}, err
	}
	return parseProcStat(b)
}

// parseProcStat parses the text of /proc/<pid>/stat. The command name (field
// 2) may hold spaces and parentheses, so fields are counted from the last
// ')'.
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse proc stat: no command name")
	}
	// After ") " come fields 3 (state), 4 (ppid), 5 (pgrp), ...
	fields := bytes.Fields(b[i+1:])
	const (
		fPgrp      = 5
		fUtime     = 14
		fStime     = 15
		fCutime    = 16
		fCstime    = 17
		fStartTime = 22
		fRSS       = 24
	)
	field := func(n int) (int64, error) {
		k := n - 3
		if k >= len(fields) {
			return 0, fmt.Errorf("parse proc stat: field %d missing", n)
		}
		return strconv.ParseInt(string(fields[k]), 10, 64)
	}
	var v [fRSS + 1]int64
	for _, n := range []int{fPgrp, fUtime, fStime, fCutime, fCstime, fStartTime, fRSS} {
		x, err := field(n)
		if err != nil {
			return procStat{}, err
		}
		v[n] = x
	}
	ticks := v[fUtime] + v[fStime] + v[fCutime] + v[fCstime]
	return procStat{
		pgrp:      int(v[fPgrp]),
		cpu:       time.Duration(ticks) * (time.Second / clockTicks),
		startTime: uint64(v[fStartTime]),
		rssBytes:  v[fRSS] * pageSize,
	}, nil
}

// groupUsage is the summed resource use of the live processes of one process
// group.
type groupUsage struct {
	procs int
	rss   int64
	cpu   time.Duration
}

// scanGroups reads every /proc/<pid>/stat once and sums memory and CPU per
// process group, for the groups in want. Processes that vanish during the
// scan are skipped.
func scanGroups(want map[int]*groupUsage) error {
	d, err := os.Open("/proc")
	if err != nil {
		return err
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(512)
		for _, name := range names {
			if name[0] < '0' || name[0] > '9' {
				continue
			}
			pid, perr := strconv.Atoi(name)
			if perr != nil {
				continue
			}
			st, serr := readProcStat(pid)
			if serr != nil {
				continue
			}
			if u, ok := want[st.pgrp]; ok {
				u.procs++
				u.rss += st.rssBytes
				u.cpu += st.cpu
			}
		}
		if err != nil {
			// io.EOF ends the listing; other errors mean a partial scan,
			// which is still the best figure there is.
			return nil
		}
	}
}

// groupMembers returns the pids of the live processes in process group pgid
// whose start time is not before minStart.
func groupMembers(pgid int, minStart uint64) []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	var pids []int
	for {
		names, err := d.Readdirnames(512)
		for _, name := range names {
			pid, perr := strconv.Atoi(name)
			if perr != nil {
				continue
			}
			st, serr := readProcStat(pid)
			if serr == nil && st.pgrp == pgid && st.startTime >= minStart {
				pids = append(pids, pid)
			}
		}
		if err != nil {
			return pids
		}
	}
}
