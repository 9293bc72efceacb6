package troupe_test

import (
	"testing"

	"github.com/troupehq/troupe"
)

func TestCanTransition(t *testing.T) {
	t.Parallel()
	allowed := map[[2]troupe.Status]bool{}
	for _, p := range [][2]troupe.Status{
		{troupe.StatusReady, troupe.StatusRunning},
		{troupe.StatusReady, troupe.StatusAborting},
		{troupe.StatusReady, troupe.StatusAborted},
		{troupe.StatusReady, troupe.StatusFailed},
		{troupe.StatusRunning, troupe.StatusRunning}, // reboot, metamorph
		{troupe.StatusRunning, troupe.StatusSucceeded},
		{troupe.StatusRunning, troupe.StatusFailed},
		{troupe.StatusRunning, troupe.StatusTimingOut},
		{troupe.StatusRunning, troupe.StatusAborting},
		{troupe.StatusTimingOut, troupe.StatusTimedOut},
		{troupe.StatusTimingOut, troupe.StatusAborting},
		{troupe.StatusAborting, troupe.StatusAborted},
		{troupe.StatusSucceeded, troupe.StatusRunning}, // resurrect
		{troupe.StatusFailed, troupe.StatusRunning},
		{troupe.StatusTimedOut, troupe.StatusRunning},
		{troupe.StatusAborted, troupe.StatusRunning},
	} {
		allowed[p] = true
	}
	for _, from := range troupe.Statuses {
		for _, to := range troupe.Statuses {
			if got, want := troupe.CanTransition(from, to), allowed[[2]troupe.Status{from, to}]; got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
}

func TestStatusTerminal(t *testing.T) {
	t.Parallel()
	terminal := map[troupe.Status]bool{troupe.StatusSucceeded: true, troupe.StatusFailed: true,
		troupe.StatusTimedOut: true, troupe.StatusAborted: true}
	for _, s := range troupe.Statuses {
		if got := s.Terminal(); got != terminal[s] {
			t.Errorf("%s.Terminal() = %v, want %v", s, got, terminal[s])
		}
		if !s.Valid() {
			t.Errorf("%s.Valid() = false", s)
		}
	}
	if troupe.Status("FINISHED").Valid() {
		t.Error(`Status("FINISHED").Valid() = true`)
	}
}
