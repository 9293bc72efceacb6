package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/client"
)

// consoleDemoFiles is an actor with an input schema of every kind of field;
// it logs its input, stores OUTPUT and pushes one dataset item per tick.
func consoleDemoFiles() []client.SourceFile {
	return []client.SourceFile{
		{Name: "Dockerfile", Format: "TEXT", Content: "FROM node:20\nCMD [\"node\", \"main.js\"]\n"},
		{Name: ".actor/actor.json", Format: "TEXT", Content: `{"actorSpecification":1,"name":"console-demo","version":"0.1"}`},
		{Name: ".actor/input_schema.json", Format: "TEXT", Content: `{
  "title": "Console demo", "type": "object", "schemaVersion": 1,
  "properties": {
    "greeting": {"title": "Greeting", "type": "string", "editor": "textfield", "default": "hello"},
    "ticks": {"title": "Ticks", "type": "integer", "default": 3, "minimum": 1},
    "mode": {"title": "Mode", "type": "string", "enum": ["fast", "slow"], "default": "fast"},
    "loud": {"title": "Loud", "type": "boolean", "default": false}
  },
  "required": ["greeting"]
}`},
		{Name: "main.js", Format: "TEXT", Content: `const env = process.env;
const api = (path, init = {}) => fetch(env.APIFY_API_BASE_URL + '/v2' + path, { ...init,
    headers: { authorization: 'Bearer ' + env.APIFY_TOKEN, 'content-type': 'application/json' } });
(async () => {
    const res = await api('/key-value-stores/' + env.ACTOR_DEFAULT_KEY_VALUE_STORE_ID + '/records/' + env.ACTOR_INPUT_KEY);
    const input = res.ok ? await res.json() : {};
    console.log('greeting: ' + input.greeting + ' mode: ' + input.mode + ' loud: ' + input.loud);
    await api('/key-value-stores/' + env.ACTOR_DEFAULT_KEY_VALUE_STORE_ID + '/records/OUTPUT',
        { method: 'PUT', body: JSON.stringify({ greeting: input.greeting, ticks: input.ticks }) });
    for (let i = 1; i <= input.ticks; i++) {
        await api('/datasets/' + env.ACTOR_DEFAULT_DATASET_ID + '/items',
            { method: 'POST', body: JSON.stringify({ n: i, greeting: input.greeting, mode: input.mode }) });
        console.log('tick ' + i);
        await new Promise((r) => setTimeout(r, input.mode === 'slow' ? 400 : 20));
    }
})();
`},
	}
}

// browser starts a headless Chromium for the test and returns its tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("the console tests need Chromium (Debian package chromium; scripts/test installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("no-first-run", true),
		// Pages come back from the back-forward cache without a load
		// event, which chromedp's NavigateBack waits for.
		chromedp.Flag("disable-features", "Translate,BackForwardCache"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	return tab
}

// ui drives one browser tab in a test.
type ui struct {
	t    *testing.T
	ctx  context.Context
	base string
	// shots is the folder screenshots go to.
	shots string
}

func (u *ui) do(steps ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	if err := chromedp.Do(u.ctx, steps...); err != nil {
		u.t.Fatalf("browser: %v (page: %s)", err, u.text("body"))
	}
}

// wait waits until the JavaScript expression is true in the page (an
// expression that throws, on a page still loading, counts as false); a
// poll that a navigation interrupts starts again in the new page.
func (u *ui) wait(what, expr string) {
	u.t.Helper()
	safe := "(() => { try { return !!(" + expr + "); } catch (e) { return false; } })()"
	for range 5 {
		_, err := chromedp.Run(u.ctx, chromedp.Poll[bool](safe, chromedp.WithPollingTimeout(90*time.Second)))
		if err == nil {
			return
		}
		if msg := err.Error(); !strings.Contains(msg, "navigated or closed") && !strings.Contains(msg, "context was destroyed") &&
			!strings.Contains(msg, "Cannot find context") {
			u.t.Fatalf("waiting for %s: %v\npage: %s", what, err, u.text("body"))
		}
	}
	u.t.Fatalf("waiting for %s: the page kept navigating", what)
}

func (u *ui) text(sel string) string {
	s, _ := chromedp.Run(u.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).innerText||''`, sel)))
	return s
}

func (u *ui) eval(expr string) string {
	u.t.Helper()
	s, err := chromedp.Run(u.ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		u.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

func (u *ui) open(path, readySel string) {
	u.t.Helper()
	u.do(chromedp.Navigate(u.base+path), chromedp.WaitVisible(chromedp.CSS(readySel)))
}

// loaded waits until the page that a click or a script navigated to has
// loaded: readySel is visible and the document is complete, so the
// console's script has wired the page's buttons. Visible alone is not
// enough: the browser shows the parsed page before its deferred script
// runs (a click then does nothing), and at DOMContentLoaded it re-sends the
// document, which forgets the node ids a query in flight holds ("Could not
// find node with given id").
func (u *ui) loaded(readySel string) {
	u.t.Helper()
	u.wait("the page with "+readySel, fmt.Sprintf(`document.readyState === 'complete' && document.querySelector(%q).checkVisibility()`, readySel))
}

func (u *ui) shot(name string) {
	u.t.Helper()
	png, err := chromedp.Run(u.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		u.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(u.shots, name+".png"), png, 0o644); err != nil {
		u.t.Fatal(err)
	}
}

// confirm clicks sel and answers yes in the console's confirmation dialog.
func (u *ui) confirm(sel string) {
	u.t.Helper()
	u.do(chromedp.Click(chromedp.CSS(sel)), chromedp.WaitVisible(chromedp.CSS("#confirm-yes")), chromedp.Click(chromedp.CSS("#confirm-yes")))
}

// TestConsole drives the web console in a real headless Chromium: sign in,
// start an actor from its input form, follow its log, abort and resurrect
// it without reloading, watch the runs list update, read its dataset and
// records. Screenshots of the main pages go to TROUPE_CONSOLE_SCREENSHOTS
// when it is set (the README's pictures: docs/console), else to a
// temporary folder.
func TestConsole(t *testing.T) {
	ctx := testCtx(t)
	s := shared
	a, err := s.c.Actors().Create(ctx, &client.ActorCreate{
		Name: "console-demo-" + strings.ToLower(troupe.NewID()[:6]),
		Versions: []client.Version{{VersionNumber: "0.1", SourceType: client.SourceFiles,
			SourceFiles: consoleDemoFiles(), BuildTag: "latest", EnvVars: []client.EnvVar{}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.c.Actor(a.ID).Build(ctx, "0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b = s.finishBuild(t, b.ID); b.Status != client.StatusSucceeded {
		t.Fatalf("build %s: %s\n%s", b.ID, b.Status, s.buildLog(t, b.ID))
	}

	shots := os.Getenv("TROUPE_CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	u := &ui{t: t, ctx: browser(t), base: s.URL, shots: shots}

	// A page asks for sign-in first; a run's token does not open the console.
	sleeper := s.start(t, "sleeper", `{"secs":300}`, nil)
	t.Cleanup(func() { _, _ = s.c.Run(sleeper.ID).Abort(context.Background(), false) })
	live := waitRunning(t, s, sleeper.ID)
	runToken := troupe.RunToken(troupe.RunTokenSecret(testToken), &troupe.Run{ID: live.ID, Stats: troupe.RunStats{ResurrectCount: live.Stats.ResurrectCount}})
	if code := statusOf(t, s.URL+"/v2/actor-runs/"+sleeper.ID, runToken); code != http.StatusOK {
		t.Fatalf("the run token gets %d from the API, want 200 (it must be a working token)", code)
	}
	u.open("/runs", "#token")
	u.shot("sign-in")
	u.do(chromedp.SendKeys(chromedp.CSS("#token"), runToken), chromedp.Click(chromedp.CSS("#sign-in")))
	u.loaded("#signin-error")
	if msg := u.text("#signin-error"); !strings.Contains(msg, "admin token") {
		t.Fatalf("sign-in with a run token: %q", msg)
	}
	u.do(chromedp.SendKeys(chromedp.CSS("#token"), testToken), chromedp.Click(chromedp.CSS("#sign-in")))
	u.loaded("#runs")

	// The runs list follows its runs: an abort made elsewhere shows up
	// without a reload.
	row := fmt.Sprintf(`#run-%s [data-field=status]`, sleeper.ID)
	u.wait("the sleeper in the list", fmt.Sprintf(`(document.querySelector(%q)||{}).textContent === 'RUNNING'`, row))
	u.eval(`window.notReloaded = 'yes'`)
	if _, err := s.c.Run(sleeper.ID).Abort(ctx, false); err != nil {
		t.Fatal(err)
	}
	u.wait("ABORTED in the list", fmt.Sprintf(`document.querySelector(%q).textContent === 'ABORTED' && window.notReloaded === 'yes'`, row))
	// A run started elsewhere appears at the top, and follows its run.
	echo := s.start(t, "echo", `{"message":"listed"}`, nil)
	u.wait("the new run in the list", fmt.Sprintf(`document.querySelector('#runs tbody tr').id === 'run-%s' &&
		document.querySelector('#run-%s [data-field=status]').textContent === 'SUCCEEDED' && window.notReloaded === 'yes'`, echo.ID, echo.ID))
	u.shot("runs")

	// Start from the input form generated from the schema.
	u.open("/actors/"+a.ID+"/start", "#start-form")
	if got := u.eval(`document.querySelector('[name="in.greeting"]').value + '|' + document.querySelector('[name="in.ticks"]').value + '|' +
		document.querySelector('[name="in.mode"]').value + '|' + document.querySelector('[name="in.loud"]').type + '|' +
		document.querySelector('[name="in.greeting"]').required`); got != "hello|3|fast|checkbox|true" {
		t.Fatalf("input form fields (greeting|ticks|mode|loud type|greeting required) = %q", got)
	}
	u.do(chromedp.SetValue(chromedp.CSS(`[name="in.greeting"]`), "from the browser"),
		chromedp.SetValue(chromedp.CSS(`[name="in.ticks"]`), "400"),
		chromedp.SetValue(chromedp.CSS(`[name="in.mode"]`), "slow"),
		chromedp.Click(chromedp.CSS(`[name="in.loud"]`)))
	u.shot("start")
	u.do(chromedp.Click(chromedp.CSS("#start")))
	u.loaded("#run")
	runID := u.eval(`document.querySelector('#run').dataset.run`)

	// The log arrives while the run runs.
	u.wait("the log", `document.querySelector('#log').textContent.includes('greeting: from the browser mode: slow loud: true') &&
		document.querySelector('#log').textContent.includes('tick 3')`)
	u.shot("run")

	// Abort: the status changes on the page without a reload.
	u.eval(`window.notReloaded = 'yes'`)
	u.confirm("#op-abort")
	u.wait("ABORTED on the run page", `document.querySelector('#status').textContent === 'ABORTED' && window.notReloaded === 'yes'`)
	if run, err := s.c.Run(runID).Get(ctx); err != nil || run.Status != client.StatusAborted {
		t.Fatalf("after the abort button the API shows %v, %v", run, err)
	}

	// Resurrect: RUNNING again, and the log starts over with the new process.
	u.do(chromedp.Click(chromedp.CSS("#resurrect summary")), chromedp.SetValue(chromedp.CSS(`#resurrect-form [name=memory]`), "512"),
		chromedp.Click(chromedp.CSS("#op-resurrect")))
	u.wait("RUNNING after resurrect", `document.querySelector('#status').textContent === 'RUNNING'`)
	u.wait("the resurrected process's log", `document.querySelector('#log').textContent.split('greeting: from the browser').length === 3`)
	if run, err := s.c.Run(runID).Get(ctx); err != nil || run.Stats.ResurrectCount != 1 || run.Options.MemoryMbytes != 512 {
		t.Fatalf("after resurrect (memory 512): %+v, %v", run, err)
	}
	u.do(chromedp.Click(chromedp.CSS("#status-message-op summary")),
		chromedp.SetValue(chromedp.CSS(`#status-form [name=message]`), "set in the console"),
		chromedp.Click(chromedp.CSS("#op-status")))
	u.wait("the new status message", `document.querySelector('#status-message').textContent === 'set in the console'`)
	u.eval(`document.querySelector('#log-search').value = 'greeting: from'; document.querySelector('#log-search').dispatchEvent(new Event('input')); 'ok'`)
	if lines := strings.Split(strings.TrimSpace(u.text("#log")), "\n"); len(lines) != 2 {
		t.Fatalf("log search for 'greeting: from' shows %q, want the line of each process", lines)
	}
	u.confirm("#op-abort")
	u.wait("ABORTED again", `document.querySelector('#status').textContent === 'ABORTED'`)

	// The dataset as a table, column picking, and the CSV download.
	u.do(chromedp.Click(chromedp.CSS("#dataset-link")))
	u.loaded("#items")
	u.wait("items", `document.querySelectorAll('#items tbody tr').length >= 3 &&
		Array.from(document.querySelectorAll('#items th')).map(th => th.textContent).join(',') === '#,n,greeting,mode'`)
	u.shot("dataset")
	csv := strings.ReplaceAll(u.eval(`fetch(document.querySelector('#download-csv').href).then(r => r.ok ? r.text() : 'HTTP ' + r.status)`), "\r\n", "\n")
	if !strings.HasPrefix(strings.TrimPrefix(csv, "\ufeff"), "n,greeting,mode\n1,from the browser,slow\n") {
		t.Fatalf("CSV download starts %q", csv[:min(len(csv), 80)])
	}
	u.do(chromedp.Click(chromedp.CSS("#columns summary")), chromedp.Click(chromedp.CSS(`#columns input[value=greeting]`)),
		chromedp.Click(chromedp.CSS("#columns button")))
	u.wait("the picked column", `document.readyState === 'complete' && Array.from(document.querySelectorAll('#items th')).map(th => th.textContent).join(',') === '#,greeting'`)

	// Back to the run with the browser's back button, then its records.
	u.do(chromedp.NavigateBack(), chromedp.NavigateBack(), chromedp.WaitVisible(chromedp.CSS("#run")))
	if got := u.eval(`document.querySelector('#run').dataset.run`); got != runID {
		t.Fatalf("back button: run page of %q, want %q", got, runID)
	}
	var pic bytes.Buffer
	if err := png.Encode(&pic, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	putRecord(t, s.URL+"/v2/key-value-stores/"+live.DefaultKeyValueStoreID+"/records/picture", "image/png", pic.Bytes())
	u.do(chromedp.Click(chromedp.CSS("#kvs-link")))
	u.loaded("#keys")
	u.shot("key-value-store")
	u.do(chromedp.Click(chromedp.CSS(`#keys a[href$="/records/OUTPUT"]`)))
	u.loaded("#record")
	if got := u.text("#record"); !strings.Contains(got, "\"greeting\": \"from the browser\",\n  \"ticks\": 400") {
		t.Fatalf("OUTPUT preview: %q", got)
	}
	u.shot("record")
	u.open("/key-value-stores/"+live.DefaultKeyValueStoreID+"/records/picture", "#record-image")
	u.wait("the image", `document.querySelector('#record-image').complete && document.querySelector('#record-image').naturalWidth === 2`)

	// The other main pages render.
	u.open("/actors", "#actors")
	u.shot("actors")
	u.open("/actors/"+a.ID, "#builds")
	u.shot("actor")
	u.open("/builds/"+b.ID, "#build")
	u.wait("the build log", `document.querySelector('#log-state').textContent === 'end of log'`)
	u.open("/request-queues/"+live.DefaultRequestQueueID, "#requests")

	// A task created from its page runs, and its run page shows the
	// task's input at work; a schedule and a webhook of the task are made
	// from their pages.
	taskName := "console-task-" + strings.ToLower(troupe.NewID()[:6])
	u.open("/tasks?actor="+a.ID, "#task-form")
	u.do(chromedp.SetValue(chromedp.CSS(`#task-form [name=name]`), taskName),
		chromedp.SetValue(chromedp.CSS(`#task-form [name=input]`), `{"greeting": "from a task", "ticks": 1}`),
		chromedp.Click(chromedp.CSS("#task-form button")))
	u.loaded("#task-run")
	taskID := u.eval(`document.querySelector('#task').dataset.task`)
	u.do(chromedp.Click(chromedp.CSS("#task-run")))
	u.loaded("#run")
	u.wait("the task's run log", `document.querySelector('#log').textContent.includes('greeting: from a task')`)
	taskRun := u.eval(`document.querySelector('#run').dataset.run`)
	if run, err := s.c.Run(taskRun).Get(ctx); err != nil || run.ActorTaskID == nil || *run.ActorTaskID != taskID {
		t.Fatalf("the run the task's Run button started: %+v, %v (task %s)", run, err, taskID)
	}
	u.do(chromedp.NavigateBack(), chromedp.WaitVisible(chromedp.CSS("#task")))
	u.open("/tasks", "#tasks")
	u.shot("tasks")
	u.open("/schedules", "#schedule-form")
	u.do(chromedp.SetValue(chromedp.CSS(`#schedule-form [name=type]`), "RUN_ACTOR_TASK"),
		chromedp.SetValue(chromedp.CSS(`#schedule-form [name=taskId]`), taskID),
		chromedp.SetValue(chromedp.CSS(`#schedule-form [name=timezone]`), "Europe/Prague"),
		chromedp.Click(chromedp.CSS(`#schedule-form [name=enabled]`)),
		chromedp.Click(chromedp.CSS("#schedule-form button")))
	u.loaded("#schedule-actions")
	u.open("/schedules", "#schedules")
	u.shot("schedules")
	u.open("/webhooks", "#webhook-form")
	u.do(chromedp.Click(chromedp.CSS(`#webhook-form [value="ACTOR.RUN.SUCCEEDED"]`)),
		chromedp.SetValue(chromedp.CSS(`#webhook-form [name=taskId]`), taskID),
		chromedp.SetValue(chromedp.CSS(`#webhook-form [name=requestUrl]`), "http://127.0.0.1:9/hook"),
		chromedp.Click(chromedp.CSS("#webhook-form button")))
	u.loaded("#webhook-test")
	u.do(chromedp.Click(chromedp.CSS("#webhook-test")))
	u.wait("the test dispatch", `Array.from(document.querySelectorAll('#dispatches td')).some(td => td.textContent === 'TEST')`)
	u.open("/webhooks", "#webhooks")
	u.shot("webhooks")
	u.open("/runs/no-such-run", "#page-error")
	if got := u.text("#page-error"); !strings.Contains(got, "There is no run no-such-run") {
		t.Fatalf("error page: %q", got)
	}

	// Delete asks first, then the run is gone.
	u.open("/runs/"+runID, "#run")
	u.confirm("#op-delete")
	u.wait("the runs list after delete", `location.pathname === '/runs' && document.readyState === 'complete'`)
	if run, err := s.c.Run(runID).Get(ctx); run != nil || err != nil {
		t.Fatalf("run after delete: %v, %v", run, err)
	}

	// Sign out: the console asks for the token again.
	u.do(chromedp.Click(chromedp.CSS("#sign-out")))
	u.loaded("#token")
	u.open("/runs", "#token")
}

func waitRunning(t *testing.T, s *server, runID string) *client.Run {
	t.Helper()
	ctx := testCtx(t)
	for {
		run, err := s.c.Run(runID).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status == client.StatusRunning {
			return run
		}
		if run.Status.Terminal() {
			t.Fatalf("run %s ended %s", runID, run.Status)
		}
		ch, err := s.c.Run(runID).WaitForFinish(ctx, 1)
		if err == nil && ch.Status.Terminal() {
			t.Fatalf("run %s ended %s", runID, ch.Status)
		}
	}
}

func statusOf(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func putRecord(t *testing.T, url, contentType string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", contentType)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		t.Fatalf("PUT %s: %d", url, res.StatusCode)
	}
}
