package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

func testRunCreateWithStorages(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := newRun("act1", base)
	input := &troupe.Record{Key: "INPUT", Value: []byte(`{"url":"https://example.com"}`), ContentType: "application/json; charset=utf-8"}
	must(t, s.CreateRun(ctx, r, input))

	for _, st := range []struct {
		kind troupe.StorageKind
		id   string
	}{
		{troupe.KindDataset, r.DefaultDatasetID},
		{troupe.KindKeyValueStore, r.DefaultKeyValueStoreID},
		{troupe.KindRequestQueue, r.DefaultRequestQueueID},
	} {
		got, err := s.GetStorage(ctx, st.kind, st.id)
		if err != nil {
			t.Fatalf("default %s: %v", st.kind, err)
		}
		if got.Name != nil || got.ActRunID == nil || *got.ActRunID != r.ID || got.ActID == nil || *got.ActID != "act1" {
			t.Fatalf("default %s: name %v, actRunId %v, actId %v; want unnamed, %s, act1",
				st.kind, got.Name, got.ActRunID, got.ActID, r.ID)
		}
		if got.UserID != "user1" || got.GeneralAccess != "FOLLOW_USER_SETTING" {
			t.Fatalf("default %s: userId %q, generalAccess %q", st.kind, got.UserID, got.GeneralAccess)
		}
	}
	rec, err := s.GetRecord(ctx, r.DefaultKeyValueStoreID, "INPUT")
	must(t, err)
	if string(rec.Value) != string(input.Value) || rec.ContentType != input.ContentType {
		t.Fatalf("INPUT = %q (%s), want %q (%s)", rec.Value, rec.ContentType, input.Value, input.ContentType)
	}

	// Without input there is no INPUT record.
	r2 := newRun("act1", base)
	must(t, s.CreateRun(ctx, r2, nil))
	_, err = s.GetRecord(ctx, r2.DefaultKeyValueStoreID, "INPUT")
	wantType(t, err, troupe.ErrRecordNotFound)
	if _, err := s.GetStorage(ctx, troupe.KindKeyValueStore, r2.DefaultKeyValueStoreID); err != nil {
		t.Fatalf("default store of a run without input: %v", err)
	}
}

// testRunCreateIsAtomic checks that a run whose INPUT cannot be stored
// leaves nothing behind.
func testRunCreateIsAtomic(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := newRun("act1", base)
	err := s.CreateRun(ctx, r, &troupe.Record{Key: "not a valid key", Value: []byte("x")})
	wantType(t, err, troupe.ErrInvalidRecordKey)
	_, err = s.GetRun(ctx, r.ID)
	wantType(t, err, troupe.ErrRecordNotFound)
	_, err = s.GetStorage(ctx, troupe.KindDataset, r.DefaultDatasetID)
	wantType(t, err, troupe.ErrRecordNotFound)
	_, err = s.GetStorage(ctx, troupe.KindKeyValueStore, r.DefaultKeyValueStoreID)
	wantType(t, err, troupe.ErrRecordNotFound)
	if _, total, err := s.ListRuns(ctx, troupe.RunFilter{}); err != nil || total != 0 {
		t.Fatalf("ListRuns after a failed create: total %d, %v; want 0", total, err)
	}
}

func testRunRoundTrip(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := newRun("act1", base)
	r.ActorTaskID = ptr("task1")
	r.StatusMessage = ptr("Starting")
	r.IsStatusMessageTerminal = ptr(false)
	r.Meta = troupe.RunMeta{Origin: troupe.OriginCLI, ClientIP: "127.0.0.1", UserAgent: "test"}
	r.Stats = troupe.RunStats{InputBodyLen: ptr(30), RebootCount: 1, MemMaxBytes: 1 << 20, CPUAvgUsage: 12.5}
	r.Options.MaxItems = ptr(100)
	r.ExitCode = ptr(0)
	r.StorageIDs = troupe.StorageIDs{
		Datasets:       map[string]string{"default": r.DefaultDatasetID},
		KeyValueStores: map[string]string{"default": r.DefaultKeyValueStoreID},
		RequestQueues:  map[string]string{"default": r.DefaultRequestQueueID},
	}
	r.Usage = map[string]float64{"ACTOR_COMPUTE_UNITS": 0.5}
	r.Metamorphs = []troupe.Metamorph{{CreatedAt: at(1), ActorID: "act2", BuildID: "b2", InputKey: "INPUT-METAMORPH-1"}}
	r.Control = troupe.RunControl{
		Generation: 2, InputKey: "INPUT", Abort: &troupe.AbortRequest{Graceful: true, RequestedAt: at(3)},
		TimeoutAt: ptr(at(60)), RunningSince: ptr(at(1)), PastMillis: 5, ErrorRestarts: 1,
		Owner: "replica-1", LeaseUntil: ptr(at(20)), PID: 4242, PIDStartTime: 99, StartedGeneration: 2,
	}
	want := mustJSON(t, r)
	wantControl := mustJSON(t, r.Control)
	must(t, s.CreateRun(ctx, r, nil))

	got, err := s.GetRun(ctx, r.ID)
	must(t, err)
	if g := mustJSON(t, got); g != want {
		t.Fatalf("GetRun:\n got %s\nwant %s", g, want)
	}
	if g := mustJSON(t, got.Control); g != wantControl {
		t.Fatalf("GetRun control:\n got %s\nwant %s", g, wantControl)
	}
	if got.Version != r.Version {
		t.Fatalf("version = %d, want %d (as CreateRun set it)", got.Version, r.Version)
	}
	_, err = s.GetRun(ctx, "missing")
	wantType(t, err, troupe.ErrRecordNotFound)
	if e := new(troupe.Error); errors.As(err, &e) && !strings.Contains(e.Message, "Run") {
		t.Fatalf("not-found message %q does not name the run", e.Message)
	}
}

func testRunTimes(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+1", 3600)
	started := time.Date(2025, 3, 1, 13, 0, 0, 123456789, zone)
	r := newRun("act1", started)
	r.Control.TimeoutAt = ptr(started.Add(time.Minute))
	must(t, s.CreateRun(ctx, r, nil))
	got, err := s.GetRun(ctx, r.ID)
	must(t, err)
	want := base.Add(123 * time.Millisecond)
	if !got.StartedAt.Equal(want) || got.StartedAt.Location() != time.UTC {
		t.Fatalf("startedAt = %v, want %v in UTC", got.StartedAt, want)
	}
	if got.Control.TimeoutAt == nil || !got.Control.TimeoutAt.Equal(want.Add(time.Minute)) ||
		got.Control.TimeoutAt.Location() != time.UTC {
		t.Fatalf("control.timeoutAt = %v, want %v in UTC", got.Control.TimeoutAt, want.Add(time.Minute))
	}
	st, err := s.GetStorage(ctx, troupe.KindDataset, r.DefaultDatasetID)
	must(t, err)
	if st.CreatedAt.Location() != time.UTC || st.CreatedAt.Nanosecond()%int(time.Millisecond) != 0 {
		t.Fatalf("storage createdAt = %v, want UTC at millisecond precision", st.CreatedAt)
	}
}

// seedRuns stores runs of actors a and b in many statuses, created out of
// order, two of them started at the same time.
func seedRuns(t *testing.T, s troupe.Store) []*troupe.Run {
	t.Helper()
	specs := []struct {
		actor  string
		status troupe.Status
		sec    int
	}{
		{"a", troupe.StatusRunning, 20},
		{"a", troupe.StatusSucceeded, 0},
		{"b", troupe.StatusSucceeded, 10},
		{"a", troupe.StatusFailed, 10},
		{"a", troupe.StatusSucceeded, 20},
		{"b", troupe.StatusReady, 30},
		{"b", troupe.StatusAborting, 40},
		{"a", troupe.StatusTimingOut, 50},
		{"b", troupe.StatusAborted, 60},
		{"a", troupe.StatusTimedOut, 70},
	}
	var runs []*troupe.Run
	for _, sp := range specs {
		r := newRun(sp.actor, at(sp.sec))
		r.Status = sp.status
		runs = append(runs, createRun(t, s, r))
	}
	sortRuns(runs)
	return runs
}

// sortRuns orders runs, given in the order they were created, as lists
// do: by startedAt, then in creation order.
func sortRuns(runs []*troupe.Run) {
	slices.SortStableFunc(runs, func(x, y *troupe.Run) int { return x.StartedAt.Compare(y.StartedAt) })
}

// expectRuns computes what ListRuns(f) should return from all runs.
func expectRuns(all []*troupe.Run, f troupe.RunFilter) (ids []string, total int) {
	var match []*troupe.Run
	for _, r := range all {
		if f.ActorID != "" && r.ActID != f.ActorID ||
			len(f.Statuses) > 0 && !slices.Contains(f.Statuses, r.Status) ||
			f.StartedAfter != nil && r.StartedAt.Before(*f.StartedAfter) ||
			f.StartedBefore != nil && r.StartedAt.After(*f.StartedBefore) {
			continue
		}
		match = append(match, r)
	}
	if f.Desc {
		slices.Reverse(match)
	}
	limit := f.Limit
	if limit == 0 {
		limit = 1000
	}
	for i := f.Offset; i < len(match) && i < f.Offset+limit; i++ {
		ids = append(ids, match[i].ID)
	}
	return ids, len(match)
}

func runIDs(runs []*troupe.Run) []string {
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

func testRunList(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	all := seedRuns(t, s)
	st := func(ss ...troupe.Status) []troupe.Status { return ss }
	filters := []troupe.RunFilter{
		{},
		{ListOptions: troupe.ListOptions{Desc: true}},
		{ListOptions: troupe.ListOptions{Offset: 2, Limit: 3}},
		{ListOptions: troupe.ListOptions{Offset: 3, Limit: 2, Desc: true}},
		{ListOptions: troupe.ListOptions{Offset: 100}},
		{ActorID: "a"},
		{ActorID: "b", ListOptions: troupe.ListOptions{Desc: true}},
		{ActorID: "nobody"},
		{Statuses: st(troupe.StatusSucceeded)},
		{Statuses: st(troupe.StatusSucceeded, troupe.StatusRunning, troupe.StatusReady)},
		{Statuses: st(troupe.StatusAborted), ActorID: "a"},
		{ActorID: "a", Statuses: st(troupe.StatusSucceeded, troupe.StatusFailed)},
		{StartedAfter: ptr(at(10))},
		{StartedBefore: ptr(at(20))},
		{StartedAfter: ptr(at(10)), StartedBefore: ptr(at(20))},
		{StartedAfter: ptr(at(10).Add(500 * time.Microsecond))},
		{StartedBefore: ptr(at(20).Add(-500 * time.Microsecond))},
		{ActorID: "a", StartedAfter: ptr(at(10)), ListOptions: troupe.ListOptions{Offset: 1, Limit: 2, Desc: true}},
		{ActorID: "b", Statuses: st(troupe.StatusSucceeded, troupe.StatusAborted), StartedBefore: ptr(at(60))},
	}
	for i, f := range filters {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, total, err := s.ListRuns(ctx, f)
			must(t, err)
			wantIDs, wantTotal := expectRuns(all, f)
			if total != wantTotal {
				t.Errorf("total = %d, want %d (filter %+v)", total, wantTotal, f)
			}
			if g, w := strings.Join(runIDs(got), ","), strings.Join(wantIDs, ","); g != w {
				t.Errorf("ids = %s, want %s (filter %+v)", g, w, f)
			}
		})
	}
}

func testRunLastRun(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	all := seedRuns(t, s)
	last := func(actor string, status troupe.Status) string {
		for _, r := range slices.Backward(all) {
			if r.ActID == actor && (status == "" || r.Status == status) {
				return r.ID
			}
		}
		return ""
	}
	for _, c := range []struct {
		actor  string
		status troupe.Status
	}{
		{"a", ""}, {"b", ""}, {"a", troupe.StatusSucceeded}, {"a", troupe.StatusFailed}, {"b", troupe.StatusReady},
	} {
		got, err := s.LastRun(ctx, c.actor, c.status)
		must(t, err)
		if want := last(c.actor, c.status); got.ID != want {
			t.Fatalf("LastRun(%s, %q) = %s, want %s", c.actor, c.status, got.ID, want)
		}
	}
	_, err := s.LastRun(ctx, "a", troupe.StatusAborted)
	wantType(t, err, troupe.ErrRecordNotFound)
	_, err = s.LastRun(ctx, "nobody", "")
	wantType(t, err, troupe.ErrRecordNotFound)
}

// testRunSameMillisecond creates runs on a store whose clock stands still,
// so that they all start in the same millisecond: lists, pages and LastRun
// follow the order in which they were created.
func testRunSameMillisecond(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	statuses := []troupe.Status{troupe.StatusSucceeded, troupe.StatusFailed, troupe.StatusRunning}
	var all []*troupe.Run
	for i := range 12 {
		r := newRun("a", time.Time{})
		if i%4 == 3 {
			r.ActID = "b"
		}
		r.Status = statuses[i%len(statuses)]
		all = append(all, createRun(t, s, r))
	}
	for _, r := range all {
		if !r.StartedAt.Equal(base) {
			t.Fatalf("startedAt = %v, want the store's clock %v", r.StartedAt, base)
		}
	}

	filters := []troupe.RunFilter{
		{},
		{ListOptions: troupe.ListOptions{Desc: true}},
		{ActorID: "a"},
		{ActorID: "a", ListOptions: troupe.ListOptions{Desc: true}},
		{Statuses: []troupe.Status{troupe.StatusSucceeded, troupe.StatusRunning}, ListOptions: troupe.ListOptions{Desc: true}},
		{StartedAfter: ptr(base), StartedBefore: ptr(base)},
	}
	for _, f := range filters {
		got, total, err := s.ListRuns(ctx, f)
		must(t, err)
		wantIDs, wantTotal := expectRuns(all, f)
		if g, w := strings.Join(runIDs(got), ","), strings.Join(wantIDs, ","); total != wantTotal || g != w {
			t.Fatalf("filter %+v: ids = %s (total %d), want %s (total %d)", f, g, total, w, wantTotal)
		}
		// Pages of every size put together are the whole list, each run
		// once, in the same order.
		for size := 1; size <= 5; size++ {
			var paged []string
			for off := 0; off < wantTotal; off += size {
				pf := f
				pf.Offset, pf.Limit = off, size
				page, _, err := s.ListRuns(ctx, pf)
				must(t, err)
				paged = append(paged, runIDs(page)...)
			}
			if g, w := strings.Join(paged, ","), strings.Join(wantIDs, ","); g != w {
				t.Fatalf("filter %+v in pages of %d: ids = %s, want %s", f, size, g, w)
			}
		}
	}

	for _, c := range []struct {
		actor  string
		status troupe.Status
	}{
		{"a", ""}, {"b", ""}, {"a", troupe.StatusSucceeded}, {"a", troupe.StatusFailed}, {"a", troupe.StatusRunning}, {"b", troupe.StatusSucceeded},
	} {
		var want string
		for _, r := range all {
			if r.ActID == c.actor && (c.status == "" || r.Status == c.status) {
				want = r.ID
			}
		}
		got, err := s.LastRun(ctx, c.actor, c.status)
		must(t, err)
		if got.ID != want {
			t.Fatalf("LastRun(%s, %q) = %s, want %s, the last created", c.actor, c.status, got.ID, want)
		}
	}

	var active []string
	for _, r := range all {
		if !r.Status.Terminal() {
			active = append(active, r.ID)
		}
	}
	got, err := s.ActiveRuns(ctx)
	must(t, err)
	if g, w := strings.Join(runIDs(got), ","), strings.Join(active, ","); g != w {
		t.Fatalf("ActiveRuns = %s, want %s", g, w)
	}
}

func testRunActiveRuns(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	all := seedRuns(t, s)
	var want []string
	for _, r := range all {
		if !r.Status.Terminal() {
			want = append(want, r.ID)
		}
	}
	got, err := s.ActiveRuns(ctx)
	must(t, err)
	if g, w := strings.Join(runIDs(got), ","), strings.Join(want, ","); g != w {
		t.Fatalf("ActiveRuns = %s, want %s", g, w)
	}
}

func testRunUpdate(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := createRun(t, s, newRun("a", base))
	now := at(1)
	upd, err := s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		if err := r.MarkRunning(now); err != nil {
			return err
		}
		r.Control.Owner = "replica-1"
		r.SetStatusMessage("Crawling", nil)
		return nil
	})
	must(t, err)
	if upd.Status != troupe.StatusRunning || upd.Version != r.Version+1 {
		t.Fatalf("UpdateRun returned status %s, version %d; want RUNNING, %d", upd.Status, upd.Version, r.Version+1)
	}
	got, err := s.GetRun(ctx, r.ID)
	must(t, err)
	sameJSON(t, "GetRun after update", got, upd)
	sameJSON(t, "control after update", got.Control, upd.Control)
	if got.Version != upd.Version || got.Control.Owner != "replica-1" || got.Control.RunningSince == nil {
		t.Fatalf("after update: version %d, owner %q, runningSince %v", got.Version, got.Control.Owner, got.Control.RunningSince)
	}

	// Lists see the new status and a metamorph's new actor.
	_, err = s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		return r.Metamorph("b", &troupe.Build{ID: "b2", BuildNumber: "0.0.2"}, "0.0.2", r.MetamorphInputKey(), at(2))
	})
	must(t, err)
	for _, c := range []struct {
		f    troupe.RunFilter
		want int
	}{
		{troupe.RunFilter{Statuses: []troupe.Status{troupe.StatusReady}}, 0},
		{troupe.RunFilter{Statuses: []troupe.Status{troupe.StatusRunning}}, 1},
		{troupe.RunFilter{ActorID: "a"}, 0},
		{troupe.RunFilter{ActorID: "b", Statuses: []troupe.Status{troupe.StatusRunning}}, 1},
	} {
		list, total, err := s.ListRuns(ctx, c.f)
		must(t, err)
		if total != c.want || len(list) != c.want {
			t.Fatalf("ListRuns(%+v) after update: total %d, %d items; want %d", c.f, total, len(list), c.want)
		}
	}

	_, err = s.UpdateRun(ctx, "missing", func(*troupe.Run, troupe.StorageTx) error { return nil })
	wantType(t, err, troupe.ErrRecordNotFound)
}

// testRunUpdateConcurrent has many writers increment one counter; with
// retries on conflict, no increment is lost.
func testRunUpdateConcurrent(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := createRun(t, s, newRun("a", base))
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, err := s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
					r.Stats.RebootCount++
					return nil
				})
				if troupe.ErrorType(err) == troupe.ErrConflict {
					continue
				}
				if err != nil {
					t.Errorf("UpdateRun: %v", err)
				}
				return
			}
		}()
	}
	wg.Wait()
	got, err := s.GetRun(ctx, r.ID)
	must(t, err)
	if got.Stats.RebootCount != n {
		t.Fatalf("rebootCount = %d after %d concurrent increments", got.Stats.RebootCount, n)
	}
	if got.Version != r.Version+n {
		t.Fatalf("version = %d, want %d", got.Version, r.Version+n)
	}
}

func testRunUpdateError(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := createRun(t, s, newRun("a", base))
	before := mustJSON(t, r)
	_, err := s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		r.Status = troupe.StatusRunning
		r.Stats.RebootCount = 7
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("UpdateRun err = %v, want the mutation's error", err)
	}
	got, err := s.GetRun(ctx, r.ID)
	must(t, err)
	if g := mustJSON(t, got); g != before || got.Version != r.Version {
		t.Fatalf("run after a failed update:\n got %s (version %d)\nwant %s (version %d)", g, got.Version, before, r.Version)
	}
	// A domain error from a mutation comes back as it is.
	_, err = s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error { return r.Reboot(at(1)) })
	wantType(t, err, troupe.ErrRunNotRunning)
}

func testRunUpdateRecordInTx(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := createRun(t, s, newRun("a", base))
	kvs := r.DefaultKeyValueStoreID
	rec := &troupe.Record{Key: "INPUT-METAMORPH-1", Value: []byte(`{"a":1}`), ContentType: "application/json"}

	_, err := s.UpdateRun(ctx, r.ID, func(r *troupe.Run, tx troupe.StorageTx) error {
		if err := tx.PutRecord(ctx, kvs, rec); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("UpdateRun err = %v, want the mutation's error", err)
	}
	_, err = s.GetRecord(ctx, kvs, rec.Key)
	wantType(t, err, troupe.ErrRecordNotFound)

	_, err = s.UpdateRun(ctx, r.ID, func(r *troupe.Run, tx troupe.StorageTx) error {
		r.Control.InputKey = rec.Key
		return tx.PutRecord(ctx, kvs, rec)
	})
	must(t, err)
	got, err := s.GetRecord(ctx, kvs, rec.Key)
	must(t, err)
	if string(got.Value) != string(rec.Value) || got.ContentType != rec.ContentType {
		t.Fatalf("record written in UpdateRun = %q (%s)", got.Value, got.ContentType)
	}
	run, err := s.GetRun(ctx, r.ID)
	must(t, err)
	if run.Control.InputKey != rec.Key {
		t.Fatalf("control.inputKey = %q, want %q", run.Control.InputKey, rec.Key)
	}

	// A record for a store that does not exist fails the mutation.
	_, err = s.UpdateRun(ctx, r.ID, func(r *troupe.Run, tx troupe.StorageTx) error {
		r.Control.InputKey = "X"
		return tx.PutRecord(ctx, "missing", rec)
	})
	wantType(t, err, troupe.ErrRecordNotFound)
	run, err = s.GetRun(ctx, r.ID)
	must(t, err)
	if run.Control.InputKey != rec.Key {
		t.Fatalf("control.inputKey after a failed update = %q, want %q", run.Control.InputKey, rec.Key)
	}
}

func testRunDelete(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := newRun("a", base)
	must(t, s.CreateRun(ctx, r, &troupe.Record{Key: "INPUT", Value: []byte("{}"), ContentType: "application/json"}))
	must(t, s.AppendLog(ctx, r.ID, []byte("hello\n")))
	other := newRun("a", base)
	must(t, s.CreateRun(ctx, other, &troupe.Record{Key: "INPUT", Value: []byte("{}"), ContentType: "application/json"}))
	must(t, s.AppendLog(ctx, other.ID, []byte("other\n")))

	must(t, s.DeleteRun(ctx, r.ID))
	_, err := s.GetRun(ctx, r.ID)
	wantType(t, err, troupe.ErrRecordNotFound)
	if text, _, err := s.ReadLog(ctx, r.ID, 0); err != nil || len(text) != 0 {
		t.Fatalf("log of a deleted run: %q, %v; want empty", text, err)
	}
	for kind, id := range map[troupe.StorageKind]string{
		troupe.KindDataset: r.DefaultDatasetID, troupe.KindKeyValueStore: r.DefaultKeyValueStoreID,
		troupe.KindRequestQueue: r.DefaultRequestQueueID,
	} {
		_, err := s.GetStorage(ctx, kind, id)
		wantType(t, err, troupe.ErrRecordNotFound)
	}
	_, err = s.GetRecord(ctx, r.DefaultKeyValueStoreID, "INPUT")
	wantType(t, err, troupe.ErrRecordNotFound)
	wantType(t, s.DeleteRun(ctx, r.ID), troupe.ErrRecordNotFound)

	// The other run is untouched.
	if _, err := s.GetRun(ctx, other.ID); err != nil {
		t.Fatalf("other run: %v", err)
	}
	if text, _, _ := s.ReadLog(ctx, other.ID, 0); string(text) != "other\n" {
		t.Fatalf("other run's log = %q", text)
	}
	if _, err := s.GetRecord(ctx, other.DefaultKeyValueStoreID, "INPUT"); err != nil {
		t.Fatalf("other run's INPUT: %v", err)
	}
	if _, total, _ := s.ListRuns(ctx, troupe.RunFilter{}); total != 1 {
		t.Fatalf("ListRuns total after delete = %d, want 1", total)
	}
}

// testRunDeleteSharedStorages checks that a default storage that another run
// also has as a default outlives the first run's deletion.
func testRunDeleteSharedStorages(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	first := newRun("a", base)
	must(t, s.CreateRun(ctx, first, &troupe.Record{Key: "INPUT", Value: []byte("1")}))
	second := newRun("a", at(1))
	second.DefaultDatasetID = first.DefaultDatasetID
	second.DefaultKeyValueStoreID = first.DefaultKeyValueStoreID
	must(t, s.CreateRun(ctx, second, nil))

	must(t, s.DeleteRun(ctx, first.ID))
	if _, err := s.GetStorage(ctx, troupe.KindDataset, first.DefaultDatasetID); err != nil {
		t.Fatalf("shared dataset after deleting one of its runs: %v", err)
	}
	if _, err := s.GetRecord(ctx, first.DefaultKeyValueStoreID, "INPUT"); err != nil {
		t.Fatalf("record of a shared store after deleting one of its runs: %v", err)
	}
	_, err := s.GetStorage(ctx, troupe.KindRequestQueue, first.DefaultRequestQueueID)
	wantType(t, err, troupe.ErrRecordNotFound)

	must(t, s.DeleteRun(ctx, second.ID))
	_, err = s.GetStorage(ctx, troupe.KindDataset, first.DefaultDatasetID)
	wantType(t, err, troupe.ErrRecordNotFound)
	_, err = s.GetStorage(ctx, troupe.KindKeyValueStore, first.DefaultKeyValueStoreID)
	wantType(t, err, troupe.ErrRecordNotFound)
}

// testRunDeleteKeepsNamedStorage checks that a default storage the user gave
// a name (to keep it) survives the run's deletion.
func testRunDeleteKeepsNamedStorage(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := createRun(t, s, newRun("a", base))
	_, err := s.UpdateStorage(ctx, troupe.KindDataset, r.DefaultDatasetID, func(st *troupe.Storage) error {
		st.Name = ptr("keep-me")
		return nil
	})
	must(t, err)
	must(t, s.DeleteRun(ctx, r.ID))
	if _, err := s.GetStorageByName(ctx, troupe.KindDataset, "keep-me"); err != nil {
		t.Fatalf("named default dataset after DeleteRun: %v", err)
	}
	_, err = s.GetStorage(ctx, troupe.KindKeyValueStore, r.DefaultKeyValueStoreID)
	wantType(t, err, troupe.ErrRecordNotFound)
}

// testRunVersion: RunVersion is the Version GetRun reads, it moves with
// every update, and an unknown run is record-not-found.
func testRunVersion(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := createRun(t, s, newRun("a", base))
	check := func(when string) int64 {
		t.Helper()
		got, err := s.GetRun(ctx, r.ID)
		must(t, err)
		v, err := s.RunVersion(ctx, r.ID)
		must(t, err)
		if v != got.Version {
			t.Fatalf("%s: RunVersion = %d, GetRun's Version = %d", when, v, got.Version)
		}
		return v
	}
	v1 := check("created")
	_, err := s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error { return r.MarkRunning(at(1)) })
	must(t, err)
	if v2 := check("updated"); v2 == v1 {
		t.Fatalf("RunVersion stayed %d across an update", v2)
	}
	if _, err := s.RunVersion(ctx, "NoSuchRun00000001"); !troupe.IsNotFound(err) {
		t.Fatalf("RunVersion of an unknown run: err = %v, want record-not-found", err)
	}
}

// testRunStatus: RunStatus is the Status GetRun reads, through every
// transition, and an unknown run is record-not-found.
func testRunStatus(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	r := createRun(t, s, newRun("a", base))
	check := func(want troupe.Status) {
		t.Helper()
		got, err := s.GetRun(ctx, r.ID)
		must(t, err)
		st, err := s.RunStatus(ctx, r.ID)
		must(t, err)
		if st != got.Status || st != want {
			t.Fatalf("RunStatus = %s, GetRun's Status = %s, want %s", st, got.Status, want)
		}
	}
	check(troupe.StatusReady)
	for _, step := range []struct {
		fn   func(r *troupe.Run) error
		want troupe.Status
	}{
		{func(r *troupe.Run) error { return r.MarkRunning(at(1)) }, troupe.StatusRunning},
		{func(r *troupe.Run) error { return r.Finish(0, at(2)) }, troupe.StatusSucceeded},
	} {
		_, err := s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error { return step.fn(r) })
		must(t, err)
		check(step.want)
	}
	if _, err := s.RunStatus(ctx, "NoSuchRun00000001"); !troupe.IsNotFound(err) {
		t.Fatalf("RunStatus of an unknown run: err = %v, want record-not-found", err)
	}
}

// testRunUpdateFrom: UpdateRunFrom writes from the caller's copy while it
// is the stored version, leaves that copy as it was, and loses no change
// made meanwhile by another writer: with a stale copy it is UpdateRun.
func testRunUpdateFrom(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	created := newRun("a", base)
	created.Usage = map[string]float64{"ACTOR_COMPUTE_UNITS": 0}
	r := createRun(t, s, created)
	read, err := s.GetRun(ctx, r.ID)
	must(t, err)
	before := mustJSON(t, read)

	// From the stored version: written, and the copy is untouched.
	upd, err := s.UpdateRunFrom(ctx, read, func(r *troupe.Run, _ troupe.StorageTx) error {
		r.Usage["ACTOR_COMPUTE_UNITS"] = 1.5
		r.SetStatusMessage("first", nil)
		return nil
	})
	must(t, err)
	if upd.Version != read.Version+1 || deref(upd.StatusMessage) != "first" || upd.Usage["ACTOR_COMPUTE_UNITS"] != 1.5 {
		t.Fatalf("UpdateRunFrom returned version %d, message %q, usage %v", upd.Version, deref(upd.StatusMessage), upd.Usage)
	}
	if after := mustJSON(t, read); after != before || read.Version != r.Version {
		t.Fatalf("UpdateRunFrom changed the caller's run:\n got %s\nwant %s", after, before)
	}
	got, err := s.GetRun(ctx, r.ID)
	must(t, err)
	sameJSON(t, "GetRun after UpdateRunFrom", got, upd)
	sameJSON(t, "control after UpdateRunFrom", got.Control, upd.Control)

	// From a stale copy (read is two versions behind now): fn sees the
	// run as stored, and the other writer's change is kept.
	_, err = s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		r.Stats.RebootCount = 7
		return nil
	})
	must(t, err)
	var seen []int
	upd, err = s.UpdateRunFrom(ctx, read, func(r *troupe.Run, _ troupe.StorageTx) error {
		seen = append(seen, r.Stats.RebootCount)
		r.SetStatusMessage("second", nil)
		return nil
	})
	must(t, err)
	if len(seen) == 0 || seen[len(seen)-1] != 7 {
		t.Fatalf("fn saw rebootCount %v; its last call must see the stored 7", seen)
	}
	got, err = s.GetRun(ctx, r.ID)
	must(t, err)
	if got.Stats.RebootCount != 7 || deref(got.StatusMessage) != "second" || got.Version != r.Version+3 || upd.Version != got.Version {
		t.Fatalf("after a stale UpdateRunFrom: rebootCount %d, message %q, version %d (returned %d); want 7, second, %d",
			got.Stats.RebootCount, deref(got.StatusMessage), got.Version, upd.Version, r.Version+3)
	}

	// fn's error is returned and nothing is written.
	boom := errors.New("boom")
	_, err = s.UpdateRunFrom(ctx, got, func(r *troupe.Run, _ troupe.StorageTx) error {
		r.SetStatusMessage("never", nil)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateRunFrom with a failing fn: %v, want boom", err)
	}
	if again, err := s.GetRun(ctx, r.ID); err != nil || again.Version != got.Version || deref(again.StatusMessage) != "second" {
		t.Fatalf("a failed UpdateRunFrom wrote: %+v, %v", again, err)
	}

	// A deleted run is not found, whatever copy the caller holds.
	must(t, s.DeleteRun(ctx, r.ID))
	_, err = s.UpdateRunFrom(ctx, got, func(*troupe.Run, troupe.StorageTx) error { return nil })
	wantType(t, err, troupe.ErrRecordNotFound)
}
