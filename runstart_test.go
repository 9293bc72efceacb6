package troupe_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

func ptr[T any](v T) *T { return &v }

func TestNewRunOptions(t *testing.T) {
	t.Parallel()
	defaults := troupe.RunDefaults{TimeoutSecs: 3600, MemoryMbytes: 1024}
	for _, tc := range []struct {
		name  string
		actor troupe.DefaultRunOptions
		opts  troupe.StartOptions
		want  troupe.RunOptions
	}{
		{"ServerDefaults", troupe.DefaultRunOptions{}, troupe.StartOptions{},
			troupe.RunOptions{Build: "latest", TimeoutSecs: 3600, MemoryMbytes: 1024, DiskMbytes: 2048}},
		{"ActorDefaults",
			troupe.DefaultRunOptions{Build: "beta", TimeoutSecs: 60, MemoryMbytes: 256, RestartOnError: true, MaxItems: ptr(5)},
			troupe.StartOptions{},
			troupe.RunOptions{Build: "beta", TimeoutSecs: 60, MemoryMbytes: 256, DiskMbytes: 512, RestartOnError: true, MaxItems: ptr(5)}},
		{"RequestOverridesActor",
			troupe.DefaultRunOptions{Build: "beta", TimeoutSecs: 60, MemoryMbytes: 256, RestartOnError: true, MaxItems: ptr(5)},
			troupe.StartOptions{Build: "0.0.3", TimeoutSecs: ptr(0), MemoryMbytes: ptr(4096), MaxItems: ptr(9), RestartOnError: ptr(false), MaxTotalChargeUsd: ptr(1.5)},
			troupe.RunOptions{Build: "0.0.3", TimeoutSecs: 0, MemoryMbytes: 4096, DiskMbytes: 8192, MaxItems: ptr(9), MaxTotalChargeUsd: ptr(1.5)}},
		{"RequestOverridesServer", troupe.DefaultRunOptions{},
			troupe.StartOptions{TimeoutSecs: ptr(5), MemoryMbytes: ptr(128)},
			troupe.RunOptions{Build: "latest", TimeoutSecs: 5, MemoryMbytes: 128, DiskMbytes: 256}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &troupe.Actor{ID: "act1", DefaultRunOptions: tc.actor}
			run, _, err := troupe.NewRun(troupe.NewRunParams{Actor: a, Build: &troupe.Build{ID: "b1", BuildNumber: "0.0.1"}, Options: tc.opts, Defaults: defaults, Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if got := run.Options; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("options = %+v, want %+v", got, tc.want)
			}
			var wantTimeout *time.Time
			if tc.want.TimeoutSecs > 0 {
				wantTimeout = ptr(t0.Add(time.Duration(tc.want.TimeoutSecs) * time.Second))
			}
			if !reflect.DeepEqual(run.Control.TimeoutAt, wantTimeout) {
				t.Errorf("timeoutAt = %v, want %v", run.Control.TimeoutAt, wantTimeout)
			}
		})
	}
}

func TestNewRunFields(t *testing.T) {
	t.Parallel()
	a := &troupe.Actor{ID: "act1"}
	b := &troupe.Build{ID: "b1", BuildNumber: "0.0.7"}
	meta := troupe.RunMeta{Origin: troupe.OriginAPI, ClientIP: "127.0.0.1", UserAgent: "ua"}
	run, in, err := troupe.NewRun(troupe.NewRunParams{Actor: a, Build: b, UserID: "u1", Meta: meta, Now: t0,
		Input: []byte(`{"x":1}`), ContentType: "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	if run.ID == "" || run.ActID != "act1" || run.UserID != "u1" || !run.StartedAt.Equal(t0) || run.Status != troupe.StatusReady || run.Meta != meta {
		t.Errorf("run = %+v", run)
	}
	if run.BuildID != "b1" || run.BuildNumber != "0.0.7" || run.Stats.InputBodyLen == nil || *run.Stats.InputBodyLen != 7 {
		t.Errorf("build %s %s, inputBodyLen %v", run.BuildID, run.BuildNumber, run.Stats.InputBodyLen)
	}
	if run.Control.Generation != 1 || run.Control.InputKey != "INPUT" {
		t.Errorf("control = %+v", run.Control)
	}
	ids := []string{run.ID, run.DefaultDatasetID, run.DefaultKeyValueStoreID, run.DefaultRequestQueueID}
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			t.Errorf("ids not distinct and set: %v", ids)
		}
		seen[id] = true
	}
	want := troupe.StorageIDs{
		Datasets:       map[string]string{"default": run.DefaultDatasetID},
		KeyValueStores: map[string]string{"default": run.DefaultKeyValueStoreID},
		RequestQueues:  map[string]string{"default": run.DefaultRequestQueueID},
	}
	if !reflect.DeepEqual(run.StorageIDs, want) {
		t.Errorf("storageIds = %+v", run.StorageIDs)
	}
	if in == nil || in.Key != "INPUT" || string(in.Value) != `{"x":1}` || in.ContentType != "application/json" {
		t.Errorf("input = %+v", in)
	}
	// The JSON a client sees has the empty collections, not nulls.
	js, _ := json.Marshal(run)
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"usage", "usageUsd", "chargedEventCounts", "metamorphs", "pricingInfo"} {
		if m[k] == nil {
			t.Errorf("%s is null", k)
		}
	}
	other, _, _ := troupe.NewRun(troupe.NewRunParams{Actor: a, Build: b, Now: t0})
	if other.ID == run.ID || other.DefaultDatasetID == run.DefaultDatasetID {
		t.Error("two runs share ids")
	}
}

func TestNewRunInput(t *testing.T) {
	t.Parallel()
	const schema = `{"properties":{"url":{"type":"string","default":"https://example.com"},"count":{"default":3},"plain":{}}}`
	for _, tc := range []struct {
		name, schema, body, contentType string
		wantValue, wantType             string // wantType "" means no record
		wantErr                         string
	}{
		{"NoBody", "", "", "", "", "", ""},
		{"Text", "", "just text", "text/plain", "just text", "text/plain", ""},
		{"NoContentType", "", "abc", "", "abc", "application/octet-stream", ""},
		{"JSONKeptAsSent", "", `{"a": 1}`, "application/json; charset=utf-8", `{"a": 1}`, "application/json; charset=utf-8", ""},
		{"BadJSON", "", `{"a":`, "application/json", "", "", troupe.ErrInputNotValidJSON},
		{"BadVendorJSON", "", `[`, "application/vnd.x+json", "", "", troupe.ErrInputNotValidJSON},
		{"BadJSONButText", "", `{"a":`, "text/plain", `{"a":`, "text/plain", ""},
		{"DefaultsMerged", schema, `{"count": 7}`, "application/json", `{"count": 7,"url":"https://example.com"}`, "application/json", ""},
		{"DefaultsIntoEmpty", schema, `{}`, "application/json", `{"count":3,"url":"https://example.com"}`, "application/json", ""},
		{"DefaultsWithoutBody", schema, "", "", `{"count":3,"url":"https://example.com"}`, "application/json; charset=utf-8", ""},
		{"DefaultsForNull", schema, " null ", "application/json", `{"count":3,"url":"https://example.com"}`, "application/json", ""},
		{"ArrayUnchanged", schema, `[1,2]`, "application/json", `[1,2]`, "application/json", ""},
		{"TextUnchanged", schema, `hi`, "text/plain", `hi`, "text/plain", ""},
		{"BadSchemaIgnored", `{"properties":`, `{}`, "application/json", `{}`, "application/json", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &troupe.Actor{ID: "act1"}
			b := &troupe.Build{ID: "b1", InputSchema: json.RawMessage(tc.schema)}
			_, in, err := troupe.NewRun(troupe.NewRunParams{Actor: a, Build: b, Input: []byte(tc.body), ContentType: tc.contentType, Now: t0})
			if got := troupe.ErrorType(err); err != nil && got != tc.wantErr || err == nil && tc.wantErr != "" {
				t.Fatalf("err = %v, want type %q", err, tc.wantErr)
			}
			if tc.wantErr != "" {
				return
			}
			if tc.wantType == "" {
				if in != nil {
					t.Errorf("input = %+v, want none", in)
				}
				return
			}
			if in == nil || in.Key != "INPUT" || string(in.Value) != tc.wantValue || in.ContentType != tc.wantType {
				t.Errorf("input = %+v, want %s (%s)", in, tc.wantValue, tc.wantType)
			}
		})
	}
}

func TestCheckRunBuild(t *testing.T) {
	t.Parallel()
	a := &troupe.Actor{ID: "act1", DefaultRunOptions: troupe.DefaultRunOptions{Build: "beta"}}
	for _, tc := range []struct {
		name    string
		b       *troupe.Build
		wantErr string
	}{
		{"Missing", nil, troupe.ErrUnknownBuildTag},
		{"Running", &troupe.Build{Status: troupe.StatusRunning}, troupe.ErrUnknownBuildTag},
		{"Failed", &troupe.Build{Status: troupe.StatusFailed}, troupe.ErrUnknownBuildTag},
		{"Succeeded", &troupe.Build{Status: troupe.StatusSucceeded}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := troupe.CheckRunBuild(a, "beta", tc.b)
			if got := troupe.ErrorType(err); err != nil && got != tc.wantErr || err == nil && tc.wantErr != "" {
				t.Errorf("err = %v, want type %q", err, tc.wantErr)
			}
		})
	}
	if got := troupe.BuildRef(a, ""); got != "beta" {
		t.Errorf("BuildRef default = %q", got)
	}
	if got := troupe.BuildRef(a, "1.2.3"); got != "1.2.3" {
		t.Errorf("BuildRef = %q", got)
	}
	if got := troupe.BuildRef(&troupe.Actor{}, ""); got != "latest" {
		t.Errorf("BuildRef without default = %q", got)
	}
}

func TestStartOptionsResurrect(t *testing.T) {
	t.Parallel()
	a := &troupe.Actor{ID: "act1"}
	run, _, err := troupe.NewRun(troupe.NewRunParams{Actor: a, Build: &troupe.Build{ID: "b1", BuildNumber: "0.0.1"},
		Options: troupe.StartOptions{MaxItems: ptr(3)}, Defaults: troupe.RunDefaults{TimeoutSecs: 60, MemoryMbytes: 512}, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.MarkRunning(t0); err != nil {
		t.Fatal(err)
	}
	if err := run.Finish(0, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(time.Hour)
	o := troupe.StartOptions{Build: "0.0.2", MemoryMbytes: ptr(2048), RestartOnError: ptr(true)}
	if err := run.Resurrect(o.Resurrect(&troupe.Build{ID: "b2", BuildNumber: "0.0.2"}), later); err != nil {
		t.Fatal(err)
	}
	want := troupe.RunOptions{Build: "0.0.2", TimeoutSecs: 60, MemoryMbytes: 2048, DiskMbytes: 4096, MaxItems: ptr(3), RestartOnError: true}
	if !reflect.DeepEqual(run.Options, want) || run.BuildID != "b2" || run.Status != troupe.StatusRunning {
		t.Errorf("resurrected run: options %+v, build %s, status %s", run.Options, run.BuildID, run.Status)
	}
	if err := run.Finish(0, later); err != nil {
		t.Fatal(err)
	}
	if err := run.Resurrect(troupe.StartOptions{}.Resurrect(nil), later); err != nil || run.BuildID != "b2" || run.Options.MemoryMbytes != 2048 {
		t.Errorf("resurrect without options changed the run: %+v (err %v)", run.Options, err)
	}
}
