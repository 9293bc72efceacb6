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
	created, cstop := s.Watch(troupe.RunCreatedKey)
	defer cstop()
	r := createRun(t, s, newRun("a", base))
	WaitSignal(t, created, "CreateRun (RunCreatedKey)")
	ch, stop := s.Watch(r.ID)
	defer stop()
	_, err := s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error { return r.MarkRunning(at(1)) })
	must(t, err)
	WaitSignal(t, ch, "UpdateRun")

	// A log append signals the log's watchers, not the job's.
	lch, lstop := s.WatchLog(r.ID)
	defer lstop()
	must(t, s.AppendLog(ctx, r.ID, []byte("line\n")))
	WaitSignal(t, lch, "AppendLog")
	noSignal(t, ch, "AppendLog (Watch)")
	_, err = s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error { r.SetStatusMessage("busy", nil); return nil })
	must(t, err)
	WaitSignal(t, ch, "UpdateRun after AppendLog")
	noSignal(t, lch, "UpdateRun (WatchLog)")

	b := newBuild("a", "0.0")
	must(t, s.CreateBuild(ctx, b))
	bch, bstop := s.Watch(b.ID)
	defer bstop()
	_, err = s.UpdateBuild(ctx, b.ID, func(b *troupe.Build) error { b.Status = troupe.StatusSucceeded; return nil })
	must(t, err)
	WaitSignal(t, bch, "UpdateBuild")

	blch, blstop := s.WatchLog(b.ID)
	defer blstop()
	must(t, s.AppendLog(ctx, b.ID, []byte("built\n")))
	WaitSignal(t, blch, "AppendLog of a build")

	// A waiter that reads after each signal sees the final state.
	_, err = s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error { return r.Finish(0, at(2)) })
	must(t, err)
	for {
		got, err := s.GetRun(ctx, r.ID)
		must(t, err)
		if got.Status.Terminal() {
			break
		}
		WaitSignal(t, ch, "Finish")
	}
}

// testOddIDs checks that ids and names a database may not hold as text
// (NUL, invalid UTF-8), as a URL path may carry, are not found instead of
// failing the store.
func testOddIDs(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := &troupe.Run{ActID: "act1"}
	must(t, s.CreateRun(ctx, r, nil))
	second := func(_ any, err error) error { return err }
	for _, bad := range []string{"a\x00b", "\xff\xfe"} {
		for what, err := range map[string]error{
			"GetRun":     second(s.GetRun(ctx, bad)),
			"GetActor":   second(s.GetActor(ctx, bad)),
			"GetBuild":   second(s.GetBuild(ctx, bad)),
			"GetStorage": second(s.GetStorage(ctx, troupe.KindDataset, bad)),
			"ByName":     second(s.GetStorageByName(ctx, troupe.KindDataset, bad)),
			"GetRecord":  second(s.GetRecord(ctx, r.DefaultKeyValueStoreID, bad)),
			"GetRequest": second(s.GetRequest(ctx, r.DefaultRequestQueueID, bad)),
			"DeleteRun":  s.DeleteRun(ctx, bad),
			"UpdateRun":  second(s.UpdateRun(ctx, bad, func(*troupe.Run, troupe.StorageTx) error { return nil })),
			"DeleteRequest": s.DeleteRequest(ctx, r.DefaultRequestQueueID, bad,
				troupe.QueueCaller{ClientKey: "c"}),
		} {
			if !troupe.IsNotFound(err) {
				t.Errorf("%s(%q) = %v, want record-not-found", what, bad, err)
			}
		}
		if text, _, err := s.ReadLog(ctx, bad, 0); err != nil || len(text) != 0 {
			t.Errorf("ReadLog(%q) = %q, %v; want an empty log", bad, text, err)
		}
		if list, total, err := s.ListRuns(ctx, troupe.RunFilter{ActorID: bad}); err != nil || total != 0 || len(list) != 0 {
			t.Errorf("ListRuns(actor %q) = %d, %d, %v; want nothing", bad, len(list), total, err)
		}
		if p, err := s.ListRequests(ctx, r.DefaultRequestQueueID, troupe.RequestListOptions{After: bad}); err != nil || p.More {
			t.Errorf("ListRequests(after %q) = %v, %v", bad, p, err)
		}
	}
	// Inside JSON documents such text is escaped and kept.
	msg := "a\x00b"
	_, err := s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		r.SetStatusMessage(msg, nil)
		return nil
	})
	must(t, err)
	if got, err := s.GetRun(ctx, r.ID); err != nil || got.StatusMessage == nil || *got.StatusMessage != msg {
		t.Fatalf("status message with a NUL: %v", err)
	}
}
