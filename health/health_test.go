package health_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/troupehq/troupe/health"
	"github.com/troupehq/troupe/sqlite"
)

func get(h http.Handler) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	return rec.Code, rec.Body.String()
}

// TestReady: ready with a store that answers and a running controller; 503
// naming the check once the controller stops or the store is closed.
func TestReady(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "troupe.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var running atomic.Bool
	running.Store(true)
	ready := health.Ready(health.ReadyConfig{Store: db, Running: running.Load})

	for _, step := range []struct {
		name     string
		change   func()
		code     int
		body     string
		liveCode int
	}{
		{"store answers, controller runs", func() {}, 200, "ok\n", 200},
		{"controller stopped", func() { running.Store(false) }, 503, "not ready: controller not running\n", 200},
		{"controller runs again", func() { running.Store(true) }, 200, "ok\n", 200},
		{"store closed", func() { db.Close() }, 503, "not ready: store not answering\n", 200},
	} {
		step.change()
		if code, body := get(ready); code != step.code || body != step.body {
			t.Errorf("%s: /readyz %d %q, want %d %q", step.name, code, body, step.code, step.body)
		}
		if code, _ := get(health.Live()); code != step.liveCode {
			t.Errorf("%s: /healthz %d, want %d", step.name, code, step.liveCode)
		}
	}
}
