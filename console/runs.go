package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/troupehq/troupe"
)

// RunsPageSize is how many runs a page of the runs list shows.
const RunsPageSize = 50

// runRow is one run of the runs list.
type runRow struct {
	Run       *troupe.Run
	ActorName string
}

type runsData struct {
	Rows     []runRow
	Total    int
	Status   string
	Actor    string
	Actors   []actorRef
	Statuses []troupe.Status
	// Next is the URL of the next (older) page, First that of the first.
	Next, First string
	IDs         string
	// FirstPage is set on the newest page, which shows new runs live.
	FirstPage bool
}

// runsPage lists runs newest first, filtered by status and actor. Pages
// follow a cursor (?before=MS.SKIP: runs started at or before MS, skipping
// the SKIP newest of those started in that very millisecond), so a deep
// page costs what the first does, not the sum of the pages before it.
func (c *Console) runsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	f := troupe.RunFilter{ListOptions: troupe.ListOptions{Limit: RunsPageSize, Desc: true}}
	d := runsData{Status: q.Get("status"), Actor: q.Get("actor"), Statuses: troupe.Statuses}
	if d.Status != "" {
		st := troupe.Status(d.Status)
		if !st.Valid() {
			return troupe.Errorf(troupe.ErrInvalidParameter, "There is no run status %q.", d.Status)
		}
		f.Statuses = []troupe.Status{st}
	}
	actors, known, err := c.actorNames(ctx)
	if err != nil {
		return err
	}
	d.Actors = actors
	names := map[string]string{}
	if d.Actor != "" {
		id, ok := "", false
		for _, a := range actors {
			if a.ID == d.Actor || a.Name == d.Actor {
				id, ok = a.ID, true
			}
		}
		if !ok {
			a, err := c.actor(ctx, d.Actor)
			if err != nil {
				return err
			}
			id = a.ID
			names[a.ID] = a.Name
		}
		f.ActorID = id
	}
	var cursorMS int64
	var cursorSkip int
	if b := q.Get("before"); b != "" {
		ms, skip, ok := strings.Cut(b, ".")
		var err1, err2 error
		cursorMS, err1 = strconv.ParseInt(ms, 10, 64)
		cursorSkip, err2 = strconv.Atoi(skip)
		if !ok || err1 != nil || err2 != nil || cursorSkip < 0 {
			return troupe.Errorf(troupe.ErrInvalidParameter, "The page cursor %q is not valid.", b)
		}
		t := time.UnixMilli(cursorMS)
		f.StartedBefore = &t
		f.Offset = cursorSkip
	}
	runs, total, err := c.store.ListRuns(ctx, f)
	if err != nil {
		return err
	}
	d.Total = total
	for id, name := range known {
		names[id] = name
	}
	now := c.now()
	ids := make([]string, 0, len(runs))
	for _, run := range runs {
		if !run.Status.Terminal() {
			run.UpdateDuration(now)
		}
		name, ok := names[run.ActID]
		if !ok {
			if a, err := c.store.GetActor(ctx, run.ActID); err == nil {
				name = a.Name
			}
			names[run.ActID] = name
		}
		d.Rows = append(d.Rows, runRow{Run: run, ActorName: name})
		ids = append(ids, run.ID)
	}
	d.IDs = strings.Join(ids, ",")
	d.FirstPage = f.StartedBefore == nil
	base := url.Values{}
	if d.Status != "" {
		base.Set("status", d.Status)
	}
	if d.Actor != "" {
		base.Set("actor", d.Actor)
	}
	d.First = "/runs?" + base.Encode()
	if len(runs) == RunsPageSize {
		last := runs[len(runs)-1].StartedAt.UnixMilli()
		skip := 0
		for _, run := range runs {
			if run.StartedAt.UnixMilli() == last {
				skip++
			}
		}
		if f.StartedBefore != nil && cursorMS == last {
			skip += cursorSkip
		}
		next := url.Values{}
		for k, v := range base {
			next[k] = v
		}
		next.Set("before", fmt.Sprintf("%d.%d", last, skip))
		d.Next = "/runs?" + next.Encode()
	}
	return c.render(w, r, http.StatusOK, "runs", "Runs", "runs", d)
}

// actor finds an actor by id, name, user~name or user/name.
func (c *Console) actor(ctx context.Context, ref string) (*troupe.Actor, error) {
	if a, err := c.store.GetActor(ctx, ref); err == nil {
		return a, nil
	} else if !troupe.IsNotFound(err) {
		return nil, err
	}
	user, name := c.cfg.Username, ref
	if u, n, ok := strings.Cut(ref, "~"); ok {
		user, name = u, n
	} else if u, n, ok := strings.Cut(ref, "/"); ok {
		user, name = u, n
	}
	a, err := c.store.GetActorByName(ctx, user, name)
	if troupe.IsNotFound(err) {
		return nil, troupe.Errorf(troupe.ErrRecordNotFound, "There is no actor %q.", ref)
	}
	return a, err
}

type runData struct {
	Run       *troupe.Run
	Actor     *actorRef
	Input     string
	InputType string
	RunJSON   string
	Actors    []actorRef
}

// runPage shows one run, its live status and log, and its operations.
func (c *Console) runPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	run, err := c.store.GetRun(ctx, r.PathValue("id"))
	if troupe.IsNotFound(err) {
		return troupe.Errorf(troupe.ErrRecordNotFound, "There is no run %s (it may have been deleted).", r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	if !run.Status.Terminal() {
		run.UpdateDuration(c.now())
	}
	d := runData{Run: run}
	actors, names, err := c.actorNames(ctx)
	if err != nil {
		return err
	}
	if name, ok := names[run.ActID]; ok {
		d.Actor = &actorRef{ID: run.ActID, Name: name}
	}
	d.Actors = actors
	if rec, err := c.store.GetRecord(ctx, run.DefaultKeyValueStoreID, "INPUT"); err == nil {
		d.Input, d.InputType = previewText(rec)
	}
	js, err := json.Marshal(run)
	if err != nil {
		return err
	}
	d.RunJSON = string(js)
	return c.render(w, r, http.StatusOK, "run", "Run "+run.ID, "runs", d)
}

// sse starts a server-sent events response.
func sse(w http.ResponseWriter) (send func(event string, data []byte) error, ok bool) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return func(event string, data []byte) error {
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return err
		}
		return rc.Flush()
	}, true
}

// MaxWatchedRuns is how many runs one live runs list follows.
const MaxWatchedRuns = 100

// runsEvents sends an event "run" with a run's JSON for each of the runs
// named in ?ids= (comma-separated) at once and then each time it changes,
// following Store.Watch.
func (c *Console) runsEvents(w http.ResponseWriter, r *http.Request) error {
	ids := strings.Split(r.URL.Query().Get("ids"), ",")
	if len(ids) > MaxWatchedRuns {
		return troupe.Errorf(troupe.ErrInvalidParameter, "A live list follows at most %d runs.", MaxWatchedRuns)
	}
	ctx := r.Context()
	// ?new=1 (the first page of the list) also tells when a run is
	// created: event "new", so the page can show it.
	if r.URL.Query().Get("new") == "1" {
		ids = append(ids, troupe.RunCreatedKey)
	}
	changed := make(chan string, len(ids))
	for _, id := range ids {
		if id == "" {
			continue
		}
		ch, stop := c.store.Watch(id)
		defer stop()
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-ch:
					select {
					case changed <- id:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	send, _ := sse(w)
	// What changed between the page's rendering and the watches above is
	// sent at once: each run as it is now.
	for _, id := range ids {
		if id != "" && id != troupe.RunCreatedKey {
			if err := c.sendRun(ctx, send, id); err != nil {
				return nil
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case id := <-changed:
			var err error
			if id == troupe.RunCreatedKey {
				err = send("new", []byte("{}"))
			} else {
				err = c.sendRun(ctx, send, id)
			}
			if err != nil {
				return nil
			}
		}
	}
}

// sendRun sends the run's current JSON (with its duration brought up to
// now), or a "gone" event when it was deleted.
func (c *Console) sendRun(ctx context.Context, send func(string, []byte) error, id string) error {
	run, err := c.store.GetRun(ctx, id)
	if troupe.IsNotFound(err) {
		js, _ := json.Marshal(map[string]string{"id": id})
		return send("gone", js)
	}
	if err != nil {
		return err
	}
	if !run.Status.Terminal() {
		run.UpdateDuration(c.now())
	}
	js, err := json.Marshal(run)
	if err != nil {
		return err
	}
	return send("run", js)
}

// runEvents sends the run's JSON at once and after every change.
func (c *Console) runEvents(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ch, stop := c.store.Watch(id)
	defer stop()
	ctx := r.Context()
	send, _ := sse(w)
	for {
		if err := c.sendRun(ctx, send, id); err != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
		}
	}
}

// buildEvents sends the build's JSON at once and after every change.
func (c *Console) buildEvents(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ch, stop := c.store.Watch(id)
	defer stop()
	ctx := r.Context()
	send, _ := sse(w)
	for {
		b, err := c.store.GetBuild(ctx, id)
		if err != nil {
			return nil
		}
		js, err := json.Marshal(b)
		if err != nil || send("build", js) != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
		}
	}
}
