package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"testing"
)

// A connection that caches its BEGIN and COMMIT ends every transaction
// cleanly whatever happens to its context: a BEGIN under a done context
// fails and leaves no transaction open behind database/sql's back; a
// COMMIT, once called, commits; and through database/sql a transaction
// whose context ended before Commit is rolled back, the connection usable.
func TestCachedTxWithDoneContext(t *testing.T) {
	dsn := "file:" + filepath.Join(t.TempDir(), "t.db") + "?_txlock=immediate"
	c, err := openConnector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := c.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	conn := dc.(*stmtCacheConn)
	if conn.begin != "BEGIN IMMEDIATE" {
		t.Fatalf("begin = %q, want BEGIN IMMEDIATE (from _txlock)", conn.begin)
	}
	exec := func(q string, args ...driver.NamedValue) {
		t.Helper()
		if _, err := conn.ExecContext(t.Context(), q, args); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int64 {
		t.Helper()
		rows, err := conn.QueryContext(t.Context(), "SELECT count(*) FROM t WHERE v > ?", []driver.NamedValue{{Ordinal: 1, Value: int64(0)}})
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		vals := make([]driver.Value, 1)
		if err := rows.Next(vals); err != nil {
			t.Fatal(err)
		}
		return vals[0].(int64)
	}
	exec("CREATE TABLE t (v INTEGER)")

	done, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := conn.BeginTx(done, driver.TxOptions{}); err == nil {
		t.Fatal("BEGIN with a done context succeeded")
	}

	// The context ends after BEGIN: the COMMIT database/sql still calls
	// commits, and says so.
	ctx, cancel := context.WithCancel(t.Context())
	tx, err := conn.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		t.Fatalf("BEGIN after a failed one: %v", err)
	}
	exec("INSERT INTO t (v) VALUES (?)", driver.NamedValue{Ordinal: 1, Value: int64(1)})
	cancel()
	if err := tx.Commit(); err != nil {
		t.Fatalf("COMMIT: %v", err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d rows after a COMMIT that succeeded, want 1", n)
	}

	// Through database/sql: a context that ended before Commit rolls the
	// transaction back, and the connection goes on working.
	db, err := openDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx, cancel = context.WithCancel(t.Context())
	stx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stx.ExecContext(ctx, "INSERT INTO t (v) VALUES (?)", 2); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := stx.Commit(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit after the context ended: %v, want context canceled", err)
	}
	stx, err = db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatalf("BEGIN after a rolled-back transaction: %v", err)
	}
	if _, err := stx.ExecContext(t.Context(), "INSERT INTO t (v) VALUES (?)", 3); err != nil {
		t.Fatal(err)
	}
	if err := stx.Commit(); err != nil {
		t.Fatal(err)
	}
	var vals string
	if err := db.QueryRowContext(t.Context(), "SELECT group_concat(v) FROM (SELECT v FROM t WHERE v > ? ORDER BY v)", 0).Scan(&vals); err != nil {
		t.Fatal(err)
	}
	if vals != "1,3" {
		t.Fatalf("rows kept: %s, want 1,3 (the canceled 2 rolled back)", vals)
	}
}
