package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/troupehq/troupe/client"
)

func TestTaskClient(t *testing.T) {
	t.Parallel()

	t.Run("Start", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeData(w, 201, run("R1", client.StatusReady))
		})
		_, err := b.c.Task("alice/daily").Start(context.Background(), []byte(`{"a":1}`),
			&client.StartOptions{MemoryMbytes: client.Ptr(256), Build: "beta", Webhooks: "W10"})
		if err != nil {
			t.Fatal(err)
		}
		req := b.last(t)
		if req.Method != "POST" || req.Path != "/v2/actor-tasks/alice~daily/runs" || req.Body != `{"a":1}` ||
			req.Query.Get("memory") != "256" || req.Query.Get("build") != "beta" || req.Query.Get("webhooks") != "W10" {
			t.Errorf("got %s %s?%s %s", req.Method, req.Path, req.RawQuery, req.Body)
		}
	})

	t.Run("Input", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"q":1}`))
		})
		in, err := b.c.Task("T1").Input(context.Background())
		if err != nil || string(in) != `{"q":1}` {
			t.Fatalf("Input = %s, %v; want the object itself", in, err)
		}
		if req := b.last(t); req.Method != "GET" || req.Path != "/v2/actor-tasks/T1/input" {
			t.Errorf("got %s %s", req.Method, req.Path)
		}
	})

	t.Run("CreateSchedule", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeData(w, 201, &client.Schedule{ID: "S1"})
		})
		_, err := b.c.Schedules().Create(context.Background(), &client.ScheduleFields{
			Name: client.Ptr("nightly"), CronExpression: client.Ptr("@daily"),
			Actions: []client.ScheduleAction{{Type: client.ActionRunActorTask, ActorTaskID: "T1", Input: json.RawMessage(`{"x":1}`)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		req := b.last(t)
		want := `{"name":"nightly","cronExpression":"@daily","actions":[{"type":"RUN_ACTOR_TASK","actorTaskId":"T1","input":{"x":1}}]}`
		if req.Method != "POST" || req.Path != "/v2/schedules" || req.Body != want {
			t.Errorf("got %s %s %s", req.Method, req.Path, req.Body)
		}
	})
}
