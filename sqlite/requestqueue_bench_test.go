package sqlite_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

// Request queue benchmarks. Report them as a ratio to the bare one-row
// write transaction BenchmarkBaselineSQLiteInsertRow of the same run:
//
//	go test -run '^$' -bench 'BaselineSQLiteInsertRow|Queue' ./sqlite/

// benchQueue opens a store with one request queue.
func benchQueue(b *testing.B) (troupe.Store, string) {
	db := openDB(b)
	q, _, err := db.CreateStorage(b.Context(), &troupe.Storage{Kind: troupe.KindRequestQueue})
	if err != nil {
		b.Fatal(err)
	}
	return db, q.ID
}

func benchRequest(i int) *troupe.Request {
	return &troupe.Request{URL: fmt.Sprintf("http://example.com/%d", i), UserData: json.RawMessage(`{"label":"DETAIL"}`)}
}

// BenchmarkQueueCycle is one request's way through a queue as a crawler
// drives it one at a time: add it, lock the head (limit 1), mark it
// handled. Three write transactions per op.
func BenchmarkQueueCycle(b *testing.B) {
	s, q := benchQueue(b)
	ctx := b.Context()
	c := troupe.QueueCaller{ClientKey: "bench"}
	for i := 0; b.Loop(); i++ {
		if _, err := s.AddRequest(ctx, q, benchRequest(i), false, c); err != nil {
			b.Fatal(err)
		}
		h, err := s.LockHead(ctx, q, troupe.LockOptions{QueueCaller: c, Lock: time.Minute, Limit: 1})
		if err != nil || len(h.Items) != 1 {
			b.Fatalf("lock: %v, %d items", err, len(h.Items))
		}
		now := troupe.Now()
		r := benchRequest(i)
		r.ID, r.HandledAt = h.Items[0].ID, &now
		if _, err := s.UpdateRequest(ctx, q, r, false, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueueCycleBatched is the same cycle the way Crawlee drives it:
// requests added 25 per batch, the head locked 25 at a time, each request
// marked handled on its own. One op is one batch of 25; ns/request is the
// figure to compare.
func BenchmarkQueueCycleBatched(b *testing.B) {
	s, q := benchQueue(b)
	ctx := b.Context()
	c := troupe.QueueCaller{ClientKey: "bench"}
	n := 0
	for b.Loop() {
		batch := make([]*troupe.Request, troupe.MaxBatchRequests)
		for j := range batch {
			batch[j] = benchRequest(n + j)
		}
		if _, err := s.BatchAddRequests(ctx, q, batch, false, c); err != nil {
			b.Fatal(err)
		}
		h, err := s.LockHead(ctx, q, troupe.LockOptions{QueueCaller: c, Lock: time.Minute, Limit: len(batch)})
		if err != nil || len(h.Items) != len(batch) {
			b.Fatalf("lock: %v, %d items", err, len(h.Items))
		}
		now := troupe.Now()
		for j, it := range h.Items {
			r := benchRequest(n + j)
			r.ID, r.HandledAt = it.ID, &now
			if _, err := s.UpdateRequest(ctx, q, r, false, c); err != nil {
				b.Fatal(err)
			}
		}
		n += len(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/request")
}

// BenchmarkQueueLockHeadDeep locks one request at the head of a queue that
// already holds 100,000 pending requests and releases it again: the head
// query must not depend on the size of the queue.
func BenchmarkQueueLockHeadDeep(b *testing.B) {
	s, q := benchQueue(b)
	ctx := b.Context()
	c := troupe.QueueCaller{ClientKey: "bench"}
	const depth = 100_000
	batch := make([]*troupe.Request, 0, troupe.MaxBatchRequests)
	for i := range depth {
		batch = append(batch, benchRequest(i))
		if len(batch) == troupe.MaxBatchRequests {
			if _, err := s.BatchAddRequests(ctx, q, batch, false, c); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for b.Loop() {
		h, err := s.LockHead(ctx, q, troupe.LockOptions{QueueCaller: c, Lock: time.Minute, Limit: 1})
		if err != nil || len(h.Items) != 1 {
			b.Fatalf("lock: %v", err)
		}
		if err := s.DeleteRequestLock(ctx, q, h.Items[0].ID, false, c); err != nil {
			b.Fatal(err)
		}
	}
}
