package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
	"github.com/troupehq/troupe/sqlite"
)

// Run read benchmarks through the whole handler (routing, token check,
// store read on a real SQLite file, JSON envelope), without a network:
//
//	go test -run '^$' -bench 'APIGetRun|APIListRuns' ./api/

// benchRunServer returns the API handler on a SQLite file holding n
// finished runs, and their ids.
func benchRunServer(b *testing.B, n int) (http.Handler, []string) {
	b.Helper()
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "troupe.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ids := make([]string, n)
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range ids {
		started := start.Add(time.Duration(i) * time.Second)
		finished := started.Add(1234 * time.Millisecond)
		code, msg, term := 0, "Actor finished with exit code 0", true
		r := &troupe.Run{ActID: "ACTOR000000000001", UserID: userID, StartedAt: started, FinishedAt: &finished,
			Status: troupe.StatusSucceeded, StatusMessage: &msg, IsStatusMessageTerminal: &term, ExitCode: &code,
			Meta:    troupe.RunMeta{Origin: troupe.OriginAPI, ClientIP: "127.0.0.1", UserAgent: "ApifyClient/2.9.3"},
			Stats:   troupe.RunStats{DurationMillis: 1234, RunTimeSecs: 1.234},
			Options: troupe.RunOptions{Build: "0.0.1", TimeoutSecs: 3600, MemoryMbytes: 1024, DiskMbytes: 2048},
			BuildID: "BUILD000000000001", BuildNumber: "0.0.1", GeneralAccess: "FOLLOW_USER_SETTING",
			PricingInfo: map[string]any{"pricingModel": "FREE"}, PlatformUsageBillingModel: "USER"}
		if err := db.CreateRun(context.Background(), r, nil); err != nil {
			b.Fatal(err)
		}
		ids[i] = r.ID
	}
	return api.New(api.Config{Store: db, Token: adminToken, UserID: userID, Username: username}), ids
}

func benchServe(b *testing.B, h http.Handler, url string) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s = %d %.200s", url, rec.Code, rec.Body.Bytes())
	}
	b.SetBytes(int64(rec.Body.Len()))
}

// BenchmarkAPIGetRun measures GET /v2/actor-runs/{id}, the request that
// clients poll.
func BenchmarkAPIGetRun(b *testing.B) {
	h, ids := benchRunServer(b, 100)
	for i := 0; b.Loop(); i++ {
		benchServe(b, h, "/v2/actor-runs/"+ids[i%len(ids)])
	}
}

// BenchmarkAPIListRuns measures a page of the 1,000 newest runs with the
// total.
func BenchmarkAPIListRuns(b *testing.B) {
	h, _ := benchRunServer(b, 1000)
	for b.Loop() {
		benchServe(b, h, "/v2/actor-runs?desc=1&limit=1000")
	}
}
