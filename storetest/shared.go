package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

// SharedFuncs open stores on one database, as replicas of troupe (or
// processes) sharing it do.
type SharedFuncs struct {
	// NewDB returns the location of a new, empty database for t.
	NewDB func(t *testing.T) string
	// Open opens a store on the database at db and arranges (with
	// t.Cleanup) for it to be closed; closing it earlier is allowed.
	Open func(t *testing.T, db string) troupe.Store
}

// RunShared runs the tests of stores that share a database: data kept when
// one store is closed and another opened, and stores open at the same time
// that change one run, queue, dataset or name concurrently and see each
// other's changes through their watches.
func RunShared(t *testing.T, f SharedFuncs) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func() troupe.Store)
	}{
		{"Reopen", testSharedReopen},
		{"Watch", testSharedWatch},
		{"UpdateRun", testSharedUpdateRun},
		{"FinishOnce", testSharedFinishOnce},
		{"LogFollow", testSharedLogFollow},
		{"LockHead", testSharedLockHead},
		{"NamedStorage", testSharedNamedStorage},
		{"ActorName", testSharedActorName},
		{"ActorUpdate", testSharedActorUpdate},
		{"DatasetPushes", testSharedDatasetPushes},
		{"WebhookClaim", testSharedClaim},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := f.NewDB(t)
			tc.fn(t, func() troupe.Store { return f.Open(t, db) })
		})
	}
}

// schemaVersion is the store's schema version, when it tells one (0 when
// not).
func schemaVersion(t *testing.T, s troupe.Store) int {
	t.Helper()
	vs, ok := s.(interface {
		SchemaVersion(ctx context.Context) (int, error)
	})
	if !ok {
		return 0
	}
	v, err := vs.SchemaVersion(t.Context())
	must(t, err)
	return v
}

// drain empties ch, so that the next receive is caused by what follows.
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// testSharedReopen checks that data and counters survive closing the store
// and opening another on the database.
func testSharedReopen(t *testing.T, open func() troupe.Store) {
	ctx := t.Context()
	db := open()
	a := &troupe.Actor{Username: "alice", Name: "scraper"}
	must(t, db.CreateActor(ctx, a))
	b := &troupe.Build{ActID: a.ID, ActorVersion: "0.0", Command: []string{"node", "main.js"}}
	must(t, db.CreateBuild(ctx, b))
	r := &troupe.Run{ActID: a.ID, BuildID: b.ID}
	must(t, db.CreateRun(ctx, r, &troupe.Record{Key: "INPUT", Value: []byte(`{"n":1}`), ContentType: "application/json"}))
	_, err := db.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		return r.MarkRunning(troupe.Now())
	})
	must(t, err)
	must(t, db.AppendLog(ctx, r.ID, []byte("hello\n")))
	token, err := db.Setting(ctx, "token", "secret")
	must(t, err)
	version := schemaVersion(t, db)
	must(t, db.Close())

	db = open()
	if v := schemaVersion(t, db); v != version {
		t.Fatalf("schema version after reopen = %d, want %d", v, version)
	}
	got, err := db.GetActorByName(ctx, "alice", "scraper")
	must(t, err)
	if got.ID != a.ID || got.Stats.TotalRuns != 1 || got.Stats.TotalBuilds != 1 {
		t.Fatalf("actor after reopen: %+v", got)
	}
	if got, err := db.GetBuildByNumber(ctx, a.ID, "0.0.1"); err != nil || got.Command[1] != "main.js" {
		t.Fatalf("build after reopen: %v, %v", got, err)
	}
	run, err := db.GetRun(ctx, r.ID)
	must(t, err)
	if run.Status != troupe.StatusRunning || run.Version != 2 {
		t.Fatalf("run after reopen: status %s, version %d", run.Status, run.Version)
	}
	if rec, err := db.GetRecord(ctx, r.DefaultKeyValueStoreID, "INPUT"); err != nil || string(rec.Value) != `{"n":1}` {
		t.Fatalf("INPUT after reopen: %v, %v", rec, err)
	}
	if text, _, err := db.ReadLog(ctx, r.ID, 0); err != nil || string(text) != "hello\n" {
		t.Fatalf("log after reopen: %q, %v", text, err)
	}
	if v, err := db.Setting(ctx, "token", "other"); err != nil || v != token {
		t.Fatalf("setting after reopen: %q, %v; want %q", v, err, token)
	}
	// Counters survive too: a new build continues the numbering.
	b2 := &troupe.Build{ActID: a.ID, ActorVersion: "0.0"}
	must(t, db.CreateBuild(ctx, b2))
	if b2.BuildNumber != "0.0.2" {
		t.Fatalf("build number after reopen = %s, want 0.0.2", b2.BuildNumber)
	}
}

// testSharedWatch has two stores on one database, as two stores
// would: a change made through one wakes a watch on the other.
func testSharedWatch(t *testing.T, open func() troupe.Store) {
	ctx := t.Context()
	a, b := open(), open()

	created, cstop := b.Watch(troupe.RunCreatedKey)
	defer cstop()
	r := &troupe.Run{ActID: "act1"}
	must(t, a.CreateRun(ctx, r, nil))
	WaitSignal(t, created, "CreateRun on the other store (RunCreatedKey)")
	ch, stop := b.Watch(r.ID)
	defer stop()

	_, err := a.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error { return r.MarkRunning(troupe.Now()) })
	must(t, err)
	WaitSignal(t, ch, "UpdateRun on the other store")
	got, err := b.GetRun(ctx, r.ID)
	must(t, err)
	if got.Status != troupe.StatusRunning {
		t.Fatalf("after the signal, the other store reads status %s", got.Status)
	}

	lch, lstop := b.WatchLog(r.ID)
	defer lstop()
	must(t, a.AppendLog(ctx, r.ID, []byte("hello\n")))
	WaitSignal(t, lch, "AppendLog on the other store")
	if text, _, err := b.ReadLog(ctx, r.ID, 0); err != nil || string(text) != "hello\n" {
		t.Fatalf("log read after the signal: %q, %v", text, err)
	}

	bld := &troupe.Build{ActID: "act1"}
	must(t, a.CreateBuild(ctx, bld))
	bch, bstop := b.Watch(bld.ID)
	defer bstop()
	_, err = a.UpdateBuild(ctx, bld.ID, func(b *troupe.Build) error { b.Status = troupe.StatusSucceeded; return nil })
	must(t, err)
	WaitSignal(t, bch, "UpdateBuild on the other store")

	// A request queue change wakes the queue's watchers too.
	qch, qstop := b.Watch(r.DefaultRequestQueueID)
	defer qstop()
	_, err = a.AddRequest(ctx, r.DefaultRequestQueueID, &troupe.Request{URL: "http://x/a"}, false, troupe.QueueCaller{ClientKey: "c"})
	must(t, err)
	WaitSignal(t, qch, "AddRequest on the other store")

	// A waiter that re-reads after every signal sees the final status.
	drain(ch)
	_, err = a.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error { return r.Finish(0, troupe.Now()) })
	must(t, err)
	for {
		got, err := b.GetRun(ctx, r.ID)
		must(t, err)
		if got.Status.Terminal() {
			break
		}
		WaitSignal(t, ch, "Finish on the other store")
	}

	// Deleting the run is a change as well.
	drain(ch)
	must(t, a.DeleteRun(ctx, r.ID))
	WaitSignal(t, ch, "DeleteRun on the other store")
}

// testSharedUpdateRun has writers on two stores increment one counter
// of one run: no increment is lost and the version grows by one per write.
func testSharedUpdateRun(t *testing.T, open func() troupe.Store) {
	ctx := t.Context()
	dbs := []troupe.Store{open(), open()}
	r := &troupe.Run{ActID: "act1", Status: troupe.StatusRunning}
	must(t, dbs[0].CreateRun(ctx, r, nil))
	const perWriter, writers = 15, 6
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := dbs[w%2]
			for range perWriter {
				for {
					_, err := db.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
						r.Stats.RestartCount++
						return nil
					})
					if troupe.ErrorType(err) == troupe.ErrConflict {
						continue
					}
					if err != nil {
						t.Error(err)
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	got, err := dbs[1].GetRun(ctx, r.ID)
	must(t, err)
	if got.Stats.RestartCount != writers*perWriter || got.Version != r.Version+writers*perWriter {
		t.Fatalf("restartCount %d, version %d; want %d, %d", got.Stats.RestartCount, got.Version,
			writers*perWriter, r.Version+writers*perWriter)
	}
}

// testSharedFinishOnce has two stores try to finish one run at
// the same time, each only when it is still running (the controller's
// compare-and-set): exactly one succeeds.
func testSharedFinishOnce(t *testing.T, open func() troupe.Store) {
	ctx := t.Context()
	dbs := []troupe.Store{open(), open()}
	for round := range 10 {
		r := &troupe.Run{ActID: "act1", Status: troupe.StatusRunning}
		must(t, dbs[0].CreateRun(ctx, r, nil))
		var wg sync.WaitGroup
		results := make([]error, 2)
		for i, db := range dbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = db.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
					if r.Status != troupe.StatusRunning {
						return troupe.Errorf(troupe.ErrJobFinished, "already finished")
					}
					return r.Finish(i, troupe.Now())
				})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range results {
			switch {
			case err == nil:
				ok++
			case troupe.ErrorType(err) != troupe.ErrJobFinished:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d stores finished the run, want 1", round, ok)
		}
	}
}

// testSharedLogFollow has writers on two stores append to one log
// while a reader on a third follows it by sequence number: the reader sees
// every line exactly once, even though appends commit in any order.
func testSharedLogFollow(t *testing.T, open func() troupe.Store) {
	ctx := t.Context()
	dbs := []troupe.Store{open(), open()}
	reader := open()
	const writers, lines = 6, 30
	ch, stop := reader.WatchLog("job")
	defer stop()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				if err := dbs[w%2].AppendLog(ctx, "job", fmt.Appendf(nil, "w%d-%d\n", w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer wg.Wait()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	seen := map[string]int{}
	var seq int64
	read := func() {
		text, next, err := reader.ReadLog(ctx, "job", seq)
		must(t, err)
		seq = next
		for _, line := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
			if line != "" {
				seen[line]++
			}
		}
	}
	for finished := false; !finished && len(seen) < writers*lines; {
		select {
		case <-ch:
		case <-done:
			finished = true // one last read after the last append
		case <-time.After(10 * time.Second):
			t.Fatal("no watch signal after an append")
		}
		read()
	}
	if len(seen) != writers*lines {
		t.Fatalf("a reader following the sequence numbers saw %d of %d lines", len(seen), writers*lines)
	}
	for line, n := range seen {
		if n != 1 {
			t.Fatalf("line %s read %d times", line, n)
		}
	}
}

// testSharedLockHead has clients on two stores lock the head of one
// queue until it is empty: every request is handed out exactly once.
func testSharedLockHead(t *testing.T, open func() troupe.Store) {
	ctx := t.Context()
	dbs := []troupe.Store{open(), open()}
	q, _, err := dbs[0].CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindRequestQueue})
	must(t, err)
	const total = 300
	for i := 0; i < total; i += troupe.MaxBatchRequests {
		var batch []*troupe.Request
		for j := i; j < min(i+troupe.MaxBatchRequests, total); j++ {
			batch = append(batch, &troupe.Request{URL: fmt.Sprintf("http://x/%d", j)})
		}
		_, err := dbs[1].BatchAddRequests(ctx, q.ID, batch, false, troupe.QueueCaller{ClientKey: "producer"})
		must(t, err)
	}
	var mu sync.Mutex
	owner := map[string]int{}
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := dbs[c%2]
			for {
				h, err := db.LockHead(ctx, q.ID, troupe.LockOptions{
					QueueCaller: troupe.QueueCaller{ClientKey: fmt.Sprintf("client-%d", c)},
					Lock:        time.Hour, Limit: 1 + c*3,
				})
				if err != nil {
					t.Error(err)
					return
				}
				if len(h.Items) == 0 {
					return
				}
				mu.Lock()
				for _, it := range h.Items {
					if prev, dup := owner[it.ID]; dup {
						t.Errorf("request %s handed to client %d and client %d", it.ID, prev, c)
					}
					owner[it.ID] = c
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(owner) != total {
		t.Fatalf("%d requests handed out, want %d", len(owner), total)
	}
}

// testSharedNamedStorage has stores get-or-create one named
// storage at the same time: they all get the same one.
func testSharedNamedStorage(t *testing.T, open func() troupe.Store) {
	ctx := t.Context()
	dbs := []troupe.Store{open(), open()}
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _, err := dbs[i%2].CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindDataset, Name: new("shared")})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = st.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent get-or-create gave ids %v", ids)
		}
	}
	list, total, err := dbs[0].ListStorages(ctx, troupe.KindDataset, false, troupe.ListOptions{})
	must(t, err)
	if total != 1 || len(list) != 1 {
		t.Fatalf("named datasets: %d (total %d), want 1", len(list), total)
	}
}

// testSharedActorName has stores create actors of one name at
// the same time: exactly one succeeds, the others get
// actor-name-not-unique.
func testSharedActorName(t *testing.T, open func() troupe.Store) {
	ctx := t.Context()
	dbs := []troupe.Store{open(), open()}
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = dbs[i%2].CreateActor(ctx, &troupe.Actor{Username: "alice", Name: "scraper"})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case troupe.ErrorType(err) != troupe.ErrNameNotUnique:
			t.Fatalf("concurrent create: %v, want actor-name-not-unique", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent creates of one name succeeded, want 1", ok)
	}
}

// testSharedActorUpdate: an actor a store has read is read as it is now
// after another store changed it, by id and by name.
func testSharedActorUpdate(t *testing.T, open func() troupe.Store) {
	ctx := t.Context()
	dbs := []troupe.Store{open(), open()}
	a := newActor("scraper")
	must(t, dbs[0].CreateActor(ctx, a))
	for round := range 3 {
		if _, err := dbs[0].GetActor(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := dbs[0].GetActorByName(ctx, "alice", a.Name); err != nil {
			t.Fatal(err)
		}
		title := fmt.Sprintf("round %d", round)
		upd, err := dbs[1].UpdateActor(ctx, a.ID, func(a *troupe.Actor) error {
			a.Title = title
			a.Versions[0].EnvVars[0].Value = title
			return nil
		})
		must(t, err)
		got, err := dbs[0].GetActor(ctx, a.ID)
		must(t, err)
		sameJSON(t, "GetActor after another store's update", got, upd)
		got, err = dbs[0].GetActorByName(ctx, "alice", a.Name)
		must(t, err)
		sameJSON(t, "GetActorByName after another store's update", got, upd)
	}
}

// testSharedDatasetPushes has runs on two stores push batches to
// one dataset at the same time: every item is kept, and the items of each
// push stay together and in order.
func testSharedDatasetPushes(t *testing.T, open func() troupe.Store) {
	ctx := t.Context()
	dbs := []troupe.Store{open(), open()}
	ds, _, err := dbs[0].CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindDataset})
	must(t, err)
	const pushers, pushes, batch = 6, 10, 7
	var wg sync.WaitGroup
	for p := range pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range pushes {
				items := make([]json.RawMessage, batch)
				for j := range items {
					items[j] = json.RawMessage(fmt.Sprintf(`{"p":%d,"i":%d,"j":%d}`, p, i, j))
				}
				if err := dbs[p%2].PushItems(ctx, ds.ID, items); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	type item struct{ P, I, J int }
	var got []item
	_, err = dbs[1].ReadItems(ctx, ds.ID, troupe.ItemWindow{}, func(_ troupe.ItemPage, b []byte) error {
		var it item
		err := json.Unmarshal(b, &it)
		got = append(got, it)
		return err
	})
	must(t, err)
	if len(got) != pushers*pushes*batch {
		t.Fatalf("%d items, want %d", len(got), pushers*pushes*batch)
	}
	next := map[int]int{} // pusher → next push number
	for k := 0; k < len(got); k += batch {
		first := got[k]
		if first.I != next[first.P] {
			t.Fatalf("item %d: push %d of pusher %d, want push %d", k, first.I, first.P, next[first.P])
		}
		next[first.P]++
		for j := range batch {
			if it := got[k+j]; it.P != first.P || it.I != first.I || it.J != j {
				t.Fatalf("item %d is %+v; the push of %+v is split or out of order", k+j, it, first)
			}
		}
	}
	if st, err := dbs[0].GetStorage(ctx, troupe.KindDataset, ds.ID); err != nil || *st.ItemCount != int64(len(got)) {
		t.Fatalf("itemCount %v, %v; want %d", st.ItemCount, err, len(got))
	}
}
