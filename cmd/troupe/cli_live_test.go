package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
	"github.com/troupehq/troupe/sqlite"
	"sigs.k8s.io/yaml"
)

// The live server of these tests: the real API on a real SQLite file. Runs
// and actors are written to the store directly; no run has a process.
const (
	liveToken    = "cli-test-admin-token"
	liveUserID   = "USERCLITEST000001"
	liveUsername = "alice"
)

type liveAPI struct {
	t     *testing.T
	url   string
	store troupe.Store
}

type nopController struct{}

func (nopController) Wake(string)                                           {}
func (nopController) Stats(string) (troupe.ProcessStats, bool)              { return troupe.ProcessStats{}, false }
func (nopBuilder) Enqueue(string)                                           {}
func (nopEvents) ServeRun(w http.ResponseWriter, _ *http.Request, _ string) { http.NotFound(w, nil) }

type (
	nopBuilder struct{}
	nopEvents  struct{}
)

func newLiveAPI(t *testing.T) *liveAPI {
	t.Helper()
	return newLiveAPIWith(t, func(troupe.Store) api.Controller { return nopController{} })
}

// newLiveAPIWith is newLiveAPI with the run controller ctrl makes.
func newLiveAPIWith(t *testing.T, ctrl func(troupe.Store) api.Controller) *liveAPI {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "troupe.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := api.New(api.Config{
		Store: db, Controller: ctrl(db), Builder: nopBuilder{}, Events: nopEvents{},
		Token: liveToken, RunTokenSecret: troupe.RunTokenSecret(liveToken),
		UserID: liveUserID, Username: liveUsername,
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config = h.HTTPServer()
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		_ = db.Close()
	})
	return &liveAPI{t: t, url: srv.URL, store: db}
}

// run runs the CLI against the server with the admin token.
func (a *liveAPI) run(args ...string) (stdout, stderr string, err error) {
	return execCLI(append(args, "--url", a.url, "--token", liveToken)...)
}

// complete asks the CLI to complete the last of args, as a shell does.
func (a *liveAPI) complete(args ...string) string {
	a.t.Helper()
	out, _, err := execCLI(append([]string{"__complete", "--url", a.url, "--token", liveToken}, args...)...)
	if err != nil {
		a.t.Fatal(err)
	}
	return out
}

// actor stores an actor whose "latest" tag points at build number latest
// (none when empty).
func (a *liveAPI) actor(name string, created time.Time, latest string) *troupe.Actor {
	a.t.Helper()
	act := &troupe.Actor{
		ID: troupe.NewID(), UserID: liveUserID, Username: liveUsername, Name: name,
		CreatedAt: created, ModifiedAt: created,
		DefaultRunOptions: troupe.DefaultRunOptions{Build: "latest", TimeoutSecs: 3600, MemoryMbytes: 1024},
		TaggedBuilds:      map[string]*troupe.TaggedBuild{},
	}
	if latest != "" {
		act.TaggedBuilds["latest"] = &troupe.TaggedBuild{BuildID: troupe.NewID(), BuildNumber: latest}
	}
	if err := a.store.CreateActor(context.Background(), act); err != nil {
		a.t.Fatal(err)
	}
	return act
}

// newRun stores a run of act that started at started, RUNNING or finished
// with status.
func (a *liveAPI) newRun(act *troupe.Actor, status troupe.Status, started time.Time, msg string) *troupe.Run {
	a.t.Helper()
	r := &troupe.Run{
		ID: troupe.NewID(), ActID: act.ID, UserID: liveUserID, StartedAt: started, Status: status,
		BuildNumber: "0.1.1", Options: troupe.RunOptions{MemoryMbytes: 1024},
	}
	if msg != "" {
		r.StatusMessage = &msg
	}
	if status.Terminal() {
		fin := started.Add(2 * time.Second)
		r.FinishedAt = &fin
		r.Stats.DurationMillis = 2000
	}
	if err := a.store.CreateRun(context.Background(), r, nil); err != nil {
		a.t.Fatal(err)
	}
	return r
}

// finish ends a RUNNING run with exit code 0.
func (a *liveAPI) finish(id string) {
	a.t.Helper()
	_, err := a.store.UpdateRun(context.Background(), id, func(r *troupe.Run, _ troupe.StorageTx) error {
		return r.Finish(0, troupe.Now())
	})
	if err != nil {
		a.t.Fatal(err)
	}
}

func TestCLIVersion(t *testing.T) {
	t.Parallel()
	out, _, err := execCLI("--version")
	if err != nil {
		t.Fatal(err)
	}
	if want := "troupe " + version(debug.ReadBuildInfo()) + "\n"; out != want {
		t.Errorf("--version printed %q, want %q", out, want)
	}
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"},
		{Key: "vcs.time", Value: "2026-11-30T09:00:00Z"},
	}}
	if got, want := version(info, true), "v1.4.0 (commit 0123456789ab, modified, 2026-11-30T09:00:00Z, go1.26.8)"; got != want {
		t.Errorf("version = %q, want %q", got, want)
	}
	if got := version(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true); got != "(devel)" {
		t.Errorf("version of a plain build = %q", got)
	}
	if got := version(nil, false); got != "(unknown)" {
		t.Errorf("version without build info = %q", got)
	}
}

// lines splits a table into lines and their cells.
func lines(out string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

func TestCLIActorsLs(t *testing.T) {
	t.Parallel()
	a := newLiveAPI(t)
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hello := a.actor("hello", t1, "0.1.7")
	bare := a.actor("never-built", t1.Add(time.Hour), "")

	out, _, err := a.run("actors", "ls")
	if err != nil {
		t.Fatal(err)
	}
	rows := lines(out)
	if len(rows) != 3 || strings.Join(rows[0], " ") != "NAME ID LATEST BUILD CREATED" {
		t.Fatalf("actors ls printed:\n%s", out)
	}
	created := strings.Fields(t1.Local().Format("2006-01-02 15:04:05"))
	if want := append([]string{"hello", hello.ID, "0.1.7"}, created...); strings.Join(rows[1], " ") != strings.Join(want, " ") {
		t.Errorf("line %q, want %q", rows[1], want)
	}
	if rows[2][0] != "never-built" || rows[2][1] != bare.ID || rows[2][2] != "-" {
		t.Errorf("line %q, want never-built with no build", rows[2])
	}

	out, _, err = a.run("actors", "ls", "-o", "json", "--desc")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Total int `json:"total"`
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || page.Total != 2 || len(page.Items) != 2 || page.Items[0].Name != "never-built" {
		t.Errorf("-o json --desc printed %s (%v)", out, err)
	}
}

func TestCLIRunsLsLive(t *testing.T) {
	t.Parallel()
	a := newLiveAPI(t)
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hello, crawler := a.actor("hello", t1, "0.1.1"), a.actor("crawler", t1, "0.1.1")
	r1 := a.newRun(hello, troupe.StatusSucceeded, t1, "Done")
	r2 := a.newRun(crawler, troupe.StatusFailed, t1.Add(time.Minute), "Actor failed with exit code 3")
	r3 := a.newRun(hello, troupe.StatusRunning, t1.Add(2*time.Minute), "Crawled 10 pages")

	out, _, err := a.run("runs", "ls")
	if err != nil {
		t.Fatal(err)
	}
	rows := lines(out)
	if len(rows) != 4 {
		t.Fatalf("runs ls printed:\n%s", out)
	}
	// Newest first, each with its actor's name and status.
	for i, want := range []struct {
		id, actor, status, msg string
	}{
		{r3.ID, "hello", "RUNNING", "Crawled 10 pages"},
		{r2.ID, "crawler", "FAILED", "Actor failed with exit code 3"},
		{r1.ID, "hello", "SUCCEEDED", "Done"},
	} {
		row := rows[i+1]
		if row[0] != want.id || row[1] != want.actor || row[2] != want.status || !strings.HasSuffix(strings.Join(row, " "), want.msg) {
			t.Errorf("line %d %q, want %+v", i+1, row, want)
		}
	}
	if !strings.Contains(out, "2.0s") {
		t.Errorf("no duration of the finished runs:\n%s", out)
	}

	out, _, err = a.run("runs", "ls", "--desc=false", "--actor", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if rows := lines(out); len(rows) != 3 || rows[1][0] != r1.ID || rows[2][0] != r3.ID {
		t.Errorf("runs ls --desc=false --actor hello printed:\n%s", out)
	}
}

func TestCLIOutputFormats(t *testing.T) {
	t.Parallel()
	a := newLiveAPI(t)
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := a.newRun(a.actor("hello", t1, "0.1.1"), troupe.StatusSucceeded, t1, "Done")

	type run struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		StatusMessage string `json:"statusMessage"`
	}
	var fromJSON, fromYAML run
	out, _, err := a.run("runs", "get", r.ID, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &fromJSON); err != nil {
		t.Fatalf("-o json printed %q: %v", out, err)
	}
	out, _, err = a.run("runs", "get", r.ID, "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(strings.TrimSpace(out), "{") || !strings.Contains(out, "status: SUCCEEDED\n") {
		t.Errorf("-o yaml printed %q", out)
	}
	if err := yaml.Unmarshal([]byte(out), &fromYAML); err != nil {
		t.Fatalf("-o yaml printed %q: %v", out, err)
	}
	want := run{ID: r.ID, Status: "SUCCEEDED", StatusMessage: "Done"}
	if fromJSON != want || fromYAML != want {
		t.Errorf("json %+v, yaml %+v, want %+v", fromJSON, fromYAML, want)
	}
	out, _, err = a.run("runs", "get", r.ID, "-o", "table")
	if err != nil {
		t.Fatal(err)
	}
	if !containsAligned(out, "Status: SUCCEEDED") || !containsAligned(out, "ID: "+r.ID) {
		t.Errorf("-o table printed %q", out)
	}

	// Lists too, in every format.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"runs", "ls", "-o", "json"}, `"total": 1`},
		{[]string{"runs", "ls", "-o", "yaml"}, "total: 1\n"},
		{[]string{"runs", "ls", "-o", "table"}, "STATUS MESSAGE"},
		{[]string{"actors", "ls", "-o", "json"}, `"name": "hello"`},
		{[]string{"actors", "ls", "-o", "yaml"}, "  name: hello\n"},
		{[]string{"actors", "ls", "-o", "table"}, "LATEST BUILD"},
		{[]string{"builds", "ls", "hello", "-o", "json"}, `"total": 0`},
		{[]string{"builds", "ls", "hello", "-o", "yaml"}, "total: 0\n"},
		{[]string{"builds", "ls", "hello", "-o", "table"}, "NUMBER"},
	} {
		if out, _, err := a.run(tc.args...); err != nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: %v, printed %q, want %q in it", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
}

func TestCLIErrorHints(t *testing.T) {
	t.Parallel()
	a := newLiveAPI(t)

	_, _, err := execCLI("runs", "ls", "--url", a.url, "--token", "wrong")
	if got := cliErrorMessage(err); !strings.HasPrefix(got, "the token was refused: the admin token is in ") || !strings.HasSuffix(got, "token (or set TROUPE_TOKEN)") {
		t.Errorf("bad token: %q", got)
	}
	_, _, err = a.run("runs", "abort", "NOSUCHRUN")
	if got := cliErrorMessage(err); !strings.Contains(got, "NOSUCHRUN") || !strings.Contains(got, "not found") {
		t.Errorf("unknown run: %q", got)
	}
	_, _, err = a.run("builds", "ls", "alice/nosuchactor")
	if got := cliErrorMessage(err); !strings.Contains(got, "nosuchactor") || !strings.Contains(got, "not found") {
		t.Errorf("unknown actor: %q", got)
	}

	// A port nothing listens on: take one and close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	_, _, err = execCLI("runs", "ls", "--url", down, "--token", liveToken)
	if got, want := cliErrorMessage(err), "cannot reach troupe at "+down+": is `troupe serve` running? (set the address with --url or TROUPE_URL)"; got != want {
		t.Errorf("server down: %q, want %q", got, want)
	}
}

func TestCLINoToken(t *testing.T) {
	// Not parallel: it clears TROUPE_TOKEN.
	t.Setenv("TROUPE_TOKEN", "")
	a := newLiveAPI(t)
	_, _, err := execCLI("actors", "ls", "--url", a.url)
	if got := cliErrorMessage(err); !strings.HasPrefix(got, "no token was given: the admin token is in ") ||
		!strings.HasSuffix(got, "token (pass it with --token or set TROUPE_TOKEN)") {
		t.Errorf("no token: %q", got)
	}
}

// pipeLines returns the writer of a pipe and a function that reads its
// next line (failing the test when the pipe ends first).
func pipeLines(t *testing.T) (*io.PipeWriter, func() string) {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pr.Close() })
	sc := bufio.NewScanner(pr)
	return pw, func() string {
		t.Helper()
		if !sc.Scan() {
			t.Fatalf("output ended: %v", sc.Err())
		}
		return sc.Text()
	}
}

func TestCLIRunsWatch(t *testing.T) {
	t.Parallel()
	a := newLiveAPI(t)
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hello := a.actor("hello", t1, "0.1.1")
	done := a.newRun(hello, troupe.StatusSucceeded, t1, "")
	live := a.newRun(hello, troupe.StatusRunning, t1.Add(time.Minute), "")

	root := newRootCmd()
	out, next := pipeLines(t)
	root.SetOut(out)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"runs", "watch", "--interval", "100ms", "--url", a.url, "--token", liveToken})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- root.ExecuteContext(ctx)
		out.Close()
	}()

	header := next()
	if !strings.HasPrefix(header, "ID") || !strings.Contains(header, "STATUS MESSAGE") {
		t.Fatalf("header %q", header)
	}
	for _, want := range []*troupe.Run{live, done} {
		if l := strings.Fields(next()); l[0] != want.ID || l[1] != "hello" || l[2] != string(want.Status) {
			t.Fatalf("line %q, want run %s %s", l, want.ID, want.Status)
		}
	}
	// The live run finishes: its long poll reports it.
	a.finish(live.ID)
	l := next()
	if f := strings.Fields(l); f[0] != live.ID || f[2] != "SUCCEEDED" {
		t.Errorf("change line %q, want %s SUCCEEDED", l, live.ID)
	}
	// Columns line up with the header.
	if strings.Index(l, "SUCCEEDED") != strings.Index(header, "STATUS") {
		t.Errorf("change line %q is not aligned with %q", l, header)
	}
	// A new run appears at the next list refresh.
	fresh := a.newRun(hello, troupe.StatusRunning, troupe.Now(), "Starting")
	if f := strings.Fields(next()); f[0] != fresh.ID || f[2] != "RUNNING" || f[len(f)-1] != "Starting" {
		t.Errorf("new run line %q, want %s RUNNING", f, fresh.ID)
	}

	cancel()
	if err := <-errc; err != nil {
		t.Errorf("watch stopped with %v, want a clean end", err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("watch ran into the test's timeout")
	}
}

func TestCLICompletion(t *testing.T) {
	t.Parallel()
	for shell, want := range map[string]string{
		"bash": "__start_troupe", "zsh": "#compdef troupe", "fish": "complete -c troupe", "powershell": "Register-ArgumentCompleter",
	} {
		out, _, err := execCLI("completion", shell)
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("completion %s: %v, script lacks %q", shell, err, want)
		}
	}

	a := newLiveAPI(t)
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hello := a.actor("hello", t1, "0.1.1")
	a.actor("crawler", t1, "")
	r := a.newRun(hello, troupe.StatusRunning, t1, "")

	if out := a.complete("call", ""); !strings.Contains(out, "hello\t") || !strings.Contains(out, "crawler\t") {
		t.Errorf("actor completion:\n%s", out)
	}
	if out := a.complete("runs", "ls", "--actor", ""); !strings.Contains(out, "hello\t") {
		t.Errorf("--actor completion:\n%s", out)
	}
	if out := a.complete("runs", "abort", ""); !strings.HasPrefix(out, r.ID+"\tRUNNING") {
		t.Errorf("run id completion:\n%s", out)
	}
	if out := a.complete("runs", "ls", "-o", ""); !strings.HasPrefix(out, "table\njson\nyaml\n") {
		t.Errorf("-o completion:\n%s", out)
	}
}
