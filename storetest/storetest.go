// Package storetest is the conformance suite every troupe.Store passes.
//
// A store's own tests call Run with a function that opens an empty store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) troupe.Store {
//			db, err := sqlite.Open(filepath.Join(t.TempDir(), "troupe.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { db.Close() })
//			return db
//		})
//	}
//
// Each test opens its own store and the tests run in parallel. RunShared
// adds the tests of stores that share one database (reopening it, and
// concurrent changes through several stores).
package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/artifacttest"
)

// OpenFunc returns a new, empty store for one test and arranges (with
// t.Cleanup) for it to be closed. The store reads the time from now, or
// from its default clock when now is nil.
type OpenFunc func(t *testing.T, now func() time.Time) troupe.Store

// Run runs the whole suite against the stores open returns.
func Run(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s troupe.Store)
	}{
		{"Actor/CRUD", testActorCRUD},
		{"Actor/NameNotUnique", testActorNameNotUnique},
		{"Actor/List", testActorList},
		{"Actor/UpdateError", testActorUpdateError},
		{"Actor/Stats", testActorStats},
		{"Actor/DeleteRemovesBuilds", testActorDeleteRemovesBuilds},
		{"Actor/RecreatedSameID", testActorRecreatedSameID},
		{"Build/Numbers", testBuildNumbers},
		{"Build/ConcurrentNumbers", testBuildConcurrentNumbers},
		{"Build/GetUpdateList", testBuildGetUpdateList},
		{"Build/Delete", testBuildDelete},
		{"Run/CreateWithStorages", testRunCreateWithStorages},
		{"Run/CreateIsAtomic", testRunCreateIsAtomic},
		{"Run/RoundTrip", testRunRoundTrip},
		{"Run/TimesUTCMillis", testRunTimes},
		{"Run/List", testRunList},
		{"Run/LastRun", testRunLastRun},
		{"Run/ActiveRuns", testRunActiveRuns},
		{"Run/Update", testRunUpdate},
		{"Run/Version", testRunVersion},
		{"Run/Status", testRunStatus},
		{"Run/UpdateConcurrent", testRunUpdateConcurrent},
		{"Run/UpdateFrom", testRunUpdateFrom},
		{"Run/UpdateErrorWritesNothing", testRunUpdateError},
		{"Run/UpdateRecordInTx", testRunUpdateRecordInTx},
		{"Run/Delete", testRunDelete},
		{"Run/DeleteSharedStorages", testRunDeleteSharedStorages},
		{"Run/DeleteKeepsNamedStorage", testRunDeleteKeepsNamedStorage},
		{"Log/AppendRead", testLogAppendRead},
		{"Log/ReadInParts", testLogReadInParts},
		{"Log/Marks", testLogMarks},
		{"Storage/GetOrCreate", testStorageGetOrCreate},
		{"Storage/Counters", testStorageCounters},
		{"Storage/List", testStorageList},
		{"Storage/Update", testStorageUpdate},
		{"Storage/Delete", testStorageDelete},
		{"Record/PutGetDelete", testRecordPutGetDelete},
		{"Record/NoStore", testRecordNoStore},
		{"Setting", testSetting},
		{"Watch", testWatch},
		{"Instance/Heartbeat", testInstanceHeartbeat},
		{"OddIDs", testOddIDs},
	}
	tests = append(tests, queueTests...)
	tests = append(tests, datasetTests...)
	tests = append(tests, webhookTests...)
	tests = append(tests, taskTests...)
	tests = append(tests, scheduleTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t, nil))
		})
	}
	t.Run("Webhook/Retry", func(t *testing.T) {
		t.Parallel()
		clock := &Clock{t: base}
		testWebhookRetry(t, open(t, clock.Now), clock)
	})
	t.Run("Artifact", func(t *testing.T) {
		t.Parallel()
		artifacttest.Run(t, func(t *testing.T) troupe.ArtifactStore { return open(t, nil) })
	})
	// A clock that stands still puts every run in the same millisecond.
	t.Run("Run/SameMillisecond", func(t *testing.T) {
		t.Parallel()
		testRunSameMillisecond(t, open(t, func() time.Time { return base }))
	})
}

// wantType fails t unless err is a troupe error of type typ.
func wantType(t *testing.T, err error, typ string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s", typ)
	}
	if got := troupe.ErrorType(err); got != typ {
		t.Fatalf("error type = %s (%v), want %s", got, err, typ)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}

// sameJSON fails t unless got and want serialise alike.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// base is a fixed, millisecond-precise time tests count from.
var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

func ptr[T any](v T) *T { return &v }

// newActor returns an actor that is ready to be created.
func newActor(name string) *troupe.Actor {
	return &troupe.Actor{
		ID:         troupe.NewID(),
		UserID:     "user1",
		Username:   "alice",
		Name:       name,
		CreatedAt:  base,
		ModifiedAt: base,
		Versions: []troupe.Version{{
			VersionNumber: "0.0", SourceType: troupe.SourceFolder, SourceDir: "/src/" + name, BuildTag: "latest",
			EnvVars: []troupe.EnvVar{{Name: "A", Value: "1"}},
		}},
		DefaultRunOptions: troupe.DefaultRunOptions{Build: "latest", TimeoutSecs: 60, MemoryMbytes: 1024},
		TaggedBuilds:      map[string]*troupe.TaggedBuild{},
	}
}

// newRun returns a READY run of actorID started at startedAt, with fresh
// storage ids.
func newRun(actorID string, startedAt time.Time) *troupe.Run {
	return &troupe.Run{
		ID:                     troupe.NewID(),
		ActID:                  actorID,
		UserID:                 "user1",
		StartedAt:              startedAt,
		Status:                 troupe.StatusReady,
		Meta:                   troupe.RunMeta{Origin: troupe.OriginAPI},
		Options:                troupe.RunOptions{Build: "latest", TimeoutSecs: 60, MemoryMbytes: 1024, DiskMbytes: 2048},
		BuildID:                "build1",
		BuildNumber:            "0.0.1",
		GeneralAccess:          "FOLLOW_USER_SETTING",
		DefaultDatasetID:       troupe.NewID(),
		DefaultKeyValueStoreID: troupe.NewID(),
		DefaultRequestQueueID:  troupe.NewID(),
	}
}

func createRun(t *testing.T, s troupe.Store, r *troupe.Run) *troupe.Run {
	t.Helper()
	must(t, s.CreateRun(t.Context(), r, nil))
	return r
}

// WaitSignal fails t unless ch delivers a value soon.
func WaitSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no watch signal after %s", what)
	}
}

// noSignal fails when ch holds a signal. It is called after an operation
// whose own signal was already received, so a signal for it would be
// pending by now.
func noSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("unexpected watch signal after %s", what)
	default:
	}
}

var errBoom = errors.New("boom")

// ListRunIDs returns the ids of the runs ListRuns(f) lists, in order.
func ListRunIDs(t *testing.T, s troupe.Store, f troupe.RunFilter) []string {
	t.Helper()
	runs, _, err := s.ListRuns(t.Context(), f)
	must(t, err)
	return runIDs(runs)
}

// deref returns *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
