package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/troupehq/troupe"
)

// Storage benchmarks. Each store benchmark has a baseline that does the
// same SQLite work bare (database/sql on the same driver, same file
// settings, a prepared statement in a loop), so that a run can report the
// store's overhead as a ratio that does not depend on the machine:
//
//	go test -run '^$' -bench 'Dataset|Record|Baseline' ./sqlite/
//
// Dataset benchmarks report items/s; record benchmarks ops/s (b.N is the
// number of records).

const (
	benchBatch     = 1000 // items per push or read
	benchItemBytes = 1024
)

// benchItem returns a dataset item of about benchItemBytes bytes.
func benchItem(i int) json.RawMessage {
	head := fmt.Sprintf(`{"n":%d,"url":"https://example.com/products/%d","title":"Product %d","price":%d.99,"text":"`, i, i, i, i%1000)
	return json.RawMessage(head + strings.Repeat("lorem ipsum ", (benchItemBytes-len(head)-2)/12) + `"}`)
}

func benchItems(from, n int) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		out[i] = benchItem(from + i)
	}
	return out
}

// openBare opens a SQLite file as the store opens its write connection,
// without the store, and creates table t shaped like dataset_items.
func openBare(b *testing.B) *sql.DB {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bare.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"+
		"&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { db.Close() })
	for _, q := range []string{
		`CREATE TABLE t (k TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL)`,
		`CREATE UNIQUE INDEX t_seq ON t (k, seq)`,
		`CREATE TABLE r (k TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (k, key))`,
	} {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

func reportItems(b *testing.B, items int) {
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkBaselineSQLiteInsert inserts batches of 1,000 1 KB rows, one
// transaction per batch, with a prepared single-row INSERT.
func BenchmarkBaselineSQLiteInsert(b *testing.B) {
	db := openBare(b)
	ctx := context.Background()
	seq := 0
	for b.Loop() {
		items := benchItems(seq, benchBatch)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO t (k, seq, data) VALUES (?, ?, ?)`)
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range items {
			if _, err := stmt.ExecContext(ctx, "DATASET0000000001", seq, []byte(it)); err != nil {
				b.Fatal(err)
			}
			seq++
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	reportItems(b, seq)
}

// BenchmarkDatasetPush pushes batches of 1,000 1 KB items.
func BenchmarkDatasetPush(b *testing.B) {
	db := openDB(b)
	ctx := context.Background()
	ds, _, err := db.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindDataset})
	must(b, err)
	n := 0
	for b.Loop() {
		if err := db.PushItems(ctx, ds.ID, benchItems(n, benchBatch)); err != nil {
			b.Fatal(err)
		}
		n += benchBatch
	}
	reportItems(b, n)
}

// benchFill is how many items the read benchmarks read from.
const benchFill = 20 * benchBatch

// BenchmarkBaselineSQLiteSelect reads windows of 1,000 rows of a 20,000-row
// table by their index range, copying each blob out.
func BenchmarkBaselineSQLiteSelect(b *testing.B) {
	db := openBare(b)
	ctx := context.Background()
	tx, err := db.Begin()
	must(b, err)
	for i, it := range benchItems(0, benchFill) {
		if _, err := tx.Exec(`INSERT INTO t (k, seq, data) VALUES (?, ?, ?)`, "DATASET0000000001", i, []byte(it)); err != nil {
			b.Fatal(err)
		}
	}
	must(b, tx.Commit())
	n := 0
	var buf []byte
	for i := 0; b.Loop(); i++ {
		lo := (i * benchBatch) % benchFill
		rows, err := db.QueryContext(ctx, `SELECT seq, data FROM t WHERE k = ? AND seq >= ? AND seq < ? ORDER BY seq`,
			"DATASET0000000001", lo, lo+benchBatch)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var seq int
			var data sql.RawBytes
			if err := rows.Scan(&seq, &data); err != nil {
				b.Fatal(err)
			}
			buf = append(buf[:0], data...)
			n++
		}
		must(b, rows.Err())
		rows.Close()
	}
	reportItems(b, n)
}

// BenchmarkDatasetRead reads windows of 1,000 items of a 20,000-item
// dataset, alternately oldest first and newest first.
func BenchmarkDatasetRead(b *testing.B) {
	db := openDB(b)
	ctx := context.Background()
	ds, _, err := db.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindDataset})
	must(b, err)
	for i := 0; i < benchFill; i += benchBatch {
		must(b, db.PushItems(ctx, ds.ID, benchItems(i, benchBatch)))
	}
	n := 0
	for i := 0; b.Loop(); i++ {
		w := troupe.ItemWindow{Offset: (i * benchBatch) % benchFill, Limit: benchBatch, Desc: i%2 == 1}
		_, err := db.ReadItems(ctx, ds.ID, w, func(_ troupe.ItemPage, item []byte) error {
			n++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportItems(b, n)
}

// benchValue is a 1 KB record value.
var benchValue = []byte(benchItem(0))

// BenchmarkBaselineSQLiteInsertRow writes one 1 KB row per transaction
// (insert or replace), like a record put.
func BenchmarkBaselineSQLiteInsertRow(b *testing.B) {
	db := openBare(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO r (k, key, value) VALUES (?, ?, ?)
			ON CONFLICT (k, key) DO UPDATE SET value = excluded.value`, "STORE000000000001", fmt.Sprintf("key-%d", i%10000), benchValue); err != nil {
			b.Fatal(err)
		}
		must(b, tx.Commit())
	}
}

// BenchmarkRecordPut puts 1 KB records (10,000 keys, then replacing them).
func BenchmarkRecordPut(b *testing.B) {
	db := openDB(b)
	ctx := context.Background()
	st, _, err := db.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindKeyValueStore})
	must(b, err)
	for i := 0; b.Loop(); i++ {
		rec := &troupe.Record{Key: fmt.Sprintf("key-%d", i%10000), Value: benchValue, ContentType: "application/json"}
		if err := db.PutRecord(ctx, st.ID, rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineSQLiteSelectRow reads one 1 KB row by primary key.
func BenchmarkBaselineSQLiteSelectRow(b *testing.B) {
	db := openBare(b)
	ctx := context.Background()
	for i := range 1000 {
		if _, err := db.Exec(`INSERT INTO r (k, key, value) VALUES (?, ?, ?)`, "STORE000000000001", fmt.Sprintf("key-%d", i), benchValue); err != nil {
			b.Fatal(err)
		}
	}
	stmt, err := db.PrepareContext(ctx, `SELECT value FROM r WHERE k = ? AND key = ?`)
	must(b, err)
	defer stmt.Close()
	for i := 0; b.Loop(); i++ {
		var v []byte
		if err := stmt.QueryRowContext(ctx, "STORE000000000001", fmt.Sprintf("key-%d", i%1000)).Scan(&v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordGet reads one 1 KB record among 1,000.
func BenchmarkRecordGet(b *testing.B) {
	db := openDB(b)
	ctx := context.Background()
	st, _, err := db.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindKeyValueStore})
	must(b, err)
	for i := range 1000 {
		must(b, db.PutRecord(ctx, st.ID, &troupe.Record{Key: fmt.Sprintf("key-%d", i), Value: benchValue}))
	}
	for i := 0; b.Loop(); i++ {
		if _, err := db.GetRecord(ctx, st.ID, fmt.Sprintf("key-%d", i%1000)); err != nil {
			b.Fatal(err)
		}
	}
}
