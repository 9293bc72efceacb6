package sqlite_test

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/sqlite"
)

// BenchmarkCreateRun measures storing a new run with its three default
// storages and its INPUT record in one transaction, the store's share of
// every run start.
func BenchmarkCreateRun(b *testing.B) {
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "troupe.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ctx := context.Background()
	input := &troupe.Record{Key: "INPUT", Value: []byte(`{"startUrls":[{"url":"https://example.com"}]}`),
		ContentType: "application/json; charset=utf-8"}
	for b.Loop() {
		r := &troupe.Run{ActID: "ACTOR000000000001", Status: troupe.StatusReady,
			Options: troupe.RunOptions{Build: "0.0.1", TimeoutSecs: 3600, MemoryMbytes: 1024}}
		if err := db.CreateRun(ctx, r, input); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunLifecycle measures the store's work for one run as the
// end-to-end benchmark makes it, from 8 goroutines at once: the start
// (CreateRun), the controller's first read, waitForFinish's look at the
// status, RUNNING with the process id, another look, the log, the final
// status, and the read that answers waitForFinish.
func BenchmarkRunLifecycle(b *testing.B) {
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "troupe.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ctx := context.Background()
	input := &troupe.Record{Key: "INPUT", Value: []byte(`{}`), ContentType: "application/json; charset=utf-8"}
	b.SetParallelism(8 / max(1, runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			now, bodyLen := time.Now(), 2
			r := &troupe.Run{ActID: "ACTOR000000000001", UserID: "USER0000000000001", Status: troupe.StatusReady,
				Meta:  troupe.RunMeta{Origin: "API", ClientIP: "127.0.0.1", UserAgent: "bench"},
				Stats: troupe.RunStats{InputBodyLen: &bodyLen}, BuildID: "BUILD000000000001", BuildNumber: "0.0.1",
				Options:       troupe.RunOptions{Build: "latest", TimeoutSecs: 3600, MemoryMbytes: 1024, DiskMbytes: 2048},
				GeneralAccess: "FOLLOW_USER_SETTING", Usage: map[string]float64{}, UsageUsd: map[string]float64{},
				PricingInfo: troupe.FreePricing(now), ChargedEventCounts: map[string]int{}, Metamorphs: []troupe.Metamorph{},
				PlatformUsageBillingModel: "USER", Control: troupe.RunControl{Generation: 1, InputKey: "INPUT"}}
			must(b, db.CreateRun(ctx, r, input))
			_, err := db.GetRun(ctx, r.ID)
			must(b, err)
			_, err = db.RunStatus(ctx, r.ID)
			must(b, err)
			_, err = db.UpdateRun(ctx, r.ID, func(run *troupe.Run, _ troupe.StorageTx) error {
				run.Control.PID = 42
				return run.MarkRunning(time.Now())
			})
			must(b, err)
			_, err = db.RunStatus(ctx, r.ID)
			must(b, err)
			must(b, db.AppendLog(ctx, r.ID, []byte("2026-01-01T00:00:00.000Z start\n2026-01-01T00:00:00.001Z exit\n")))
			_, err = db.UpdateRun(ctx, r.ID, func(run *troupe.Run, _ troupe.StorageTx) error {
				return run.Finish(0, time.Now())
			})
			must(b, err)
			_, err = db.GetRun(ctx, r.ID)
			must(b, err)
		}
	})
}
