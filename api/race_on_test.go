//go:build race

package api_test

// raceEnabled tells tests that the race detector slows everything down, so
// that the heaviest ones can do less work with the same intent.
const raceEnabled = true
