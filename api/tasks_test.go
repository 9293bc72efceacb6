package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/troupehq/troupe"
)

// apiTask is a task as the API answers it.
type apiTask struct {
	ID         string             `json:"id"`
	UserID     string             `json:"userId"`
	ActID      string             `json:"actId"`
	Name       string             `json:"name"`
	Username   string             `json:"username"`
	CreatedAt  string             `json:"createdAt"`
	ModifiedAt string             `json:"modifiedAt"`
	Stats      troupe.TaskStats   `json:"stats"`
	Options    troupe.TaskOptions `json:"options"`
	Input      json.RawMessage    `json:"input"`
}

func TestTaskCRUD(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("scraper", "")

	var task apiTask
	r := b.callJSON("POST", "/v2/actor-tasks", map[string]any{"actId": username + "~scraper", "name": "daily",
		"options": map[string]any{"memoryMbytes": 256, "build": "latest"}, "input": map[string]any{"q": "a", "n": 1}})
	r.ok(t, http.StatusCreated, &task)
	if task.ID == "" || task.ActID != a.ID || task.Name != "daily" || task.UserID != userID || task.Username != username ||
		*task.Options.MemoryMbytes != 256 || string(task.Input) != `{"n":1,"q":"a"}` || task.CreatedAt == "" {
		t.Fatalf("created task = %+v", task)
	}
	if loc := r.header.Get("Location"); loc != b.srv.URL+"/v2/actor-tasks/"+task.ID {
		t.Errorf("Location = %q", loc)
	}

	t.Run("GetByIDAndName", func(t *testing.T) {
		for _, ref := range []string{task.ID, username + "~daily", "~daily"} {
			var got apiTask
			b.call("GET", "/v2/actor-tasks/"+ref, nil).ok(t, 200, &got)
			if got.ID != task.ID {
				t.Fatalf("GET %s = %s", ref, got.ID)
			}
		}
		b.call("GET", "/v2/actor-tasks/nope", nil).fails(t, 404, troupe.ErrRecordNotFound)
	})
	t.Run("List", func(t *testing.T) {
		var page listPage[map[string]any]
		b.call("GET", "/v2/actor-tasks", nil).ok(t, 200, &page)
		if page.Total != 1 || len(page.Items) != 1 || page.Items[0]["actName"] != "scraper" ||
			page.Items[0]["actUsername"] != username || page.Items[0]["name"] != "daily" {
			t.Fatalf("list = %+v", page)
		}
		if _, ok := page.Items[0]["stats"].(map[string]any)["totalRuns"]; !ok {
			t.Fatalf("list item without stats.totalRuns: %+v", page.Items[0])
		}
	})
	t.Run("Input", func(t *testing.T) {
		r := b.call("GET", "/v2/actor-tasks/"+task.ID+"/input", nil)
		if r.status != 200 || string(r.body) != "{\"n\":1,\"q\":\"a\"}\n" {
			t.Fatalf("GET input = %d %s, want the object itself", r.status, r.body)
		}
		r = b.call("PUT", "/v2/actor-tasks/"+task.ID+"/input", []byte(`{"q":"b"}`), "Content-Type", "application/json")
		if r.status != 200 || string(r.body) != "{\"q\":\"b\"}\n" {
			t.Fatalf("PUT input = %d %s", r.status, r.body)
		}
		b.call("PUT", "/v2/actor-tasks/"+task.ID+"/input", []byte(`[1]`), "Content-Type", "application/json").
			fails(t, 400, troupe.ErrInvalidInput)
	})
	t.Run("Update", func(t *testing.T) {
		var got apiTask
		b.callJSON("PUT", "/v2/actor-tasks/"+task.ID, map[string]any{"name": "nightly", "options": map[string]any{"timeoutSecs": 5}}).
			ok(t, 200, &got)
		if got.Name != "nightly" || got.Options.MemoryMbytes != nil || *got.Options.TimeoutSecs != 5 || string(got.Input) != `{"q":"b"}` {
			t.Fatalf("updated = %+v", got)
		}
		b.callJSON("PUT", "/v2/actor-tasks/"+task.ID, map[string]any{"options": map[string]any{"memoryMbytes": 100}}).
			fails(t, 400, troupe.ErrInvalidValue)
		b.callJSON("PUT", "/v2/actor-tasks/"+task.ID, map[string]any{"name": "bad name"}).fails(t, 400, troupe.ErrInvalidValue)
		// The same actor by name is no change; another actor is refused.
		b.callJSON("PUT", "/v2/actor-tasks/"+task.ID, map[string]any{"actId": username + "~scraper"}).ok(t, 200, nil)
		other := b.createActor("other")
		b.callJSON("PUT", "/v2/actor-tasks/"+task.ID, map[string]any{"actId": other.ID}).fails(t, 400, troupe.ErrInvalidValue)
	})
	t.Run("Errors", func(t *testing.T) {
		b.callJSON("POST", "/v2/actor-tasks", map[string]any{"name": "x"}).fails(t, 400, troupe.ErrInvalidValue)
		b.callJSON("POST", "/v2/actor-tasks", map[string]any{"actId": "nope"}).fails(t, 404, troupe.ErrRecordNotFound)
		b.callJSON("POST", "/v2/actor-tasks", map[string]any{"actId": a.ID, "name": "nightly"}).
			fails(t, 409, troupe.ErrTaskNameNotUnique)
		b.callJSON("POST", "/v2/actor-tasks", map[string]any{"actId": a.ID, "input": "text"}).fails(t, 400, troupe.ErrInvalidInput)
	})
	t.Run("Delete", func(t *testing.T) {
		var other apiTask
		b.callJSON("POST", "/v2/actor-tasks", map[string]any{"actId": a.ID}).ok(t, 201, &other)
		if other.Name != "scraper-task" {
			t.Fatalf("default name = %q", other.Name)
		}
		b.call("DELETE", "/v2/actor-tasks/"+other.ID, nil).ok(t, 204, nil)
		b.call("GET", "/v2/actor-tasks/"+other.ID, nil).fails(t, 404, troupe.ErrRecordNotFound)
		b.call("DELETE", "/v2/actor-tasks/"+other.ID, nil).fails(t, 404, troupe.ErrRecordNotFound)
	})
}

func TestTaskRuns(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("worker", schemaWithDefaults)
	var task apiTask
	b.callJSON("POST", "/v2/actor-tasks", map[string]any{"actId": a.ID, "name": "job",
		"options": map[string]any{"memoryMbytes": 256, "timeoutSecs": 30}, "input": map[string]any{"url": "https://task", "keep": true}}).
		ok(t, 201, &task)
	tp := "/v2/actor-tasks/" + task.ID

	t.Run("MergedInputAndOptions", func(t *testing.T) {
		var run troupe.Run
		b.call("POST", tp+"/runs?memory=512", []byte(`{"plain":"p","keep":false}`), "Content-Type", "application/json").
			ok(t, 201, &run)
		if run.ActorTaskID == nil || *run.ActorTaskID != task.ID || run.ActID != a.ID {
			t.Fatalf("run actorTaskId %v actId %s", run.ActorTaskID, run.ActID)
		}
		if run.Options.MemoryMbytes != 512 || run.Options.TimeoutSecs != 30 {
			t.Fatalf("options = %+v: want the request's memory and the task's timeout", run.Options)
		}
		var in map[string]any
		if err := json.Unmarshal(b.record(run.DefaultKeyValueStoreID, "INPUT").Value, &in); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"url": "https://task", "keep": false, "plain": "p", "count": float64(3)}
		if len(in) != len(want) {
			t.Fatalf("input = %v, want %v", in, want)
		}
		for k, v := range want {
			if in[k] != v {
				t.Fatalf("input = %v, want %v", in, want)
			}
		}
	})
	t.Run("NoBody", func(t *testing.T) {
		var run troupe.Run
		b.call("POST", "/v2/actor-tasks/~job/runs", nil).ok(t, 201, &run)
		var in map[string]any
		if err := json.Unmarshal(b.record(run.DefaultKeyValueStoreID, "INPUT").Value, &in); err != nil {
			t.Fatal(err)
		}
		if in["url"] != "https://task" || in["keep"] != true {
			t.Fatalf("input = %v, want the task's", in)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		b.call("POST", tp+"/runs", []byte(`[1,2]`), "Content-Type", "application/json").fails(t, 400, troupe.ErrInvalidInput)
		b.call("POST", tp+"/runs", []byte(`{`), "Content-Type", "application/json").fails(t, 400, troupe.ErrInputNotValidJSON)
		b.call("POST", "/v2/actor-tasks/nope/runs", nil).fails(t, 404, troupe.ErrRecordNotFound)
	})
	t.Run("ListAndLast", func(t *testing.T) {
		other := b.start(a.ID, "", nil, "") // a run of the actor, not of the task
		var page listPage[map[string]any]
		b.call("GET", tp+"/runs?desc=1", nil).ok(t, 200, &page)
		if page.Total != 2 || len(page.Items) != 2 || page.Items[0]["actorTaskId"] != task.ID {
			t.Fatalf("task runs = %+v", page)
		}
		for _, it := range page.Items {
			if it["id"] == other.ID {
				t.Fatal("the actor's own run is listed under the task")
			}
		}
		var last troupe.Run
		b.call("GET", tp+"/runs/last", nil).ok(t, 200, &last)
		if last.ID != page.Items[0]["id"] {
			t.Fatalf("last = %s, want %s", last.ID, page.Items[0]["id"])
		}
		b.finish(last.ID, 0)
		b.call("GET", tp+"/runs/last?status=SUCCEEDED", nil).ok(t, 200, &last)
		b.call("PUT", tp+"/runs/last/key-value-store/records/OUTPUT", []byte(`{"ok":1}`), "Content-Type", "application/json").ok(t, 201, nil)
		r := b.call("GET", tp+"/runs/last/key-value-store/records/OUTPUT", nil)
		if r.status != 200 || string(r.body) != `{"ok":1}` {
			t.Fatalf("last run's record = %d %s", r.status, r.body)
		}
		b.call("GET", tp+"/runs/last?status=FAILED", nil).fails(t, 404, troupe.ErrRecordNotFound)
		var got apiTask
		b.call("GET", tp, nil).ok(t, 200, &got)
		if got.Stats.TotalRuns != 2 {
			t.Fatalf("stats.totalRuns = %d, want 2", got.Stats.TotalRuns)
		}
	})
}

func TestTaskRunSync(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	// The "actor" stores its input as OUTPUT, pushes it as an item and
	// succeeds.
	b.ctrl.onStart = func(id string) {
		ctx := context.Background()
		run, err := b.store.GetRun(ctx, id)
		if err != nil {
			return
		}
		in, _ := b.store.GetRecord(ctx, run.DefaultKeyValueStoreID, "INPUT")
		if in != nil {
			_ = b.store.PutRecord(ctx, run.DefaultKeyValueStoreID, &troupe.Record{Key: "OUTPUT", Value: in.Value, ContentType: "application/json"})
			_ = b.store.PushItems(ctx, run.DefaultDatasetID, []json.RawMessage{in.Value})
		}
		_, _ = b.store.UpdateRun(ctx, id, func(r *troupe.Run, _ troupe.StorageTx) error { return r.Finish(0, troupe.Now()) })
	}
	a := b.actor("sync", "")
	b.callJSON("POST", "/v2/actor-tasks", map[string]any{"actId": a.ID, "name": "s", "input": map[string]any{"v": 1}}).ok(t, 201, nil)
	r := b.call("POST", "/v2/actor-tasks/~s/run-sync", []byte(`{"w":2}`), "Content-Type", "application/json")
	if r.status != 201 || string(r.body) != `{"v":1,"w":2}` {
		t.Fatalf("run-sync = %d %s", r.status, r.body)
	}
	r = b.call("GET", "/v2/actor-tasks/~s/run-sync-get-dataset-items", nil)
	var items []map[string]any
	if r.status != 201 || json.Unmarshal(r.body, &items) != nil || len(items) != 1 || items[0]["v"] != float64(1) {
		t.Fatalf("run-sync-get-dataset-items = %d %s", r.status, r.body)
	}
}

// TestTaskLimitedRun: a limited run's token starts tasks as it starts
// actors (the new run is limited too) but cannot read or change tasks.
func TestTaskLimitedRun(t *testing.T) {
	t.Parallel()
	f := newLimitedFixture(t)
	var task apiTask
	f.b.callJSON("POST", "/v2/actor-tasks", map[string]any{"actId": f.otherActor.ID, "name": "for-runs"}).ok(t, 201, &task)
	var run troupe.Run
	f.as("POST", "/v2/actor-tasks/"+task.ID+"/runs", []byte(`{"a":1}`)).ok(t, 201, &run)
	stored, err := f.b.store.GetRun(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Control.StartedBy != f.run.ID || stored.Control.PermissionLevel != troupe.PermissionsLimited ||
		run.Meta.Origin != troupe.OriginActor {
		t.Fatalf("task run started by a limited run: startedBy %q, level %q, origin %q", stored.Control.StartedBy,
			stored.Control.PermissionLevel, run.Meta.Origin)
	}
	f.as("POST", "/v2/actor-tasks/"+task.ID+"/runs?forcePermissionLevel=FULL_PERMISSIONS", nil).
		fails(t, 403, troupe.ErrInsufficientPermissions)
	f.as("GET", "/v2/actor-tasks", nil).fails(t, 403, troupe.ErrInsufficientPermissions)
	f.as("PUT", "/v2/actor-tasks/"+task.ID+"/input", []byte(`{}`)).fails(t, 403, troupe.ErrInsufficientPermissions)
}

func TestTaskWebhooks(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("hooked", "")
	var task apiTask
	b.callJSON("POST", "/v2/actor-tasks", map[string]any{"actId": a.ID, "name": "hooked-task"}).ok(t, 201, &task)
	var byTask, byActor troupe.Webhook
	b.callJSON("POST", "/v2/webhooks", map[string]any{"eventTypes": []string{"ACTOR.RUN.SUCCEEDED"},
		"condition": map[string]any{"actorTaskId": task.ID}, "requestUrl": "http://127.0.0.1:9/task"}).ok(t, 201, &byTask)
	b.callJSON("POST", "/v2/webhooks", map[string]any{"eventTypes": []string{"ACTOR.RUN.SUCCEEDED"},
		"condition": map[string]any{"actorId": a.ID}, "requestUrl": "http://127.0.0.1:9/actor"}).ok(t, 201, &byActor)
	var list listPage[troupe.Webhook]
	b.call("GET", "/v2/actor-tasks/~hooked-task/webhooks", nil).ok(t, 200, &list)
	if list.Total != 1 || len(list.Items) != 1 || list.Items[0].ID != byTask.ID {
		t.Fatalf("task webhooks = %+v, want only %s", list, byTask.ID)
	}
	b.call("GET", "/v2/actor-tasks/nope/webhooks", nil).fails(t, 404, troupe.ErrRecordNotFound)
}
