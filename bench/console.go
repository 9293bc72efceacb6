package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ---- 7b. console (after growth) ---------------------------------------------

// consolePageRuns is how many runs the baseline lists: at least what the
// console's first runs page shows.
const consolePageRuns = 50

// console times the web console's first runs page (GET /runs, signed in
// with the admin token) with growthLarge runs stored, against the API's
// list of the newest runs of the same size from the same server.
func (b *bench) console(ctx context.Context) ([]Row, error) {
	size := b.sizes.growthLarge
	name := fmt.Sprintf("console: runs list first page, %s stored", thousands(size))
	if b.dbPath() == "" {
		return []Row{{Scenario: name, Note: "seeding is written for the embedded SQLite store only"}}, nil
	}
	// The growth scenario leaves the store seeded; seed it here when it
	// did not run.
	body, err := getBody(ctx, b.srv.URL+"/v2/actor-runs?limit=1")
	if err != nil {
		return nil, err
	}
	stored, _, err := decodeTotal(body)
	if err != nil {
		return nil, err
	}
	if stored < size {
		b.prog.set(name, "stopping the server")
		b.srv.stop()
		if err := b.seed(ctx, size, func(done, todo int) {
			b.prog.set(name, "seeding the store: %d/%d runs", done, todo)
		}); err != nil {
			return nil, fmt.Errorf("seed %d runs: %w", size, err)
		}
		b.prog.set(name, "starting the server")
		if err := b.srv.start(ctx); err != nil {
			return nil, err
		}
	}

	cookie, err := b.consoleSignIn(ctx)
	if err != nil {
		return nil, err
	}
	n := b.sizes.growthListPages
	var page, api latencies
	for i := -warmups; i < n; i++ {
		b.prog.set(name, "%d/%d pages", max(i+1, 0), n)
		t0 := time.Now()
		html, err := getConsolePage(ctx, b.srv.URL+"/runs", cookie)
		if err != nil {
			return nil, err
		}
		d := time.Since(t0)
		t1 := time.Now()
		list, err := getBody(ctx, fmt.Sprintf("%s/v2/actor-runs?desc=1&limit=%d", b.srv.URL, consolePageRuns))
		if err != nil {
			return nil, err
		}
		if i >= 0 {
			page, api = append(page, d), append(api, time.Since(t1))
			continue
		}
		// The page lists the newest run.
		newest, err := firstItemID(list)
		if err != nil {
			return nil, err
		}
		if !strings.Contains(html, newest) {
			return nil, fmt.Errorf("the console's first runs page does not show the newest run %s: %.300s", newest, html)
		}
	}
	r := latencyRow(name, page)
	r.vs(fmt.Sprintf("API list of the newest %d runs p50", consolePageRuns),
		*r.P50Ms, ms(api.pct(50)), "p50")
	r.target("p99 < 200 ms", *r.P99Ms, 200, true)
	r.Note = "GET /runs with the console's session cookie: the whole HTML page, as a browser loads it"
	return []Row{r}, nil
}

// consoleSignIn signs in to the console with the admin token, as its
// sign-in form does, and returns the session cookie.
func (b *bench) consoleSignIn(ctx context.Context) (*http.Cookie, error) {
	form := url.Values{"token": {benchToken}, "next": {"/runs"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.srv.URL+"/sign-in", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.srv.URL)
	resp, err := noRedirects.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.Value != "" && ck.MaxAge >= 0 {
			return ck, nil
		}
	}
	return nil, fmt.Errorf("console sign-in: HTTP %d and no session cookie", resp.StatusCode)
}

// noRedirects is a client that returns redirects rather than following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// getConsolePage GETs a console page with the session cookie and returns
// it whole; a redirect (to the sign-in page) is an error.
func getConsolePage(ctx context.Context, url string, cookie *http.Cookie) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.AddCookie(cookie)
	resp, err := noRedirects.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: HTTP %d: %.200s", url, resp.StatusCode, body)
	}
	return string(body), nil
}

// firstItemID returns the id of the first item of a list body.
func firstItemID(body []byte) (string, error) {
	var env struct {
		Data struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return "", err
	}
	if len(env.Data.Items) == 0 {
		return "", fmt.Errorf("empty list")
	}
	return env.Data.Items[0].ID, nil
}
