package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/troupehq/troupe"
)

const schemaWithDefaults = `{"title":"in","type":"object","properties":{
	"url":{"type":"string","default":"https://example.com"},
	"count":{"type":"integer","default":3},
	"plain":{"type":"string"}}}`

func TestStartRun(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("starter", "")

	t.Run("Defaults", func(t *testing.T) {
		r := b.call("POST", "/v2/actors/"+a.ID+"/runs", nil)
		var run troupe.Run
		r.ok(t, http.StatusCreated, &run)
		if loc := r.header.Get("Location"); loc != b.srv.URL+"/v2/actor-runs/"+run.ID {
			t.Errorf("Location = %q", loc)
		}
		if run.Status != troupe.StatusReady || run.ActID != a.ID || run.UserID != userID || run.Meta.Origin != "API" {
			t.Errorf("run = %+v", run)
		}
		o := run.Options
		if o.Build != "latest" || o.TimeoutSecs != 3600 || o.MemoryMbytes != 1024 || o.DiskMbytes != 2048 || o.MaxItems != nil {
			t.Errorf("options = %+v", o)
		}
		if run.BuildNumber != "0.0.1" || run.BuildID == "" || run.GeneralAccess != "FOLLOW_USER_SETTING" ||
			run.PlatformUsageBillingModel != "USER" || run.PricingInfo["pricingModel"] != "FREE" || run.Metamorphs == nil {
			t.Errorf("run = %+v", run)
		}
		ids := run.StorageIDs
		if run.DefaultDatasetID == "" || ids.Datasets["default"] != run.DefaultDatasetID ||
			ids.KeyValueStores["default"] != run.DefaultKeyValueStoreID || ids.RequestQueues["default"] != run.DefaultRequestQueueID {
			t.Errorf("storages = %+v", ids)
		}
		if _, err := b.store.GetRecord(context.Background(), run.DefaultKeyValueStoreID, "INPUT"); !troupe.IsNotFound(err) {
			t.Errorf("a run without a body has an INPUT record (err %v)", err)
		}
		stored, err := b.store.GetRun(context.Background(), run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Control.Generation != 1 || stored.Control.InputKey != "INPUT" || stored.Control.TimeoutAt == nil {
			t.Errorf("control = %+v", stored.Control)
		}
		if b.ctrl.wokenCount(run.ID) != 1 {
			t.Error("the controller was not woken")
		}
		var got troupe.Actor
		b.call("GET", "/v2/actors/"+a.ID, nil).ok(t, 200, &got)
		if got.Stats.TotalRuns < 1 || got.Stats.LastRunStartedAt == nil {
			t.Errorf("actor stats = %+v", got.Stats)
		}
	})
	t.Run("Options", func(t *testing.T) {
		run := b.start("~starter", "?timeout=60&memory=4096&maxItems=10&restartOnError=true&build=0.0.1", nil, "")
		o := run.Options
		if o.TimeoutSecs != 60 || o.MemoryMbytes != 4096 || o.DiskMbytes != 8192 || o.MaxItems == nil || *o.MaxItems != 10 || !o.RestartOnError {
			t.Errorf("options = %+v", o)
		}
		run = b.start(a.ID, "?timeout=0&build=latest", nil, "")
		if run.Options.TimeoutSecs != 0 {
			t.Errorf("timeout = %d", run.Options.TimeoutSecs)
		}
	})
	t.Run("ErrMemory", func(t *testing.T) {
		for _, m := range []string{"100", "1000", "65536", "64"} {
			b.call("POST", "/v2/actors/"+a.ID+"/runs?memory="+m, nil).fails(t, 400, "invalid-value")
		}
	})
	t.Run("ErrBuild", func(t *testing.T) {
		b.call("POST", "/v2/actors/"+a.ID+"/runs?build=nope", nil).fails(t, 400, "unknown-build-tag")
		var bd apiBuild
		b.call("POST", "/v2/actors/"+a.ID+"/builds?version=0.0", nil).ok(t, 201, &bd)
		b.call("POST", "/v2/actors/"+a.ID+"/runs?build="+bd.BuildNumber, nil).fails(t, 400, "unknown-build-tag")
		unbuilt := b.createActor("unbuilt")
		b.call("POST", "/v2/actors/"+unbuilt.ID+"/runs", nil).fails(t, 400, "unknown-build-tag")
		b.call("POST", "/v2/actors/nope/runs", nil).fails(t, 404, "record-not-found")
	})
	t.Run("Input", func(t *testing.T) {
		run := b.start(a.ID, "", []byte(`{"a": 1}`), "application/json; charset=utf-8")
		rec := b.record(run.DefaultKeyValueStoreID, "INPUT")
		if string(rec.Value) != `{"a": 1}` || rec.ContentType != "application/json; charset=utf-8" {
			t.Errorf("INPUT = %q %q", rec.Value, rec.ContentType)
		}
		if run.Stats.InputBodyLen == nil || *run.Stats.InputBodyLen != 8 {
			t.Errorf("inputBodyLen = %v", run.Stats.InputBodyLen)
		}
		run = b.start(a.ID, "", []byte("just text"), "text/plain")
		if rec := b.record(run.DefaultKeyValueStoreID, "INPUT"); string(rec.Value) != "just text" || rec.ContentType != "text/plain" {
			t.Errorf("INPUT = %q %q", rec.Value, rec.ContentType)
		}
		b.call("POST", "/v2/actors/"+a.ID+"/runs", []byte(`{"a":`), "Content-Type", "application/json").
			fails(t, 400, "run-input-body-not-valid-json")
	})
	t.Run("InputSchemaDefaults", func(t *testing.T) {
		s := b.actor("with-schema", schemaWithDefaults)
		run := b.start(s.ID, "", []byte(`{"count": 7}`), "application/json")
		var in map[string]any
		if err := json.Unmarshal(b.record(run.DefaultKeyValueStoreID, "INPUT").Value, &in); err != nil {
			t.Fatal(err)
		}
		if in["count"] != 7.0 || in["url"] != "https://example.com" || len(in) != 2 {
			t.Errorf("input = %v", in)
		}
		for _, body := range [][]byte{nil, []byte("null")} {
			run = b.start(s.ID, "", body, "application/json")
			rec := b.record(run.DefaultKeyValueStoreID, "INPUT")
			in = nil
			if err := json.Unmarshal(rec.Value, &in); err != nil {
				t.Fatal(err)
			}
			if in["count"] != 3.0 || in["url"] != "https://example.com" || !contains(rec.ContentType, "application/json") {
				t.Errorf("input from defaults = %s (%s)", rec.Value, rec.ContentType)
			}
		}
		run = b.start(s.ID, "", []byte(`[1,2]`), "application/json")
		if rec := b.record(run.DefaultKeyValueStoreID, "INPUT"); string(rec.Value) != `[1,2]` {
			t.Errorf("a non-object input was changed: %s", rec.Value)
		}
	})
}
