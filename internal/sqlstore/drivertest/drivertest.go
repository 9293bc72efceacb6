// Package drivertest is the suite every sqlstore.Driver passes: the
// contract the store core relies on, checked on a migrated database.
//
// A driver's own tests call Run with a function that returns the driver of
// a newly opened, empty store:
//
//	func TestDriver(t *testing.T) {
//		drivertest.Run(t, func(t *testing.T) sqlstore.Driver { return openDB(t).Driver() })
//	}
package drivertest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/sqlstore"
)

// OpenFunc returns the driver of a new, empty, migrated store for one test
// and arranges (with t.Cleanup) for the store to be closed.
type OpenFunc func(t *testing.T) sqlstore.Driver

// Run runs the suite against the drivers open returns.
func Run(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d sqlstore.Driver)
	}{
		{"WriteCommits", testWriteCommits},
		{"WriteRollsBack", testWriteRollsBack},
		{"ReadSnapshot", testReadSnapshot},
		{"Lock", testLock},
		{"Time", testTime},
		{"Text", testText},
		{"Items", testItems},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// q rebinds the suite's SQL for d.
func q(d sqlstore.Driver, query string) string {
	if rb := d.Dialect().Rebind; rb != nil {
		return rb(query)
	}
	return query
}

// setting reads a setting through the read pool; "" when there is none.
func setting(t *testing.T, d sqlstore.Driver, key string) string {
	t.Helper()
	var v string
	err := d.ReadDB().QueryRowContext(t.Context(), q(d, `SELECT value FROM settings WHERE key = ?`), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return ""
	}
	must(t, err)
	return v
}

func put(ctx context.Context, d sqlstore.Driver, tx *sql.Tx, key, value string) error {
	_, err := tx.ExecContext(ctx, q(d, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`), key, value)
	return err
}

// testWriteCommits: what fn writes is there after Write returns nil.
func testWriteCommits(t *testing.T, d sqlstore.Driver) {
	ctx := t.Context()
	must(t, d.Write(ctx, func(tx *sql.Tx) error { return put(ctx, d, tx, "k", "v") }))
	if got := setting(t, d, "k"); got != "v" {
		t.Fatalf("after a committed write, setting = %q, want v", got)
	}
}

// testWriteRollsBack: an error from fn comes back and nothing fn wrote is
// kept.
func testWriteRollsBack(t *testing.T, d sqlstore.Driver) {
	ctx := t.Context()
	boom := errors.New("boom")
	err := d.Write(ctx, func(tx *sql.Tx) error {
		if err := put(ctx, d, tx, "k", "v"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want fn's error", err)
	}
	if got := setting(t, d, "k"); got != "" {
		t.Fatalf("after a failed write, setting = %q, want none", got)
	}
}

// testReadSnapshot: the queries of one Read see one snapshot, even when a
// write commits between them.
func testReadSnapshot(t *testing.T, d sqlstore.Driver) {
	ctx := t.Context()
	must(t, d.Write(ctx, func(tx *sql.Tx) error { return put(ctx, d, tx, "k", "old") }))
	err := d.Read(ctx, func(tx *sql.Tx) error {
		read := func() string {
			var v string
			must(t, tx.QueryRowContext(ctx, q(d, `SELECT value FROM settings WHERE key = ?`), "k").Scan(&v))
			return v
		}
		if v := read(); v != "old" {
			t.Fatalf("first read = %q, want old", v)
		}
		must(t, d.Write(ctx, func(tx *sql.Tx) error { return put(ctx, d, tx, "k", "new") }))
		if v := read(); v != "old" {
			t.Fatalf("second read in the same transaction = %q, want old", v)
		}
		return nil
	})
	must(t, err)
	if got := setting(t, d, "k"); got != "new" {
		t.Fatalf("after the read, setting = %q, want new", got)
	}
}

// testLock: transactions that take one lock take turns, so read-modify-
// write increments made under it are never lost.
func testLock(t *testing.T, d sqlstore.Driver) {
	ctx := t.Context()
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				err := d.Write(ctx, func(tx *sql.Tx) error {
					if err := d.Lock(ctx, tx, "counter"); err != nil {
						return err
					}
					var v string
					err := tx.QueryRowContext(ctx, q(d, `SELECT value FROM settings WHERE key = ?`), "n").Scan(&v)
					if err != nil && !errors.Is(err, sql.ErrNoRows) {
						return err
					}
					n, _ := strconv.Atoi(v)
					return put(ctx, d, tx, "n", strconv.Itoa(n+1))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := setting(t, d, "n"); got != strconv.Itoa(writers*each) {
		t.Fatalf("counter = %s after %d locked increments", got, writers*each)
	}
}

// testTime: a time stored as Dialect().Time reads back through NullTime in
// UTC at millisecond precision, and stored times compare in time order.
func testTime(t *testing.T, d sqlstore.Driver) {
	ctx := t.Context()
	dl := d.Dialect()
	at := time.Date(2025, 3, 1, 13, 0, 0, 123000000, time.FixedZone("UTC+1", 3600))
	must(t, d.Write(ctx, func(tx *sql.Tx) error {
		for i, v := range []time.Time{at, at.Add(-time.Millisecond), at.Add(time.Hour)} {
			if _, err := tx.ExecContext(ctx, q(d, `INSERT INTO instances (name, heartbeat_at) VALUES (?, ?)`),
				fmt.Sprint("i", i), dl.Time(v)); err != nil {
				return err
			}
		}
		return nil
	}))
	var got sqlstore.NullTime
	must(t, d.ReadDB().QueryRowContext(ctx, q(d, `SELECT heartbeat_at FROM instances WHERE name = ?`), "i0").Scan(&got))
	if !got.Valid || !got.T.Equal(at) || got.T.Location() != time.UTC {
		t.Fatalf("time read back = %v (valid %v), want %v in UTC", got.T, got.Valid, at)
	}
	var n int
	must(t, d.ReadDB().QueryRowContext(ctx, q(d, `SELECT COUNT(*) FROM instances WHERE heartbeat_at > ?`),
		dl.Time(at)).Scan(&n))
	if n != 1 {
		t.Fatalf("%d stored times after %v, want 1", n, at)
	}
	var null sqlstore.NullTime
	must(t, d.ReadDB().QueryRowContext(ctx, `SELECT NULL`).Scan(&null))
	if null.Valid || null.Ptr() != nil {
		t.Fatalf("NULL read as time %v", null.T)
	}
}

// testText: text ValidText refuses makes the database fail in a way
// BadText recognises (the core turns it into not-found); a second insert
// of one key is a unique violation Unique names.
func testText(t *testing.T, d sqlstore.Driver) {
	ctx := t.Context()
	dl := d.Dialect()
	for _, s := range []string{"a\x00b", "\xff\xfe"} {
		if dl.ValidText == nil || dl.ValidText(s) {
			if got := setting(t, d, s); got != "" {
				t.Fatalf("setting %q = %q, want none", s, got)
			}
			continue
		}
		err := d.ReadDB().QueryRowContext(ctx, q(d, `SELECT value FROM settings WHERE key = ?`), s).Scan(new(string))
		if dl.BadText == nil || !dl.BadText(err) {
			t.Fatalf("query with key %q: %v, which BadText does not recognise", s, err)
		}
	}
	if dl.ValidText != nil && !dl.ValidText("plain é text") {
		t.Fatal("ValidText refuses plain UTF-8")
	}
	if dl.Unique == nil {
		return
	}
	err := d.Write(ctx, func(tx *sql.Tx) error {
		for range 2 {
			if _, err := tx.ExecContext(ctx, q(d, `INSERT INTO settings (key, value) VALUES (?, ?)`), "k", "v"); err != nil {
				return err
			}
		}
		return nil
	})
	if c, ok := dl.Unique(err); !ok || c != "settings_pkey" {
		t.Fatalf("second insert of a key: %v; Unique = %q, %v, want settings_pkey", err, c, ok)
	}
}

// testItems: items InsertItems writes are read back by ReadItems in seq
// order, ascending and descending, within the range asked for.
func testItems(t *testing.T, d sqlstore.Driver) {
	ctx := t.Context()
	core := sqlstore.New(d, troupe.Now)
	ds, _, err := core.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindDataset})
	must(t, err)
	var data []byte
	var ends []int
	const n = 150
	for i := range n {
		data = fmt.Appendf(data, `{"i":%d}`, i)
		ends = append(ends, len(data))
	}
	must(t, d.Write(ctx, func(tx *sql.Tx) error { return d.InsertItems(ctx, tx, ds.ID, 0, data, ends) }))
	for _, desc := range []bool{false, true} {
		var buf []byte
		var got []int
		lo, hi := 10, 140
		for lo < hi {
			var chunkEnds []int
			buf = buf[:0]
			last, err := d.ReadItems(ctx, ds.ID, lo, hi, desc, &buf, &chunkEnds)
			must(t, err)
			if len(chunkEnds) == 0 {
				t.Fatalf("desc %v: an empty chunk of [%d, %d)", desc, lo, hi)
			}
			start := 0
			for _, end := range chunkEnds {
				var it struct{ I int }
				if err := jsonInt(buf[start:end], &it.I); err != nil {
					t.Fatal(err)
				}
				got = append(got, it.I)
				start = end
			}
			if desc {
				hi = last
			} else {
				lo = last + 1
			}
		}
		if len(got) != 130 {
			t.Fatalf("desc %v: read %d items of [10, 140), want 130", desc, len(got))
		}
		for k, i := range got {
			want := 10 + k
			if desc {
				want = 139 - k
			}
			if i != want {
				t.Fatalf("desc %v: item %d is %d, want %d", desc, k, i, want)
			}
		}
	}
}

// jsonInt reads the number of a one-field item {"i":N}.
func jsonInt(b []byte, v *int) error {
	_, err := fmt.Sscanf(string(b), `{"i":%d}`, v)
	return err
}
