package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/codec"
	"github.com/troupehq/troupe/internal/sqlstore"
	"github.com/troupehq/troupe/internal/sqlstore/drivertest"
	"github.com/troupehq/troupe/notify"
	"github.com/troupehq/troupe/sqlite"
	"github.com/troupehq/troupe/storetest"
)

// openDB opens a new database file in a temporary folder and closes it when
// the test ends.
func openDB(tb testing.TB, opts ...sqlite.Option) *sqlite.DB {
	tb.Helper()
	return openPath(tb, filepath.Join(tb.TempDir(), "troupe.db"), opts...)
}

// openPath opens the database file at path and closes it when the test
// ends.
func openPath(tb testing.TB, path string, opts ...sqlite.Option) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(path, opts...)
	must(tb, err)
	tb.Cleanup(func() { must(tb, db.Close()) })
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) troupe.Store {
		if now == nil {
			return openDB(t)
		}
		return openDB(t, sqlite.WithClock(now))
	})
}

func TestDriver(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) sqlstore.Driver { return openDB(t).Driver() })
}

// TestShared opens several DBs on one file, as several troupe processes
// may; those in this process share a hub, as they would share a server's.
func TestShared(t *testing.T) {
	var mu sync.Mutex
	hubs := map[string]*notify.Hub{}
	storetest.RunShared(t, storetest.SharedFuncs{
		NewDB: func(t *testing.T) string { return filepath.Join(t.TempDir(), "troupe.db") },
		Open: func(t *testing.T, path string) troupe.Store {
			mu.Lock()
			h := hubs[path]
			if h == nil {
				h = notify.New()
				hubs[path] = h
			}
			mu.Unlock()
			return openPath(t, path, sqlite.WithHub(h))
		},
	})
}

// TestInMemory checks that ":memory:" gives a working private database (the
// whole suite runs against files, the default).
func TestInMemory(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := &troupe.Run{ActID: "a"}
	must(t, db.CreateRun(ctx, r, &troupe.Record{Key: "INPUT", Value: []byte("{}")}))
	ch, stop := db.Watch(r.ID)
	defer stop()
	_, err = db.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error { return r.MarkRunning(troupe.Now()) })
	must(t, err)
	<-ch
	got, err := db.GetRun(ctx, r.ID)
	must(t, err)
	if got.Status != troupe.StatusRunning {
		t.Fatalf("status = %s, want RUNNING", got.Status)
	}
	if _, err := db.GetRecord(ctx, r.DefaultKeyValueStoreID, "INPUT"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenBadPath(t *testing.T) {
	_, err := sqlite.Open(filepath.Join(t.TempDir(), "no", "such", "dir", "troupe.db"))
	if err == nil {
		t.Fatal("Open in a folder that does not exist succeeded")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Hot-path benchmarks (compare runs with benchstat).

func benchRun(b *testing.B, db *sqlite.DB) *troupe.Run {
	b.Helper()
	r := &troupe.Run{ActID: "actor", Status: troupe.StatusRunning}
	must(b, db.CreateRun(context.Background(), r, &troupe.Record{Key: "INPUT", Value: []byte("{}")}))
	return r
}

// BenchmarkUpdateRun measures one status transition through UpdateRun.
func BenchmarkUpdateRun(b *testing.B) {
	db := openDB(b)
	ctx := context.Background()
	r := benchRun(b, db)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_, err := db.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
			if i%2 == 0 {
				return r.BeginTimeout() // RUNNING → TIMING-OUT
			}
			r.Status = troupe.StatusRunning
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendLog measures appending one log line.
func BenchmarkAppendLog(b *testing.B) {
	db := openDB(b)
	ctx := context.Background()
	line := []byte("2025-03-01T12:00:00.000Z INFO  PlaywrightCrawler: Crawled 120/1000 pages, 0 failed requests.\n")
	for b.Loop() {
		if err := db.AppendLog(ctx, "run", line); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRuns opens a database holding n runs and returns their ids.
func benchRuns(b *testing.B, n int) (*sqlite.DB, []string) {
	db := openDB(b)
	ids := make([]string, 0, n)
	for range n {
		ids = append(ids, benchRun(b, db).ID)
	}
	return db, ids
}

// BenchmarkGetRun measures reading one run among many.
func BenchmarkGetRun(b *testing.B) {
	db, ids := benchRuns(b, 1000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := db.GetRun(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunStatus measures the look at a run's status that
// waitForFinish takes at each change of the run, against BenchmarkGetRun.
func BenchmarkRunStatus(b *testing.B) {
	db, ids := benchRuns(b, 1000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := db.RunStatus(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetRunParallel measures concurrent reads from the read pool.
func BenchmarkGetRunParallel(b *testing.B) {
	db := openDB(b)
	ctx := context.Background()
	r := benchRun(b, db)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.GetRun(ctx, r.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkListRuns measures the first page of an actor's runs, newest
// first, with its total, at two table sizes.
func BenchmarkListRuns(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			db := openDB(b)
			ctx := context.Background()
			for range n {
				benchRun(b, db)
			}
			b.ResetTimer()
			for b.Loop() {
				list, total, err := db.ListRuns(ctx, troupe.RunFilter{ActorID: "actor",
					ListOptions: troupe.ListOptions{Limit: 10, Desc: true}})
				if err != nil || total != n || len(list) != 10 {
					b.Fatalf("ListRuns: %d items, total %d, %v", len(list), total, err)
				}
			}
		})
	}
}

// TestMigrateRunSeq checks that the migration that numbers runs numbers
// those that exist by start time, then in the order they were inserted, and
// that runs created afterwards follow them.
func TestMigrateRunSeq(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "troupe.db")
	old, err := sqlite.Open(path, sqlite.WithSchemaVersion(4))
	must(t, err)
	started := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var want []string
	insert := func(id string, at time.Time) {
		r := &troupe.Run{ID: id, ActID: "a", Status: troupe.StatusSucceeded, StartedAt: at, Version: 1,
			DefaultDatasetID: id + "d", DefaultKeyValueStoreID: id + "k", DefaultRequestQueueID: id + "q"}
		data, control, err := codec.EncodeRun(r)
		must(t, err)
		must(t, old.Exec(ctx, `INSERT INTO runs (id, act_id, status, started_at, version, default_dataset_id,
			default_key_value_store_id, default_request_queue_id, data, control) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.ActID, string(r.Status), r.StartedAt.UnixMilli(), r.Version,
			r.DefaultDatasetID, r.DefaultKeyValueStoreID, r.DefaultRequestQueueID, data, control))
	}
	insert("later", started.Add(time.Second)) // inserted first, listed last
	for _, id := range []string{"z", "b", "y", "a"} {
		insert(id, started)
		want = append(want, id)
	}
	want = append(want, "later")
	must(t, old.Close())

	db, err := sqlite.Open(path, sqlite.WithClock(func() time.Time { return started }))
	must(t, err)
	defer db.Close()
	created := &troupe.Run{ActID: "a"}
	must(t, db.CreateRun(ctx, created, nil))
	want = slices.Insert(want, 4, created.ID)

	if got := storetest.ListRunIDs(t, db, troupe.RunFilter{}); !slices.Equal(got, want) {
		t.Fatalf("runs after migration = %v, want %v", got, want)
	}
	if last, err := db.LastRun(ctx, "a", troupe.StatusSucceeded); err != nil || last.ID != "later" {
		t.Fatalf("LastRun = %v, %v; want later", last, err)
	}
}
