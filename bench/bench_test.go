package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuickRun runs the benchmark command end to end in its quick mode and
// checks that it reports every scenario of the performance issue, in JSON
// on stdout and as a table on stderr. It asserts no timings: quick figures
// mean nothing.
func TestQuickRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "bench")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--quick", "--json")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench --quick --json: %v\nstderr:\n%s", err, stderr.String())
	}

	var rep struct {
		Quick bool `json:"quick"`
		Rows  []struct {
			Scenario   string   `json:"scenario"`
			Count      int      `json:"count"`
			P50Ms      *float64 `json:"p50Ms"`
			Throughput *float64 `json:"throughput"`
			ValueMB    *float64 `json:"valueMB"`
			Baseline   string   `json:"baseline"`
			Ratio      *float64 `json:"ratio"`
			Note       string   `json:"note"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if !rep.Quick {
		t.Error("report does not say it was a quick run")
	}

	// Each scenario of the issue, by the start of its row's name, and
	// whether it is measured against a baseline.
	want := []struct {
		prefix   string
		baseline bool
	}{
		{"start latency", true},
		{"start latency: p99 ÷ p50", true},
		{"finish-to-wake", true},
		{"end-to-end", true},
		{"abort immediate", true},
		{"abort graceful", true},
		{"API GET run", true},
		{"20 live runs: server RSS", true},
		{"20 live runs: GET run", true},
		{"growth: start latency, 1k stored", false},
		{"growth: start latency, 4k stored", true},
		{"growth: list page of 1,000 runs, 1k stored", false},
		{"growth: list page of 1,000 runs, 4k stored", true},
		{"console: runs list first page, 4,000 stored", true},
		{"storages", false},
		{"sandbox: start latency", true},
		{"sandbox: end-to-end", true},
		{"SDK actor", true},
	}
	table := stderr.String()
	for _, w := range want {
		found := false
		for _, r := range rep.Rows {
			if !strings.HasPrefix(r.Scenario, w.prefix) {
				continue
			}
			found = true
			if w.prefix == "SDK actor" && strings.HasPrefix(r.Note, "skipped: ") {
				// Without node and npm the scenario says why it did not run.
				t.Logf("%s: %s", r.Scenario, r.Note)
				continue
			}
			if !strings.HasPrefix(w.prefix, "storages") && r.Count == 0 {
				t.Errorf("%s: count 0", r.Scenario)
			}
			if r.P50Ms == nil && r.Throughput == nil && r.ValueMB == nil && r.Note == "" {
				t.Errorf("%s: no figure and no note", r.Scenario)
			}
			if w.baseline && (r.Baseline == "" || r.Ratio == nil) {
				t.Errorf("%s: no baseline or ratio", r.Scenario)
			}
			if !strings.Contains(table, r.Scenario) {
				t.Errorf("the table on stderr lacks the row %q", r.Scenario)
			}
		}
		if !found {
			t.Errorf("no row for scenario %q", w.prefix)
		}
	}
	if !strings.Contains(table, "baseline (same run)") {
		t.Errorf("stderr has no result table:\n%s", table)
	}
}
