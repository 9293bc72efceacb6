package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
)

// apiSchedule is a schedule as the API answers it.
type apiSchedule struct {
	ID             string                  `json:"id"`
	UserID         string                  `json:"userId"`
	Name           string                  `json:"name"`
	CronExpression string                  `json:"cronExpression"`
	Timezone       string                  `json:"timezone"`
	IsEnabled      bool                    `json:"isEnabled"`
	IsExclusive    bool                    `json:"isExclusive"`
	CreatedAt      *time.Time              `json:"createdAt"`
	ModifiedAt     *time.Time              `json:"modifiedAt"`
	NextRunAt      *time.Time              `json:"nextRunAt"`
	LastRunAt      *time.Time              `json:"lastRunAt"`
	Actions        []troupe.ScheduleAction `json:"actions"`
}

func TestScheduleCRUD(t *testing.T) {
	t.Parallel()
	// The clock reads 2026-03-28 23:30 UTC: 00:30 in Prague, the night
	// before the switch to summer time.
	now := time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC)
	b := setup(t, false, func(c *api.Config) { c.Now = func() time.Time { return now } })
	a := b.actor("cronned", "")
	b.callJSON("POST", "/v2/actor-tasks", map[string]any{"actId": a.ID, "name": "t"}).ok(t, 201, nil)

	var sc apiSchedule
	r := b.callJSON("POST", "/v2/schedules", map[string]any{
		"name": "morning", "cronExpression": "0 8 * * *", "timezone": "Europe/Prague", "isEnabled": true,
		"actions": []map[string]any{
			{"type": "RUN_ACTOR", "actorId": "~cronned", "runInput": map[string]any{"body": `{"a":1}`, "contentType": "application/json"},
				"runOptions": map[string]any{"memoryMbytes": 256}},
			{"type": "RUN_ACTOR_TASK", "actorTaskId": "~t", "input": map[string]any{"b": 2}},
		}})
	r.ok(t, http.StatusCreated, &sc)
	// 08:00 in Prague on the 29th is already summer time (UTC+2).
	if want := time.Date(2026, 3, 29, 6, 0, 0, 0, time.UTC); sc.NextRunAt == nil || !sc.NextRunAt.Equal(want) {
		t.Fatalf("nextRunAt = %v, want %v", sc.NextRunAt, want)
	}
	if sc.ID == "" || sc.UserID != userID || sc.LastRunAt != nil || !sc.IsEnabled || sc.IsExclusive || len(sc.Actions) != 2 ||
		sc.Actions[0].ActorID != a.ID || sc.Actions[0].ID == "" || sc.Actions[1].Type != troupe.ActionRunActorTask ||
		string(sc.Actions[1].Input) != `{"b":2}` || *sc.Actions[0].RunOptions.MemoryMbytes != 256 {
		t.Fatalf("created schedule = %+v", sc)
	}
	if loc := r.header.Get("Location"); loc != b.srv.URL+"/v2/schedules/"+sc.ID {
		t.Errorf("Location = %q", loc)
	}

	t.Run("Get", func(t *testing.T) {
		for _, ref := range []string{sc.ID, "~morning", username + "~morning"} {
			var got apiSchedule
			b.call("GET", "/v2/schedules/"+ref, nil).ok(t, 200, &got)
			if got.ID != sc.ID {
				t.Fatalf("GET %s = %s", ref, got.ID)
			}
		}
		b.call("GET", "/v2/schedules/nope", nil).fails(t, 404, troupe.ErrRecordNotFound)
	})
	t.Run("List", func(t *testing.T) {
		var page listPage[map[string]any]
		b.call("GET", "/v2/schedules", nil).ok(t, 200, &page)
		if page.Total != 1 || len(page.Items) != 1 {
			t.Fatalf("list = %+v", page)
		}
		acts := page.Items[0]["actions"].([]any)
		if len(acts) != 2 || acts[0].(map[string]any)["runInput"] != nil {
			t.Fatalf("list item actions = %v, want short actions", acts)
		}
	})
	t.Run("Update", func(t *testing.T) {
		var got apiSchedule
		b.callJSON("PUT", "/v2/schedules/"+sc.ID, map[string]any{"cronExpression": "@hourly", "timezone": "UTC", "isExclusive": true}).
			ok(t, 200, &got)
		if want := time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC); got.NextRunAt == nil || !got.NextRunAt.Equal(want) ||
			!got.IsExclusive || len(got.Actions) != 2 {
			t.Fatalf("updated = %+v, want nextRunAt %v", got, want)
		}
		b.callJSON("PUT", "/v2/schedules/"+sc.ID, map[string]any{"cronExpression": "*/10 * * * * *"}).ok(t, 200, &got)
		if want := now.Add(10 * time.Second); !got.NextRunAt.Equal(want) {
			t.Fatalf("six fields: nextRunAt %v, want %v", got.NextRunAt, want)
		}
		b.callJSON("PUT", "/v2/schedules/"+sc.ID, map[string]any{"isEnabled": false}).ok(t, 200, &got)
		if got.NextRunAt != nil || got.IsEnabled {
			t.Fatalf("disabled: %+v", got)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		post := func(body map[string]any) response {
			return b.callJSON("POST", "/v2/schedules", body)
		}
		post(map[string]any{"cronExpression": "61 * * * *"}).fails(t, 400, troupe.ErrInvalidValue)
		post(map[string]any{"cronExpression": "* * *"}).fails(t, 400, troupe.ErrInvalidValue)
		post(map[string]any{}).fails(t, 400, troupe.ErrInvalidValue)
		post(map[string]any{"cronExpression": "@daily", "timezone": "Mars/Olympus"}).fails(t, 400, troupe.ErrInvalidValue)
		post(map[string]any{"cronExpression": "@every 1s"}).fails(t, 400, troupe.ErrInvalidValue)
		post(map[string]any{"cronExpression": "@daily", "actions": []map[string]any{{"type": "RUN_SOMETHING"}}}).
			fails(t, 400, troupe.ErrInvalidValue)
		post(map[string]any{"cronExpression": "@daily", "actions": []map[string]any{{"type": "RUN_ACTOR", "actorId": "nope"}}}).
			fails(t, 404, troupe.ErrRecordNotFound)
		post(map[string]any{"cronExpression": "@daily", "actions": []map[string]any{{"type": "RUN_ACTOR_TASK", "actorTaskId": "nope"}}}).
			fails(t, 404, troupe.ErrRecordNotFound)
		post(map[string]any{"name": "morning", "cronExpression": "@daily"}).fails(t, 409, troupe.ErrScheduleNameNotUnique)
	})
	t.Run("LogAndDelete", func(t *testing.T) {
		var log []troupe.ScheduleLogEntry
		b.call("GET", "/v2/schedules/"+sc.ID+"/log", nil).ok(t, 200, &log)
		if log == nil || len(log) != 0 {
			t.Fatalf("log of a schedule never fired = %v, want []", log)
		}
		b.call("DELETE", "/v2/schedules/"+sc.ID, nil).ok(t, 204, nil)
		b.call("GET", "/v2/schedules/"+sc.ID, nil).fails(t, 404, troupe.ErrRecordNotFound)
		b.call("GET", "/v2/schedules/"+sc.ID+"/log", nil).fails(t, 404, troupe.ErrRecordNotFound)
	})
}
