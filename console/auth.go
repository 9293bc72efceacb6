package console

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// urlQueryEscape escapes s for a query parameter.
func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// safeNext returns next when it is a path of this console (never another
// site, never the API), else /runs.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.HasPrefix(next, "/api/") || strings.HasPrefix(next, "/v2") || strings.HasPrefix(next, "/events/") {
		return "/runs"
	}
	return next
}

type signInData struct {
	Next  string
	Error string
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.session(r); ok {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	if err := c.render(w, r, http.StatusOK, "signin", "Sign in", "", signInData{Next: safeNext(r.URL.Query().Get("next"))}); err != nil {
		c.errorPage(w, r, err)
	}
}

// signIn opens a session for the admin token. Any other token (a run's
// token among them) is refused.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	next := safeNext(r.PostFormValue("next"))
	if !sameOrigin(r) {
		http.Error(w, "cross-site sign-in refused", http.StatusForbidden)
		return
	}
	tok := strings.TrimSpace(r.PostFormValue("token"))
	if c.cfg.Token == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(c.cfg.Token)) != 1 {
		msg := "That token does not open the console: sign in with the admin token (TROUPE_TOKEN, or the token file in the data folder)."
		if tok == "" {
			msg = "Enter the admin token."
		}
		if err := c.render(w, r, http.StatusUnauthorized, "signin", "Sign in", "", signInData{Next: next, Error: msg}); err != nil {
			c.errorPage(w, r, err)
		}
		return
	}
	c.setSession(w, r, c.newSession(c.now()), int(SessionTTL.Seconds()))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signOut ends the session in this browser.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	sess, ok := c.session(r)
	if ok && (!sameOrigin(r) || !c.validCSRF(r, sess)) {
		http.Error(w, "sign-out without the page's CSRF token refused", http.StatusForbidden)
		return
	}
	c.setSession(w, r, "", -1)
	http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
}

// proxy forwards /api/v2/... to the API as /v2/... with the admin token,
// for a signed-in browser. Requests that may change something must carry
// the session's CSRF token (header X-CSRF-Token) and come from this origin.
// API answers are served with a sandboxing Content-Security-Policy, so
// that content a run stored (an HTML record, say) never runs as a page of
// the console.
func (c *Console) proxy(w http.ResponseWriter, r *http.Request) {
	sess, ok := c.session(r)
	if !ok {
		writeAPIError(w, http.StatusUnauthorized, "token-not-provided", "Sign in to the console first.")
		return
	}
	q := r.URL.Query()
	if q.Has("method") || q.Has("token") {
		writeAPIError(w, http.StatusBadRequest, "invalid-parameter", "The console does not forward the 'method' and 'token' parameters.")
		return
	}
	reads := r.Method == http.MethodGet || r.Method == http.MethodHead
	if strings.Contains(r.URL.Path, "/run-sync") {
		reads = false
	}
	if !reads && (!sameOrigin(r) || r.Header.Get("X-CSRF-Token") == "" || !c.validCSRF(r, sess)) {
		writeAPIError(w, http.StatusForbidden, "insufficient-permissions", "The request lacks the console's CSRF token; reload the page.")
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = strings.TrimPrefix(r.URL.Path, "/api")
	r2.URL.RawPath = ""
	if r.URL.RawPath != "" {
		r2.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, "/api")
	}
	r2.RequestURI = r2.URL.RequestURI()
	r2.Header.Del("Cookie")
	r2.Header.Del("X-CSRF-Token")
	r2.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'")
	if !reads && (strings.HasPrefix(r2.URL.Path, "/v2/actors") || strings.HasPrefix(r2.URL.Path, "/v2/acts")) {
		defer c.forgetActorNames()
	}
	c.cfg.API.ServeHTTP(w, r2)
}

func writeAPIError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":{"type":"` + typ + `","message":"` + msg + `"}}`))
}
