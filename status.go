package troupe

// Status is the status of a run or a build.
type Status string

// The eight job statuses. READY, RUNNING, TIMING-OUT and ABORTING are
// transitional; the other four are terminal.
const (
	StatusReady     Status = "READY"
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusTimingOut Status = "TIMING-OUT"
	StatusTimedOut  Status = "TIMED-OUT"
	StatusAborting  Status = "ABORTING"
	StatusAborted   Status = "ABORTED"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusReady, StatusRunning, StatusSucceeded, StatusFailed,
	StatusTimingOut, StatusTimedOut, StatusAborting, StatusAborted}

// Valid reports whether s is one of the eight statuses.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if v == s {
			return true
		}
	}
	return false
}

// Terminal reports whether s is a final status.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusTimedOut, StatusAborted:
		return true
	}
	return false
}

// transitions is the run state machine: for each status, the statuses a run
// may move to. RUNNING→RUNNING is a reboot or a metamorph (same run, new
// process); terminal→RUNNING is a resurrect.
var transitions = map[Status][]Status{
	StatusReady:     {StatusRunning, StatusAborting, StatusAborted, StatusFailed},
	StatusRunning:   {StatusRunning, StatusSucceeded, StatusFailed, StatusTimingOut, StatusAborting},
	StatusTimingOut: {StatusTimedOut, StatusAborting},
	StatusAborting:  {StatusAborted},
	StatusSucceeded: {StatusRunning},
	StatusFailed:    {StatusRunning},
	StatusTimedOut:  {StatusRunning},
	StatusAborted:   {StatusRunning},
}

// CanTransition reports whether a run may move from one status to another.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}
