// Package console is troupe's web console: HTML pages, served by `troupe
// serve` at /, to see and steer actors, runs and storages from a browser.
//
// Pages are rendered on the server from the store (the same troupe.Store
// the API reads). Every operation (start, abort, resurrect, new version...)
// is a call of the /v2 API made by the page's script through /api/v2, which
// this package forwards in process to the API handler with the admin token:
// the console has no logic of its own for what an operation does. Live
// parts follow the store's Watch and WatchLog (server-sent events) and the
// API's log stream.
//
// The console opens only with the admin token; a session is a signed
// cookie (HttpOnly, SameSite=Strict, Secure over TLS), and every request
// that changes something carries the session's CSRF token.
package console

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/troupehq/troupe"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures a Console.
type Config struct {
	// Store is read to render pages and watched for live updates.
	Store troupe.Store
	// API is the /v2 handler: requests to /v2 go to it unchanged, and the
	// console's own calls (/api/v2/...) go to it with the admin token.
	API http.Handler
	// Token is the admin token, the only token that opens the console.
	Token string
	// Username names the account troupe serves (user~name actor ids).
	Username string
	// Secure marks the session cookie Secure also on requests that did not
	// come over TLS (troupe behind a TLS-terminating proxy).
	Secure bool
	Logger *slog.Logger
	// Now is the clock (default troupe.Now).
	Now func() time.Time
}

// Console serves the web console and, under /v2, the API. Create it with
// New.
type Console struct {
	cfg   Config
	store troupe.Store
	key   []byte
	now   func() time.Time
	log   *slog.Logger
	mux   *http.ServeMux
	pages map[string]*template.Template
	names nameCache
}

var _ http.Handler = (*Console)(nil)

// New returns a console for cfg.
func New(cfg Config) *Console {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = troupe.Now
	}
	c := &Console{cfg: cfg, store: cfg.Store, key: sessionKey(cfg.Token), now: cfg.Now, log: cfg.Logger,
		mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	c.parseTemplates()
	c.routes()
	return c
}

// ServeHTTP sends /v2 requests to the API and the rest to the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/") {
		c.cfg.API.ServeHTTP(w, r)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

// pageFunc renders a page or returns an error that errorPage shows.
type pageFunc func(w http.ResponseWriter, r *http.Request) error

func (c *Console) routes() {
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET /sign-in", c.signInPage)
	c.mux.HandleFunc("POST /sign-in", c.signIn)
	c.mux.HandleFunc("POST /sign-out", c.signOut)
	c.mux.HandleFunc("/api/v2/", c.proxy)

	c.page("GET /{$}", func(w http.ResponseWriter, r *http.Request) error {
		http.Redirect(w, r, "/runs", http.StatusSeeOther)
		return nil
	})
	c.page("GET /runs", c.runsPage)
	c.page("GET /runs/{id}", c.runPage)
	c.page("GET /events/runs", c.runsEvents)
	c.page("GET /events/runs/{id}", c.runEvents)
	c.page("GET /events/builds/{id}", c.buildEvents)
	c.page("GET /actors", c.actorsPage)
	c.page("GET /actors/{id}", c.actorPage)
	c.page("GET /actors/{id}/start", c.startPage)
	c.page("GET /builds/{id}", c.buildPage)
	c.page("GET /tasks", c.tasksPage)
	c.page("GET /tasks/{id}", c.taskPage)
	c.page("GET /schedules", c.schedulesPage)
	c.page("GET /schedules/{id}", c.schedulePage)
	c.page("GET /webhooks", c.webhooksPage)
	c.page("GET /webhooks/{id}", c.webhookPage)
	c.page("GET /datasets", c.storagesPage(troupe.KindDataset))
	c.page("GET /datasets/{id}", c.datasetPage)
	c.page("GET /key-value-stores", c.storagesPage(troupe.KindKeyValueStore))
	c.page("GET /key-value-stores/{id}", c.kvStorePage)
	c.page("GET /key-value-stores/{id}/records/{key}", c.recordPage)
	c.page("GET /request-queues", c.storagesPage(troupe.KindRequestQueue))
	c.page("GET /request-queues/{id}", c.queuePage)
	c.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := c.session(r); !ok {
			c.toSignIn(w, r)
			return
		}
		c.errorPage(w, r, troupe.Errorf(troupe.ErrPageNotFound, "There is no page at %s.", r.URL.Path))
	})
}

// page registers a page that needs a session; without one the browser goes
// to the sign-in page and comes back after.
func (c *Console) page(pattern string, h pageFunc) {
	c.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := c.session(r); !ok {
			if strings.HasPrefix(r.URL.Path, "/events/") {
				http.Error(w, "sign in first", http.StatusUnauthorized)
				return
			}
			c.toSignIn(w, r)
			return
		}
		if err := h(w, r); err != nil {
			c.errorPage(w, r, err)
		}
	})
}

func (c *Console) toSignIn(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/sign-in?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

// pageData is what every page template gets.
type pageData struct {
	Title string
	// Section is the navigation entry the page belongs to.
	Section string
	CSRF    string
	Error   string
	Data    any
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title, section string, data any) error {
	t, ok := c.pages[name]
	if !ok {
		return fmt.Errorf("no template %s", name)
	}
	sess, _ := c.session(r)
	pd := pageData{Title: title, Section: section, Data: data}
	if sess != "" {
		pd.CSRF = c.csrfToken(sess)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", pd); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	w.WriteHeader(status)
	_, err := w.Write([]byte(b.String()))
	return err
}

// errorPage shows err as a readable message, with the HTTP status its
// error type maps to. Internal errors are logged and shown without detail.
func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	msg := "Something went wrong on the server; its log has the details."
	var te *troupe.Error
	if errors.As(err, &te) {
		msg = te.Message
		switch te.Type {
		case troupe.ErrRecordNotFound, troupe.ErrPageNotFound:
			status = http.StatusNotFound
		default:
			status = http.StatusBadRequest
		}
	} else if r.Context().Err() != nil {
		return
	} else {
		c.log.Error("console page", "path", r.URL.Path, "err", err)
	}
	if rerr := c.render(w, r, status, "error", "Error", "", msg); rerr != nil {
		c.log.Error("console error page", "err", rerr)
	}
}
