package storetest

import (
	"sync"
	"testing"

	"github.com/troupehq/troupe"
)

func testSetting(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	v, err := s.Setting(ctx, "token", "first")
	must(t, err)
	if v != "first" {
		t.Fatalf("Setting = %q, want the default %q", v, "first")
	}
	v, err = s.Setting(ctx, "token", "second")
	must(t, err)
	if v != "first" {
		t.Fatalf("Setting with another default = %q, want the stored %q", v, "first")
	}

	// Concurrent first reads agree on one value.
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.Setting(ctx, "race", string(rune('a'+i)))
			if err != nil {
				t.Errorf("Setting: %v", err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	for _, v := range got {
		if v != got[0] {
			t.Fatalf("concurrent Setting calls returned %q", got)
		}
	}
}

func testWatch(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := createRun(t, s, newRun("a", base))
	ch, stop := s.Watch(r.ID)
	defer stop()
	_, err := s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error { return r.MarkRunning(at(1)) })
	must(t, err)
	waitSignal(t, ch, "UpdateRun")

	// A log append signals the log's watchers, not the job's.
	lch, lstop := s.WatchLog(r.ID)
	defer lstop()
	must(t, s.AppendLog(ctx, r.ID, []byte("line\n")))
	waitSignal(t, lch, "AppendLog")
	noSignal(t, ch, "AppendLog (Watch)")
	_, err = s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error { r.SetStatusMessage("busy", nil); return nil })
	must(t, err)
	waitSignal(t, ch, "UpdateRun after AppendLog")
	noSignal(t, lch, "UpdateRun (WatchLog)")

	b := newBuild("a", "0.0")
	must(t, s.CreateBuild(ctx, b))
	bch, bstop := s.Watch(b.ID)
	defer bstop()
	_, err = s.UpdateBuild(ctx, b.ID, func(b *troupe.Build) error { b.Status = troupe.StatusSucceeded; return nil })
	must(t, err)
	waitSignal(t, bch, "UpdateBuild")

	blch, blstop := s.WatchLog(b.ID)
	defer blstop()
	must(t, s.AppendLog(ctx, b.ID, []byte("built\n")))
	waitSignal(t, blch, "AppendLog of a build")

	// A waiter that reads after each signal sees the final state.
	_, err = s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error { return r.Finish(0, at(2)) })
	must(t, err)
	for {
		got, err := s.GetRun(ctx, r.ID)
		must(t, err)
		if got.Status.Terminal() {
			break
		}
		waitSignal(t, ch, "Finish")
	}
}
