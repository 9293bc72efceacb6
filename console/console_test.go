package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
	"github.com/troupehq/troupe/console"
	"github.com/troupehq/troupe/sqlite"
)

const adminToken = "console-admin"

type nopController struct{}

func (nopController) Wake(string)                              {}
func (nopController) Stats(string) (troupe.ProcessStats, bool) { return troupe.ProcessStats{}, false }

type nopBuilder struct{}

func (nopBuilder) Enqueue(string) {}

type env struct {
	t     *testing.T
	srv   *httptest.Server
	store troupe.Store
	// c is a browser-like client: a cookie jar, no redirects followed.
	c *http.Client
}

func setup(t *testing.T) *env {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "troupe.db"))
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Config{Store: db, Controller: nopController{}, Builder: nopBuilder{}, Token: adminToken,
		RunTokenSecret: troupe.RunTokenSecret(adminToken), UserID: "u1", Username: "local"})
	srv := httptest.NewServer(console.New(console.Config{Store: db, API: a, Token: adminToken, Username: "local"}))
	t.Cleanup(func() { srv.Close(); _ = db.Close() })
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &env{t: t, srv: srv, store: db, c: c}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(method, path string, body io.Reader, header map[string]string) answer {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := e.c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, string(b)}
}

func (e *env) signIn(token string) answer {
	e.t.Helper()
	return e.do("POST", "/sign-in", strings.NewReader(url.Values{"token": {token}, "next": {"/runs"}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

var csrfRE = regexp.MustCompile(`data-csrf="([^"]+)"`)

// csrf returns the CSRF token a page of the console carries.
func (e *env) csrf() string {
	e.t.Helper()
	m := csrfRE.FindStringSubmatch(e.do("GET", "/runs", nil, nil).body)
	if m == nil {
		e.t.Fatal("no CSRF token on /runs")
	}
	return m[1]
}

func newRun(actorID string, startedAt time.Time) *troupe.Run {
	return &troupe.Run{
		ID: troupe.NewID(), ActID: actorID, UserID: "u1", StartedAt: startedAt, Status: troupe.StatusReady,
		Meta:    troupe.RunMeta{Origin: troupe.OriginAPI},
		Options: troupe.RunOptions{Build: "latest", TimeoutSecs: 60, MemoryMbytes: 1024, DiskMbytes: 2048},
		BuildID: "b1", BuildNumber: "0.0.1", GeneralAccess: "FOLLOW_USER_SETTING",
		DefaultDatasetID: troupe.NewID(), DefaultKeyValueStoreID: troupe.NewID(), DefaultRequestQueueID: troupe.NewID(),
	}
}

func TestSignIn(t *testing.T) {
	e := setup(t)
	if a := e.do("GET", "/runs?status=READY", nil, nil); a.status != http.StatusSeeOther || a.header.Get("Location") != "/sign-in?next=%2Fruns%3Fstatus%3DREADY" {
		t.Fatalf("signed out: %d to %q", a.status, a.header.Get("Location"))
	}
	run := newRun("act1", time.Now())
	if err := e.store.CreateRun(context.Background(), run, nil); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"", "wrong", troupe.RunToken(troupe.RunTokenSecret(adminToken), run)} {
		if a := e.signIn(tok); a.status != http.StatusUnauthorized || !strings.Contains(a.body, "admin token") || a.header.Get("Set-Cookie") != "" {
			t.Fatalf("sign in with %q: %d, cookie %q", tok, a.status, a.header.Get("Set-Cookie"))
		}
	}
	a := e.signIn(adminToken)
	ck := a.header.Get("Set-Cookie")
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/runs" ||
		!strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") || strings.Contains(ck, "Secure") {
		t.Fatalf("sign in: %d to %q, cookie %q (want HttpOnly, SameSite=Strict, not Secure over plain HTTP)", a.status, a.header.Get("Location"), ck)
	}
	if a := e.do("GET", "/runs", nil, nil); a.status != http.StatusOK || !strings.Contains(a.body, `id="run-`+run.ID+`"`) {
		t.Fatalf("runs page: %d\n%s", a.status, a.body)
	}
	if a := e.do("GET", "/runs/nope", nil, nil); a.status != http.StatusNotFound || !strings.Contains(a.body, "There is no run nope") {
		t.Fatalf("missing run: %d\n%s", a.status, a.body)
	}

	// The API is untouched: /v2 still wants a token, whatever the cookie.
	if a := e.do("GET", "/v2/actor-runs", nil, nil); a.status != http.StatusUnauthorized || !strings.Contains(a.body, "token-not-provided") {
		t.Fatalf("/v2 with only the console cookie: %d %s", a.status, a.body)
	}

	// Sign-out needs the page's CSRF token.
	if a := e.do("POST", "/sign-out", nil, nil); a.status != http.StatusForbidden {
		t.Fatalf("sign-out without CSRF: %d", a.status)
	}
	a = e.do("POST", "/sign-out", strings.NewReader("csrf="+url.QueryEscape(e.csrf())), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if a.status != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", a.status)
	}
	if a := e.do("GET", "/runs", nil, nil); a.status != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d", a.status)
	}
}

func TestAPIForwarding(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	run := newRun("act1", time.Now())
	if err := e.store.CreateRun(ctx, run, nil); err != nil {
		t.Fatal(err)
	}
	if a := e.do("POST", "/api/v2/actor-runs/"+run.ID+"/abort", nil, nil); a.status != http.StatusUnauthorized {
		t.Fatalf("signed out: %d", a.status)
	}
	e.signIn(adminToken)
	csrf := e.csrf()
	abort := "/api/v2/actor-runs/" + run.ID + "/abort"
	for name, h := range map[string]map[string]string{
		"no CSRF token":    nil,
		"wrong CSRF token": {"X-CSRF-Token": "x" + csrf},
		"other origin":     {"X-CSRF-Token": csrf, "Origin": "http://evil.example"},
	} {
		if a := e.do("POST", abort, nil, h); a.status != http.StatusForbidden {
			t.Fatalf("%s: %d %s", name, a.status, a.body)
		}
	}
	if got, _ := e.store.GetRun(ctx, run.ID); got.Status != troupe.StatusReady {
		t.Fatalf("refused aborts changed the run: %s", got.Status)
	}
	// A GET cannot smuggle another method or token through.
	if a := e.do("GET", "/api/v2/actor-runs/"+run.ID+"?method=DELETE", nil, nil); a.status != http.StatusBadRequest {
		t.Fatalf("?method=DELETE: %d", a.status)
	}
	a := e.do("POST", abort, nil, map[string]string{"X-CSRF-Token": csrf, "Origin": e.srv.URL})
	if a.status != http.StatusOK || !strings.Contains(a.body, `"status":"ABORTED"`) {
		t.Fatalf("abort: %d %s", a.status, a.body)
	}
	if !strings.HasPrefix(a.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("forwarded answer CSP %q, want sandbox", a.header.Get("Content-Security-Policy"))
	}
	if got, _ := e.store.GetRun(ctx, run.ID); got.Status != troupe.StatusAborted {
		t.Fatalf("after abort: %s", got.Status)
	}
}

var rowRE = regexp.MustCompile(`id="run-([A-Za-z0-9]+)"`)
var olderRE = regexp.MustCompile(`id="older" href="(/runs\?[^"]+)"`)

// TestRunsPaging pages through runs, many of them started in the same
// millisecond, with the cursor links: every run once, newest first.
func TestRunsPaging(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for _, id := range []string{"act1", "act2"} {
		now := time.Now()
		if err := e.store.CreateActor(ctx, &troupe.Actor{ID: id, UserID: "u1", Username: "local", Name: "actor-" + id,
			CreatedAt: now, ModifiedAt: now, Versions: []troupe.Version{}, TaggedBuilds: map[string]*troupe.TaggedBuild{}}); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := range 3*console.RunsPageSize + 7 {
		// Runs share milliseconds in groups of 13, across page borders.
		r := newRun("act1", base.Add(time.Duration(i/13)*time.Millisecond))
		if i%2 == 1 {
			r.ActID = "act2"
		}
		if err := e.store.CreateRun(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		want = append(want, r.ID)
	}
	e.signIn(adminToken)
	var got []string
	path := "/runs"
	for pages := 0; path != ""; pages++ {
		if pages > 10 {
			t.Fatalf("paging does not end: %s, %d rows so far", path, len(got))
		}
		a := e.do("GET", path, nil, nil)
		if a.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, a.status, a.body)
		}
		for _, m := range rowRE.FindAllStringSubmatch(a.body, -1) {
			got = append(got, m[1])
		}
		path = ""
		if m := olderRE.FindStringSubmatch(a.body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if len(got) != len(want) {
		t.Fatalf("paged through %d runs, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("run %s shown twice", id)
		}
		seen[id] = true
	}
	// Newest first; runs of one millisecond in the store's order.
	for i, id := range got {
		if id != want[len(want)-1-i] {
			t.Fatalf("row %d is run %s, want %s", i, id, want[len(want)-1-i])
		}
	}
	// Filters: status and actor.
	a := e.do("GET", "/runs?actor=act2&status=READY", nil, nil)
	if n := len(rowRE.FindAllString(a.body, -1)); a.status != http.StatusOK || n != console.RunsPageSize {
		t.Fatalf("filtered: %d, %d rows", a.status, n)
	}
	if a := e.do("GET", "/runs?status=NOPE", nil, nil); a.status != http.StatusBadRequest || !strings.Contains(a.body, "There is no run status") {
		t.Fatalf("bad status: %d", a.status)
	}
}

// BenchmarkRunsPage renders the first runs page of 2,000 stored runs of
// five actors, signed in.
func BenchmarkRunsPage(b *testing.B) {
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "troupe.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	now := time.Now()
	var actors []string
	for i := range 5 {
		id := troupe.NewID()
		files := []troupe.SourceFile{{Name: "main.js", Format: "TEXT", Content: strings.Repeat("console.log(1);\n", 2000)}}
		if err := db.CreateActor(ctx, &troupe.Actor{ID: id, UserID: "u1", Username: "local", Name: "actor-" + strconv.Itoa(i),
			CreatedAt: now, ModifiedAt: now, Versions: []troupe.Version{{VersionNumber: "0.1", SourceType: troupe.SourceFiles, SourceFiles: files}},
			TaggedBuilds: map[string]*troupe.TaggedBuild{}}); err != nil {
			b.Fatal(err)
		}
		actors = append(actors, id)
	}
	for i := range 2000 {
		if err := db.CreateRun(ctx, newRun(actors[i%5], now.Add(time.Duration(i)*time.Millisecond)), nil); err != nil {
			b.Fatal(err)
		}
	}
	a := api.New(api.Config{Store: db, Controller: nopController{}, Builder: nopBuilder{}, Token: adminToken, UserID: "u1", Username: "local"})
	h := console.New(console.Config{Store: db, API: a, Token: adminToken, Username: "local"})
	rec := httptest.NewRecorder()
	signIn := httptest.NewRequest("POST", "/sign-in", strings.NewReader("token="+adminToken))
	signIn.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(rec, signIn)
	cookie := rec.Result().Cookies()[0]
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/runs", nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
