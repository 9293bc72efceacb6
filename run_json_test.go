package troupe_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

// finishedRun is a run as the API shows it after it succeeded: every field
// a started run has, the default storages, an input length and a final
// status message.
func finishedRun() *troupe.Run {
	started := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	finished := started.Add(1234 * time.Millisecond)
	code, inputLen, term := 0, 17, true
	msg := "Actor finished with exit code 0"
	r := &troupe.Run{
		ID: troupe.NewID(), ActID: troupe.NewID(), UserID: troupe.NewID(),
		StartedAt: started, FinishedAt: &finished, Status: troupe.StatusSucceeded,
		StatusMessage: &msg, IsStatusMessageTerminal: &term,
		Meta:    troupe.RunMeta{Origin: troupe.OriginAPI, ClientIP: "127.0.0.1", UserAgent: "ApifyClient/2.9.3 (linux; Node/20.11.0); isAtHome/false"},
		Stats:   troupe.RunStats{InputBodyLen: &inputLen, MemAvgBytes: 4.2e7, MemMaxBytes: 5e7, CPUAvgUsage: 12.5, DurationMillis: 1234, RunTimeSecs: 1.234},
		Options: troupe.RunOptions{Build: "0.0.1", TimeoutSecs: 3600, MemoryMbytes: 1024, DiskMbytes: 2048},
		BuildID: troupe.NewID(), BuildNumber: "0.0.1", ExitCode: &code, GeneralAccess: "FOLLOW_USER_SETTING",
		DefaultKeyValueStoreID: troupe.NewID(), DefaultDatasetID: troupe.NewID(), DefaultRequestQueueID: troupe.NewID(),
		ContainerURL: "http://127.0.0.1:40123",
		Usage:        map[string]float64{}, UsageUsd: map[string]float64{},
		PricingInfo: map[string]any{"pricingModel": "FREE"}, ChargedEventCounts: map[string]int{},
		Metamorphs: []troupe.Metamorph{}, PlatformUsageBillingModel: "USER",
	}
	r.StorageIDs = troupe.StorageIDs{
		Datasets:       map[string]string{"default": r.DefaultDatasetID},
		KeyValueStores: map[string]string{"default": r.DefaultKeyValueStoreID},
		RequestQueues:  map[string]string{"default": r.DefaultRequestQueueID},
	}
	return r
}

// BenchmarkRunMarshal measures encoding a run to JSON, as every run answer
// and every store write does.
func BenchmarkRunMarshal(b *testing.B) {
	r := finishedRun()
	b.ReportAllocs()
	for b.Loop() {
		data, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
	}
}

// BenchmarkRunUnmarshal measures decoding a run from JSON, as every store
// read does.
func BenchmarkRunUnmarshal(b *testing.B) {
	data, err := json.Marshal(finishedRun())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var r troupe.Run
		if err := json.Unmarshal(data, &r); err != nil {
			b.Fatal(err)
		}
	}
}
