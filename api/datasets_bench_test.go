package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
	"github.com/troupehq/troupe/sqlite"
)

// End-to-end storage benchmarks: HTTP requests to the real API on a real
// SQLite file, each with a baseline that does the same SQLite work bare in
// the same run, so the API's cost is a ratio:
//
//	go test -run '^$' -bench 'API|Baseline' ./api/

const (
	apiBenchBatch = 1000
	apiBenchItem  = 1024
)

func apiBenchItemText(i int) string {
	head := fmt.Sprintf(`{"n":%d,"url":"https://example.com/products/%d","title":"Product %d","text":"`, i, i, i)
	return head + strings.Repeat("lorem ipsum ", (apiBenchItem-len(head)-2)/12) + `"}`
}

// apiBenchBody is a push body of apiBenchBatch items from item from.
func apiBenchBody(from int) []byte {
	parts := make([]string, apiBenchBatch)
	for i := range parts {
		parts[i] = apiBenchItemText(from + i)
	}
	return []byte("[" + strings.Join(parts, ",") + "]")
}

// benchServer starts the API on a SQLite file.
func benchServer(b *testing.B) (*httptest.Server, troupe.Store) {
	b.Helper()
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "troupe.db"))
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Store: db, Token: adminToken, UserID: userID, Username: username}))
	b.Cleanup(func() {
		srv.Close()
		db.Close()
	})
	return srv, db
}

func benchDo(b *testing.B, method, url string, body []byte, status int) []byte {
	b.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != status {
		b.Fatalf("%s %s = %d %.200s (%v)", method, url, resp.StatusCode, data, err)
	}
	return data
}

// openBareDB opens a SQLite file with the store's write settings and a
// table shaped like dataset_items.
func openBareDB(b *testing.B) *sql.DB {
	b.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "bare.db")+"?_pragma=busy_timeout(10000)"+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_txlock=immediate")
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

// BenchmarkBaselineSQLiteInsert inserts 1,000 1 KB rows per transaction
// with a prepared statement: the floor under BenchmarkAPIDatasetPush.
func BenchmarkBaselineSQLiteInsert(b *testing.B) {
	db := openBareDB(b)
	ctx := context.Background()
	seq := 0
	for b.Loop() {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO t (k, seq, data) VALUES (?, ?, ?)`)
		if err != nil {
			b.Fatal(err)
		}
		for range apiBenchBatch {
			if _, err := stmt.ExecContext(ctx, "DATASET0000000001", seq, []byte(apiBenchItemText(seq))); err != nil {
				b.Fatal(err)
			}
			seq++
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkAPIDatasetPush POSTs batches of 1,000 1 KB items (1 MB bodies).
func BenchmarkAPIDatasetPush(b *testing.B) {
	srv, db := benchServer(b)
	ds, _, err := db.CreateStorage(context.Background(), &troupe.Storage{Kind: troupe.KindDataset})
	if err != nil {
		b.Fatal(err)
	}
	url := srv.URL + "/v2/datasets/" + ds.ID + "/items"
	n := 0
	for b.Loop() {
		benchDo(b, "POST", url, apiBenchBody(n), http.StatusCreated)
		n += apiBenchBatch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "items/s")
}

const apiBenchFill = 20 * apiBenchBatch

// BenchmarkBaselineSQLiteSelect reads 1,000-row windows of a 20,000-row
// table by index range: the floor under BenchmarkAPIDatasetRead.
func BenchmarkBaselineSQLiteSelect(b *testing.B) {
	db := openBareDB(b)
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	for i := range apiBenchFill {
		if _, err := tx.Exec(`INSERT INTO t (k, seq, data) VALUES (?, ?, ?)`, "DATASET0000000001", i, []byte(apiBenchItemText(i))); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	n := 0
	var buf []byte
	for i := 0; b.Loop(); i++ {
		lo := (i * apiBenchBatch) % apiBenchFill
		rows, err := db.Query(`SELECT data FROM t WHERE k = ? AND seq >= ? AND seq < ? ORDER BY seq`, "DATASET0000000001", lo, lo+apiBenchBatch)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var data sql.RawBytes
			if err := rows.Scan(&data); err != nil {
				b.Fatal(err)
			}
			buf = append(buf[:0], data...)
			n++
		}
		rows.Close()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkAPIDatasetRead GETs 1,000-item pages of a 20,000-item dataset
// as JSON.
func BenchmarkAPIDatasetRead(b *testing.B) {
	srv, db := benchServer(b)
	ctx := context.Background()
	ds, _, err := db.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindDataset})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < apiBenchFill; i += apiBenchBatch {
		items, err := troupe.SplitItems(apiBenchBody(i))
		if err != nil {
			b.Fatal(err)
		}
		if err := db.PushItems(ctx, ds.ID, items); err != nil {
			b.Fatal(err)
		}
	}
	n := 0
	for i := 0; b.Loop(); i++ {
		url := fmt.Sprintf("%s/v2/datasets/%s/items?offset=%d&limit=%d", srv.URL, ds.ID, (i*apiBenchBatch)%apiBenchFill, apiBenchBatch)
		if body := benchDo(b, "GET", url, nil, http.StatusOK); len(body) < apiBenchBatch*1000 {
			b.Fatalf("page of %d bytes", len(body))
		}
		n += apiBenchBatch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "items/s")
}

var apiBenchValue = []byte(apiBenchItemText(0))

// BenchmarkBaselineSQLiteInsertRow writes one 1 KB row per transaction:
// the floor under BenchmarkAPIRecordPut.
func BenchmarkBaselineSQLiteInsertRow(b *testing.B) {
	db := openBareDB(b)
	for i := 0; b.Loop(); i++ {
		if _, err := db.Exec(`INSERT INTO r (k, key, value) VALUES (?, ?, ?) ON CONFLICT (k, key) DO UPDATE SET value = excluded.value`,
			"STORE000000000001", fmt.Sprintf("key-%d", i%10000), apiBenchValue); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAPIRecordPut PUTs 1 KB records.
func BenchmarkAPIRecordPut(b *testing.B) {
	srv, db := benchServer(b)
	st, _, err := db.CreateStorage(context.Background(), &troupe.Storage{Kind: troupe.KindKeyValueStore})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		benchDo(b, "PUT", fmt.Sprintf("%s/v2/key-value-stores/%s/records/key-%d", srv.URL, st.ID, i%10000), apiBenchValue, http.StatusCreated)
	}
}

// BenchmarkBaselineSQLiteSelectRow reads one 1 KB row by primary key: the
// floor under BenchmarkAPIRecordGet.
func BenchmarkBaselineSQLiteSelectRow(b *testing.B) {
	db := openBareDB(b)
	for i := range 1000 {
		if _, err := db.Exec(`INSERT INTO r (k, key, value) VALUES (?, ?, ?)`, "STORE000000000001", fmt.Sprintf("key-%d", i), apiBenchValue); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; b.Loop(); i++ {
		var v []byte
		if err := db.QueryRow(`SELECT value FROM r WHERE k = ? AND key = ?`, "STORE000000000001", fmt.Sprintf("key-%d", i%1000)).Scan(&v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAPIRecordGet GETs 1 KB records.
func BenchmarkAPIRecordGet(b *testing.B) {
	srv, db := benchServer(b)
	ctx := context.Background()
	st, _, err := db.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindKeyValueStore})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if err := db.PutRecord(ctx, st.ID, &troupe.Record{Key: fmt.Sprintf("key-%d", i), Value: apiBenchValue, ContentType: "application/json"}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; b.Loop(); i++ {
		benchDo(b, "GET", fmt.Sprintf("%s/v2/key-value-stores/%s/records/key-%d", srv.URL, st.ID, i%1000), nil, http.StatusOK)
	}
}
