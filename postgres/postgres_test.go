package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/codec"
	"github.com/troupehq/troupe/pgtest"
	"github.com/troupehq/troupe/postgres"
	"github.com/troupehq/troupe/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openDB opens the database at url and closes it when the test ends.
func openDB(tb testing.TB, url string, opts ...postgres.Option) *postgres.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := postgres.Open(ctx, url, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

// newDatabase returns the URL of a fresh database for t that already has
// troupe's schema: a copy of a database migrated once per test binary. (The
// migrations themselves are tested on empty databases, from template0.)
func newDatabase(t *testing.T) string {
	t.Helper()
	return pgtest.NewPreparedDatabase(t, "troupe_schema", func(ctx context.Context, url string) error {
		db, err := postgres.Open(ctx, url)
		if err != nil {
			return err
		}
		return db.Close()
	})
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) troupe.Store {
		if now == nil {
			return openDB(t, newDatabase(t))
		}
		return openDB(t, newDatabase(t), postgres.WithClock(now))
	})
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// waitSignal fails t unless ch delivers a value soon.
func waitSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no watch signal after %s", what)
	}
}

// drain empties ch, so that the next receive is caused by what follows.
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// TestWatchAcrossReplicas has two DBs on one database, as two replicas
// would: a change made through one wakes a watch on the other.
func TestWatchAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	a, b := openDB(t, url), openDB(t, url)

	r := &troupe.Run{ActID: "act1"}
	must(t, a.CreateRun(ctx, r, nil))
	ch, stop := b.Watch(r.ID)
	defer stop()

	_, err := a.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error { return r.MarkRunning(troupe.Now()) })
	must(t, err)
	waitSignal(t, ch, "UpdateRun on the other replica")
	got, err := b.GetRun(ctx, r.ID)
	must(t, err)
	if got.Status != troupe.StatusRunning {
		t.Fatalf("after the signal, the other replica reads status %s", got.Status)
	}

	lch, lstop := b.WatchLog(r.ID)
	defer lstop()
	must(t, a.AppendLog(ctx, r.ID, []byte("hello\n")))
	waitSignal(t, lch, "AppendLog on the other replica")
	if text, _, err := b.ReadLog(ctx, r.ID, 0); err != nil || string(text) != "hello\n" {
		t.Fatalf("log read after the signal: %q, %v", text, err)
	}

	bld := &troupe.Build{ActID: "act1"}
	must(t, a.CreateBuild(ctx, bld))
	bch, bstop := b.Watch(bld.ID)
	defer bstop()
	_, err = a.UpdateBuild(ctx, bld.ID, func(b *troupe.Build) error { b.Status = troupe.StatusSucceeded; return nil })
	must(t, err)
	waitSignal(t, bch, "UpdateBuild on the other replica")

	// A request queue change wakes the queue's watchers too.
	qch, qstop := b.Watch(r.DefaultRequestQueueID)
	defer qstop()
	_, err = a.AddRequest(ctx, r.DefaultRequestQueueID, &troupe.Request{URL: "http://x/a"}, false, troupe.QueueCaller{ClientKey: "c"})
	must(t, err)
	waitSignal(t, qch, "AddRequest on the other replica")

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
		waitSignal(t, ch, "Finish on the other replica")
	}

	// Deleting the run is a change as well.
	drain(ch)
	must(t, a.DeleteRun(ctx, r.ID))
	waitSignal(t, ch, "DeleteRun on the other replica")
}

// TestWatchAfterReconnect kills the connection a DB listens on: the DB
// reconnects, wakes its watchers (a change may have been missed while it was
// away) and goes on delivering changes.
func TestWatchAfterReconnect(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	a, b := openDB(t, url), openDB(t, url)
	r := &troupe.Run{ActID: "act1"}
	must(t, a.CreateRun(ctx, r, nil))
	ch, stop := b.Watch(r.ID)
	defer stop()

	admin, err := pgx.Connect(ctx, url)
	must(t, err)
	defer admin.Close(context.Background())
	var killed int
	err = admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'troupe (listener)'`).Scan(&killed)
	must(t, err)
	if killed != 2 {
		t.Fatalf("terminated %d listening connections, want 2 (one per DB)", killed)
	}
	// Nothing changed, but the watcher cannot know: it is woken.
	waitSignal(t, ch, "the listening connection was restored")

	// The wake comes once the DB listens again: changes from the other
	// replica arrive again.
	_, err = a.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		r.SetStatusMessage("after the reconnect", nil)
		return nil
	})
	must(t, err)
	waitSignal(t, ch, "a change after the reconnect")
	got, err := b.GetRun(ctx, r.ID)
	must(t, err)
	if got.StatusMessage == nil || *got.StatusMessage != "after the reconnect" {
		t.Fatalf("status message read after the signal: %v", got.StatusMessage)
	}
}

// TestWatchThroughQuietPeriods has a DB check its idle listening connection
// often: notifications still arrive after several checks.
func TestWatchThroughQuietPeriods(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	pinged := make(chan struct{}, 1)
	a := openDB(t, url)
	b := openDB(t, url, postgres.WithListenPing(20*time.Millisecond, func() {
		select {
		case pinged <- struct{}{}:
		default:
		}
	}))
	r := &troupe.Run{ActID: "act1"}
	must(t, a.CreateRun(ctx, r, nil))
	ch, stop := b.Watch(r.ID)
	defer stop()
	for i := range 3 {
		waitSignal(t, pinged, "a quiet period")
		drain(ch)
		_, err := a.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
			r.SetStatusMessage(fmt.Sprintf("step %d", i), nil)
			return nil
		})
		must(t, err)
		waitSignal(t, ch, "a change after a quiet period")
	}
}

// TestConcurrentMigrations opens several DBs on one new database at once,
// as replicas starting together do: every Open succeeds and the schema is
// applied once.
func TestConcurrentMigrations(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const n = 6
	dbs := make([]*postgres.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			dbs[i], errs[i] = postgres.Open(t.Context(), url)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	want, err := dbs[0].SchemaVersion(t.Context())
	must(t, err)
	if want < 2 {
		t.Fatalf("schema version %d", want)
	}
	for i, db := range dbs {
		if v, err := db.SchemaVersion(t.Context()); err != nil || v != want {
			t.Fatalf("schema version seen by DB %d = %d, %v; want %d", i, v, err, want)
		}
	}
	var rows int
	must(t, dbs[0].Pool().QueryRow(t.Context(), `SELECT count(*) FROM schema_version`).Scan(&rows))
	if rows != 1 {
		t.Fatalf("schema_version has %d rows", rows)
	}
	// Every DB works on the one schema.
	for i, db := range dbs {
		must(t, db.CreateActor(t.Context(), &troupe.Actor{Username: "u", Name: fmt.Sprintf("a%d", i)}))
	}
	if _, total, err := dbs[n-1].ListActors(t.Context(), troupe.ListOptions{}); err != nil || total != n {
		t.Fatalf("ListActors: total %d, %v; want %d", total, err, n)
	}
}

// TestUpdateRunAcrossReplicas has writers on two DBs increment one counter
// of one run: no increment is lost and the version grows by one per write.
func TestUpdateRunAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	dbs := []*postgres.DB{openDB(t, url), openDB(t, url)}
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

// TestFinishOnceAcrossReplicas has two replicas try to finish one run at
// the same time, each only when it is still running (the controller's
// compare-and-set): exactly one succeeds.
func TestFinishOnceAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	dbs := []*postgres.DB{openDB(t, url), openDB(t, url)}
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
			t.Fatalf("round %d: %d replicas finished the run, want 1", round, ok)
		}
	}
}

// TestLogFollowAcrossReplicas has writers on two DBs append to one log
// while a reader on a third follows it by sequence number: the reader sees
// every line exactly once, even though appends commit in any order.
func TestLogFollowAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	dbs := []*postgres.DB{openDB(t, url), openDB(t, url)}
	reader := openDB(t, url)
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

// TestLockHeadAcrossReplicas has clients on two DBs lock the head of one
// queue until it is empty: every request is handed out exactly once.
func TestLockHeadAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	dbs := []*postgres.DB{openDB(t, url), openDB(t, url)}
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

// TestNamedStorageAcrossReplicas has replicas get-or-create one named
// storage at the same time: they all get the same one.
func TestNamedStorageAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	dbs := []*postgres.DB{openDB(t, url), openDB(t, url)}
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

// TestActorNameAcrossReplicas has replicas create actors of one name at
// the same time: exactly one succeeds, the others get
// actor-name-not-unique.
func TestActorNameAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	dbs := []*postgres.DB{openDB(t, url), openDB(t, url)}
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

// TestDatasetPushesAcrossReplicas has runs on two replicas push batches to
// one dataset at the same time: every item is kept, and the items of each
// push stay together and in order.
func TestDatasetPushesAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	url := newDatabase(t)
	dbs := []*postgres.DB{openDB(t, url), openDB(t, url)}
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

// TestBadText checks that ids and names PostgreSQL cannot hold as text (NUL,
// invalid UTF-8), as a URL path may carry, are not found instead of failing
// the store.
func TestBadText(t *testing.T) {
	ctx := t.Context()
	db := openDB(t, newDatabase(t))
	r := &troupe.Run{ActID: "act1"}
	must(t, db.CreateRun(ctx, r, nil))
	for _, bad := range []string{"a\x00b", "\xff\xfe"} {
		for what, err := range map[string]error{
			"GetRun":     second(db.GetRun(ctx, bad)),
			"GetActor":   second(db.GetActor(ctx, bad)),
			"GetBuild":   second(db.GetBuild(ctx, bad)),
			"GetStorage": second(db.GetStorage(ctx, troupe.KindDataset, bad)),
			"ByName":     second(db.GetStorageByName(ctx, troupe.KindDataset, bad)),
			"GetRecord":  second(db.GetRecord(ctx, r.DefaultKeyValueStoreID, bad)),
			"GetRequest": second(db.GetRequest(ctx, r.DefaultRequestQueueID, bad)),
			"DeleteRun":  db.DeleteRun(ctx, bad),
			"UpdateRun":  second(db.UpdateRun(ctx, bad, func(*troupe.Run, troupe.StorageTx) error { return nil })),
			"DeleteRequest": db.DeleteRequest(ctx, r.DefaultRequestQueueID, bad,
				troupe.QueueCaller{ClientKey: "c"}),
		} {
			if !troupe.IsNotFound(err) {
				t.Errorf("%s(%q) = %v, want record-not-found", what, bad, err)
			}
		}
		if text, _, err := db.ReadLog(ctx, bad, 0); err != nil || len(text) != 0 {
			t.Errorf("ReadLog(%q) = %q, %v; want an empty log", bad, text, err)
		}
		if list, total, err := db.ListRuns(ctx, troupe.RunFilter{ActorID: bad}); err != nil || total != 0 || len(list) != 0 {
			t.Errorf("ListRuns(actor %q) = %d, %d, %v; want nothing", bad, len(list), total, err)
		}
		if p, err := db.ListRequests(ctx, r.DefaultRequestQueueID, troupe.RequestListOptions{After: bad}); err != nil || p.More {
			t.Errorf("ListRequests(after %q) = %v, %v", bad, p, err)
		}
	}
	// Inside JSON documents such text is escaped and kept.
	msg := "a\x00b"
	_, err := db.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		r.SetStatusMessage(msg, nil)
		return nil
	})
	must(t, err)
	if got, err := db.GetRun(ctx, r.ID); err != nil || got.StatusMessage == nil || *got.StatusMessage != msg {
		t.Fatalf("status message with a NUL: %v", err)
	}
	// A title PostgreSQL cannot store is refused as invalid.
	_, _, err = db.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindDataset, Title: new("a\x00b")})
	if got := troupe.ErrorType(err); got != troupe.ErrInvalidValue {
		t.Fatalf("storage with a NUL in its title: %v, want invalid-value", err)
	}
}

func second[T any](_ T, err error) error { return err }

// TestReopenKeepsData checks that data and counters survive a new Open, and
// that Open on a migrated database does nothing new.
func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	db, err := postgres.Open(ctx, url)
	must(t, err)
	a := &troupe.Actor{Username: "alice", Name: "scraper"}
	must(t, db.CreateActor(ctx, a))
	b := &troupe.Build{ActID: a.ID, ActorVersion: "0.0", Command: []string{"node", "main.js"}}
	must(t, db.CreateBuild(ctx, b))
	r := &troupe.Run{ActID: a.ID, BuildID: b.ID}
	must(t, db.CreateRun(ctx, r, &troupe.Record{Key: "INPUT", Value: []byte(`{"n":1}`), ContentType: "application/json"}))
	must(t, db.AppendLog(ctx, r.ID, []byte("hello\n")))
	token, err := db.Setting(ctx, "token", "secret")
	must(t, err)
	version, err := db.SchemaVersion(ctx)
	must(t, err)
	must(t, db.Close())

	db = openDB(t, url)
	if v, err := db.SchemaVersion(ctx); err != nil || v != version {
		t.Fatalf("schema version after reopen = %d, %v; want %d", v, err, version)
	}
	got, err := db.GetActorByName(ctx, "alice", "scraper")
	must(t, err)
	if got.ID != a.ID || got.Stats.TotalRuns != 1 || got.Stats.TotalBuilds != 1 {
		t.Fatalf("actor after reopen: %+v", got)
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
	b2 := &troupe.Build{ActID: a.ID, ActorVersion: "0.0"}
	must(t, db.CreateBuild(ctx, b2))
	if b2.BuildNumber != "0.0.2" {
		t.Fatalf("build number after reopen = %s, want 0.0.2", b2.BuildNumber)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := postgres.Open(ctx, "not a url ::"); err == nil {
		t.Fatal("Open with a malformed URL succeeded")
	}
	srv, err := pgtest.Shared()
	must(t, err)
	if _, err := postgres.Open(ctx, srv.URL("no_such_database")); err == nil {
		t.Fatal("Open of a database that does not exist succeeded")
	}
}

// TestMigrateRunSeq checks that the migration that numbers runs numbers
// those that exist by start time, then by id, and that runs created
// afterwards follow them.
func TestMigrateRunSeq(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	old, err := postgres.Open(ctx, url, postgres.WithSchemaVersion(2))
	must(t, err)
	started := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	insert := func(id string, at time.Time) {
		r := &troupe.Run{ID: id, ActID: "a", Status: troupe.StatusSucceeded, StartedAt: at, Version: 1,
			DefaultDatasetID: id + "d", DefaultKeyValueStoreID: id + "k", DefaultRequestQueueID: id + "q"}
		data, control, err := codec.EncodeRun(r)
		must(t, err)
		_, err = old.Pool().Exec(ctx, `INSERT INTO runs (id, act_id, status, started_at, version, default_dataset_id,
			default_key_value_store_id, default_request_queue_id, data, control) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			r.ID, r.ActID, string(r.Status), r.StartedAt, r.Version,
			r.DefaultDatasetID, r.DefaultKeyValueStoreID, r.DefaultRequestQueueID, data, control)
		must(t, err)
	}
	insert("later", started.Add(time.Second))
	for _, id := range []string{"z", "b", "y", "a"} {
		insert(id, started)
	}
	must(t, old.Close())

	db := openDB(t, url, postgres.WithClock(func() time.Time { return started }))
	created := &troupe.Run{ActID: "a"}
	must(t, db.CreateRun(ctx, created, nil))
	want := []string{"a", "b", "y", "z", created.ID, "later"}

	runs, _, err := db.ListRuns(ctx, troupe.RunFilter{})
	must(t, err)
	var got []string
	for _, r := range runs {
		got = append(got, r.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("runs after migration = %v, want %v", got, want)
	}
	if last, err := db.LastRun(ctx, "a", troupe.StatusSucceeded); err != nil || last.ID != "later" {
		t.Fatalf("LastRun = %v, %v; want later", last, err)
	}
}
