package inflight_test

import (
	"context"
	"testing"
	"time"

	"github.com/troupehq/troupe/internal/inflight"
)

func TestWaitReturnsWhenIdle(t *testing.T) {
	var tr inflight.Tracker
	done := make(chan struct{})
	go func() { tr.Wait(t.Context(), "run", time.Hour); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait with nothing under way did not return")
	}
}

func TestWaitWaitsForEveryRequest(t *testing.T) {
	var tr inflight.Tracker
	end1, end2 := tr.Begin("run"), tr.Begin("run")
	other := tr.Begin("other")
	defer other()
	done := make(chan struct{})
	go func() { tr.Wait(t.Context(), "run", time.Hour); close(done) }()
	end1()
	end1() // a second call is a no-op
	select {
	case <-done:
		t.Fatal("Wait returned while a request for the key was under way")
	default:
	}
	end2()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the last request ended")
	}
}

func TestWaitIsBounded(t *testing.T) {
	var tr inflight.Tracker
	defer tr.Begin("run")()
	start := time.Now()
	tr.Wait(t.Context(), "run", 20*time.Millisecond)
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("Wait returned before its bound with a request under way")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tr.Wait(ctx, "run", time.Hour) // returns at once: ctx has ended
}

func TestNilTracker(t *testing.T) {
	var tr *inflight.Tracker
	tr.Begin("run")()
	tr.Wait(t.Context(), "run", time.Hour)
}
