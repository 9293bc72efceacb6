package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

// call makes a change through the console's /api/v2, as the page's script
// does, and decodes the answer's data into out.
func (e *env) call(method, path, body string, out any) {
	e.t.Helper()
	a := e.do(method, "/api/v2"+path, strings.NewReader(body),
		map[string]string{"X-CSRF-Token": e.csrf(), "Origin": e.srv.URL, "Content-Type": "application/json"})
	if a.status >= 300 {
		e.t.Fatalf("%s %s: %d %s", method, path, a.status, a.body)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(a.body), &struct{ Data any }{out}); err != nil {
			e.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// page gets a console page and fails unless it answers status and holds
// every one of want.
func (e *env) page(path string, status int, want ...string) {
	e.t.Helper()
	a := e.do("GET", path, nil, nil)
	if a.status != status {
		e.t.Fatalf("%s: %d, want %d: %s", path, a.status, status, a.body)
	}
	for _, w := range want {
		if !strings.Contains(a.body, w) {
			e.t.Fatalf("%s does not show %q:\n%s", path, w, a.body)
		}
	}
}

func createActor(t *testing.T, e *env, id, name string) {
	t.Helper()
	now := time.Now()
	if err := e.store.CreateActor(context.Background(), &troupe.Actor{ID: id, UserID: "u1", Username: "local", Name: name,
		CreatedAt: now, ModifiedAt: now, Versions: []troupe.Version{}, TaggedBuilds: map[string]*troupe.TaggedBuild{}}); err != nil {
		t.Fatal(err)
	}
}

// TestTaskPages creates a task as the tasks page does and shows it, its
// input and its runs.
func TestTaskPages(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	createActor(t, e, "act1", "greeter")
	e.signIn(adminToken)
	e.page("/tasks", http.StatusOK, "No tasks yet", `<option value="act1">greeter</option>`, `href="/schedules"`)
	var task struct{ ID string }
	e.call("POST", "/actor-tasks", `{"actId":"act1","name":"daily-greet","input":{"who":"world"}}`, &task)
	run := newRun("act1", time.Now())
	run.ActorTaskID = &task.ID
	if err := e.store.CreateRun(ctx, run, nil); err != nil {
		t.Fatal(err)
	}
	e.page("/tasks", http.StatusOK, `<a href="/tasks/`+task.ID+`">daily-greet</a>`, `<a href="/actors/act1">greeter</a>`)
	e.page("/tasks/"+task.ID, http.StatusOK, `data-task="`+task.ID+`"`, "&#34;who&#34;: &#34;world&#34;",
		`<a href="/runs/`+run.ID+`">`, `data-op="task-run"`, `data-confirm="Delete task daily-greet?`)
	e.page("/tasks/nope", http.StatusNotFound, "There is no task nope.")
	// Deleted as the page's Delete button does: the task is gone, its run kept.
	e.call("DELETE", "/actor-tasks/"+task.ID, "", nil)
	e.page("/tasks/"+task.ID, http.StatusNotFound, "There is no task "+task.ID+".")
	e.page("/tasks", http.StatusOK, "No tasks yet")
	e.page("/runs/"+run.ID, http.StatusOK, run.ID)
}

// TestSchedulePages creates a schedule of a task as the schedules page
// does, shows it, disables it and shows it disabled.
func TestSchedulePages(t *testing.T) {
	e := setup(t)
	createActor(t, e, "act1", "greeter")
	e.signIn(adminToken)
	var task struct{ ID string }
	e.call("POST", "/actor-tasks", `{"actId":"act1","name":"daily-greet"}`, &task)
	e.page("/schedules", http.StatusOK, "No schedules yet", `<option value="`+task.ID+`">daily-greet</option>`)
	var s struct {
		ID        string
		NextRunAt time.Time
	}
	e.call("POST", "/schedules", `{"name":"nightly","cronExpression":"0 3 * * *","timezone":"Europe/Prague","isEnabled":true,`+
		`"actions":[{"type":"RUN_ACTOR_TASK","actorTaskId":"`+task.ID+`"}]}`, &s)
	next := s.NextRunAt.UTC().Format("2006-01-02 15:04:05")
	e.page("/schedules", http.StatusOK, `<a href="/schedules/`+s.ID+`">nightly</a>`, "<code>0 3 * * *</code>", "Europe/Prague",
		"<td>yes</td><td>"+next+"</td>")
	e.page("/schedules/"+s.ID, http.StatusOK, `<a href="/tasks/`+task.ID+`">daily-greet</a>`, `data-enabled="false">Disable`)
	e.call("PUT", "/schedules/"+s.ID, `{"isEnabled":false}`, nil)
	e.page("/schedules/"+s.ID, http.StatusOK, `<dd id="schedule-enabled">no</dd>`, `data-enabled="true">Enable`)
	e.page("/schedules/nope", http.StatusNotFound, "There is no schedule nope.")
}

// TestWebhookPages creates a webhook as the webhooks page does, tests it
// and shows the test's dispatch.
func TestWebhookPages(t *testing.T) {
	e := setup(t)
	createActor(t, e, "act1", "greeter")
	e.signIn(adminToken)
	e.page("/webhooks", http.StatusOK, "No webhooks yet", `value="ACTOR.RUN.SUCCEEDED"`)
	var w struct{ ID string }
	e.call("POST", "/webhooks", `{"eventTypes":["ACTOR.RUN.SUCCEEDED"],"condition":{"actorId":"act1"},"requestUrl":"http://127.0.0.1:9/hook"}`, &w)
	e.page("/webhooks", http.StatusOK, `<a href="/webhooks/`+w.ID+`">http://127.0.0.1:9/hook</a>`, `actor <a href="/actors/act1">greeter</a>`)
	e.page("/webhooks/"+w.ID, http.StatusOK, "No dispatches yet", `data-op="webhook-test"`, `<a href="/actors/act1">greeter</a>`)
	e.call("POST", "/webhooks/"+w.ID+"/test", "", nil)
	e.page("/webhooks/"+w.ID, http.StatusOK, "<td>TEST</td>", "Dispatches <small>1</small>")
	e.page("/webhooks/nope", http.StatusNotFound, "There is no webhook nope.")
}
