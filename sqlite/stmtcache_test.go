package sqlite

import (
	"context"
	"database/sql/driver"
	"path/filepath"
	"testing"
)

// A transaction of a connection that caches its BEGIN and COMMIT ends
// cleanly whatever happens to its context: a BEGIN or COMMIT under a done
// context fails and leaves no transaction open behind database/sql's back,
// so the connection's next transaction begins.
func TestCachedTxWithDoneContext(t *testing.T) {
	c, err := openConnector("file:" + filepath.Join(t.TempDir(), "t.db") + "?_txlock=immediate")
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
	exec := func(ctx context.Context, q string, args ...driver.NamedValue) error {
		_, err := conn.ExecContext(ctx, q, args)
		return err
	}
	if err := exec(t.Context(), "CREATE TABLE t (v INTEGER)"); err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := conn.BeginTx(done, driver.TxOptions{}); err == nil {
		t.Fatal("BEGIN with a done context succeeded")
	}

	// COMMIT under a context that ended after BEGIN: nothing is kept.
	ctx, cancel := context.WithCancel(t.Context())
	tx, err := conn.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		t.Fatalf("BEGIN after a failed one: %v", err)
	}
	if err := exec(t.Context(), "INSERT INTO t (v) VALUES (?)", driver.NamedValue{Ordinal: 1, Value: int64(1)}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := tx.Commit(); err == nil {
		t.Fatal("COMMIT with a done context succeeded")
	}

	// The connection works as before: a transaction commits.
	tx, err = conn.BeginTx(t.Context(), driver.TxOptions{})
	if err != nil {
		t.Fatalf("BEGIN after a failed COMMIT: %v", err)
	}
	if err := exec(t.Context(), "INSERT INTO t (v) VALUES (?)", driver.NamedValue{Ordinal: 1, Value: int64(2)}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(t.Context(), "SELECT group_concat(v) FROM t WHERE v > ?", []driver.NamedValue{{Ordinal: 1, Value: int64(0)}})
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]driver.Value, 1)
	if err := rows.Next(vals); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if got := string(vals[0].(string)); got != "2" {
		t.Fatalf("rows kept: %q, want only the committed 2", got)
	}
}
