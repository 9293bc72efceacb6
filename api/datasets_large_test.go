package api_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
	"github.com/troupehq/troupe/sqlite"
)

// TestDatasetLargeReadBoundedMemory reads a 200,000-item dataset (about
// 40 MB of JSON) through the API, as json and as csv, and checks that the
// server's heap grows by far less than the dataset: items are streamed, not
// loaded. It is not parallel, so that no other test's allocations count.
// Under the race detector, which makes SQLite many times slower per row, the
// dataset has 10,000 items of the same total size.
func TestDatasetLargeReadBoundedMemory(t *testing.T) {
	n, padSize := 200_000, 180
	if raceEnabled {
		n, padSize = 10_000, 3980
	}
	path := filepath.Join(t.TempDir(), "troupe.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	ds, _, err := db.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindDataset, Name: ptr("large")})
	if err != nil {
		t.Fatal(err)
	}
	fillDataset(t, path, ds.ID, n, padSize)

	srv := httptest.NewServer(api.New(api.Config{Store: db, Token: adminToken, UserID: userID, Username: username}))
	defer srv.Close()

	// Collect garbage eagerly, so that the heap tracks what is live.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	for _, c := range []struct {
		query string
		lines int // lines in the body
	}{
		{"", n + 2},
		{"?format=csv&bom=0", n + 1},
	} {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		peak := sampleHeap(t)

		req, _ := http.NewRequest("GET", srv.URL+"/v2/datasets/"+ds.ID+"/items"+c.query, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("X-Apify-Pagination-Total"); got != fmt.Sprint(n) {
			t.Fatalf("total = %s", got)
		}
		lines, size, last := countLines(t, resp.Body)
		resp.Body.Close()
		maxHeap := peak()

		if lines != c.lines || size < 30<<20 {
			t.Fatalf("GET %s: %d lines, %d bytes; want %d lines", c.query, lines, size, c.lines)
		}
		if c.query == "" && !strings.Contains(last, fmt.Sprintf(`"n":%d,`, n-1)) {
			t.Fatalf("last item %q", last)
		}
		growth := int64(maxHeap) - int64(before.HeapInuse)
		t.Logf("GET items%s: %d MB streamed, heap grew by at most %.1f MB", c.query, size>>20, float64(growth)/(1<<20))
		if growth > 16<<20 {
			t.Errorf("GET items%s: the heap grew by %d MB while %d MB were streamed", c.query, growth>>20, size>>20)
		}
	}
}

// fillDataset inserts n items {"n":i,"pad":"...","nested":{...}} with
// padSize bytes of padding into a dataset straight through SQL (pushing
// them through the store is what other tests do; this one is about
// reading).
func fillDataset(t *testing.T, path, id string, n, padSize int) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	pad := strings.Repeat("x", padSize)
	_, err = raw.Exec(`WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?)
		INSERT INTO dataset_items (dataset_id, seq, data)
		SELECT ?, i, '{"n":' || i || ',"pad":"' || ? || '","nested":{"a":' || (i % 7) || '}}' FROM c`, n-1, id, pad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE storages SET item_count = ?, clean_item_count = ? WHERE id = ?`, n, n, id); err != nil {
		t.Fatal(err)
	}
}

// sampleHeap samples HeapInuse until the returned function is called,
// which returns the largest value seen.
func sampleHeap(t *testing.T) func() uint64 {
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapInuse)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// countLines reads a body and returns its number of lines, its size and
// its last line longer than one character (the last item of a json array).
func countLines(t *testing.T, r io.Reader) (lines int, size int64, lastItem string) {
	t.Helper()
	br := bufio.NewReaderSize(r, 1<<16)
	var cur []byte
	for {
		line, err := br.ReadSlice('\n')
		size += int64(len(line))
		if len(line) > 0 && line[len(line)-1] == '\n' {
			lines++
		}
		if len(bytes.TrimSpace(line)) > 1 {
			cur = append(cur[:0], line...)
		}
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			t.Fatal(err)
		}
	}
	return lines, size, string(cur)
}

func ptr[T any](v T) *T { return &v }
