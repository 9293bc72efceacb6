//go:build race

package e2e_test

// raceFlags are the build flags of the troupe binary under test: built with
// the race detector only when the tests run with it.
var raceFlags = []string{"-race"}
