package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/codec"
	"github.com/troupehq/troupe/internal/sqlstore"
	"github.com/troupehq/troupe/internal/sqlstore/drivertest"
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

func TestDriver(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) sqlstore.Driver { return openDB(t, newDatabase(t)).Driver() })
}

func TestShared(t *testing.T) {
	storetest.RunShared(t, storetest.SharedFuncs{
		NewDB: newDatabase,
		Open:  func(t *testing.T, url string) troupe.Store { return openDB(t, url) },
	})
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// drain empties ch, so that the next receive is caused by what follows.
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
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
	storetest.WaitSignal(t, ch, "the listening connection was restored")

	// The wake comes once the DB listens again: changes from the other
	// replica arrive again.
	_, err = a.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		r.SetStatusMessage("after the reconnect", nil)
		return nil
	})
	must(t, err)
	storetest.WaitSignal(t, ch, "a change after the reconnect")
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
		storetest.WaitSignal(t, pinged, "a quiet period")
		drain(ch)
		_, err := a.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
			r.SetStatusMessage(fmt.Sprintf("step %d", i), nil)
			return nil
		})
		must(t, err)
		storetest.WaitSignal(t, ch, "a change after a quiet period")
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

// TestBadText checks that text PostgreSQL cannot store outside a JSON
// document (a NUL) is refused as invalid-value. (That ids and names it
// cannot hold are not found is in storetest.)
func TestBadText(t *testing.T) {
	ctx := t.Context()
	db := openDB(t, newDatabase(t))
	_, _, err := db.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindDataset, Title: new("a\x00b")})
	if got := troupe.ErrorType(err); got != troupe.ErrInvalidValue {
		t.Fatalf("storage with a NUL in its title: %v, want invalid-value", err)
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

	if got := storetest.ListRunIDs(t, db, troupe.RunFilter{}); !slices.Equal(got, want) {
		t.Fatalf("runs after migration = %v, want %v", got, want)
	}
	if last, err := db.LastRun(ctx, "a", troupe.StatusSucceeded); err != nil || last.ID != "later" {
		t.Fatalf("LastRun = %v, %v; want later", last, err)
	}
}
