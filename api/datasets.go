package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/items"
)

// routeItems registers the item routes of one dataset mount. GET serves
// HEAD too.
func (s *Server) routeItems(m storageMount) {
	s.handleMount(m, "GET "+m.prefix+"/items", s.getItems(m.ref))
	s.handleMount(m, "POST "+m.prefix+"/items", s.pushItems(m.ref))
	s.handleMount(m, "GET "+m.prefix+"/statistics", s.getDatasetStatistics(m.ref))
}

// pushItems appends the body, one JSON object or an array of objects, to
// the dataset: 201 {}. The whole batch is refused (400 invalid-input) when
// an item is not valid JSON (UTF-8 included) or not an object; bodies over MaxBodyBytes
// (after decompression) get 413.
func (s *Server) pushItems(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, err := ref(r)
		if err != nil {
			return err
		}
		body, err := readJSONBody(r)
		if err != nil {
			return err
		}
		items, err := troupe.SplitItems(body)
		if err != nil {
			return err
		}
		if err := s.store.PushItems(r.Context(), st.ID, items); err != nil {
			if troupe.IsNotFound(err) {
				return notFound("Dataset", st.ID)
			}
			return err
		}
		w.Header().Set("Location", absURL(r, "/v2/datasets/"+st.ID+"/items"))
		writeJSONStatus(w, http.StatusCreated, struct{}{})
		return nil
	}
}

// getItems answers the dataset's items (see package items) with the
// X-Apify-Pagination-* headers; HEAD answers the headers only.
func (s *Server) getItems(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		o, err := parseItemsOptions(queryOf(r))
		if err != nil {
			return err
		}
		st, err := ref(r)
		if err != nil {
			return err
		}
		return s.writeItems(w, r, st, o, http.StatusOK)
	}
}

// getDatasetStatistics answers the dataset's field statistics. troupe keeps
// no dataset schema, so there are none: {"fieldStatistics": {}}.
func (s *Server) getDatasetStatistics(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := ref(r); err != nil {
			return err
		}
		writeData(w, http.StatusOK, map[string]any{"fieldStatistics": map[string]any{}})
		return nil
	}
}

// itemsHeaders sets the headers of an items answer for page p.
func itemsHeaders(h http.Header, o *itemsOptions, p troupe.ItemPage, datasetID string) {
	f := o.format
	h.Set("Content-Type", f.ContentType)
	if o.attachment {
		h.Set("Content-Disposition", `attachment; filename="dataset_`+datasetID+"."+f.Ext+`"`)
	}
	limit := noLimit
	if o.limited {
		limit = strconv.Itoa(o.window.Limit)
	}
	h.Set("X-Apify-Pagination-Offset", strconv.Itoa(o.window.Offset))
	h.Set("X-Apify-Pagination-Limit", limit)
	h.Set("X-Apify-Pagination-Count", strconv.Itoa(p.Count))
	h.Set("X-Apify-Pagination-Total", strconv.Itoa(p.Total))
	h.Set("X-Apify-Pagination-Desc", strconv.FormatBool(o.window.Desc))
}

// windowPage is the page a window of a dataset of total items covers.
func windowPage(total int, w troupe.ItemWindow) troupe.ItemPage {
	n := max(total-max(w.Offset, 0), 0)
	if w.Limit > 0 {
		n = min(n, w.Limit)
	}
	return troupe.ItemPage{Total: total, Count: n}
}

// writeItems streams the items of dataset st that o selects, in o's format,
// with the given status. Items go out as they are read, in chunks, so a
// large dataset is never held in memory; a table (csv, html) is read twice,
// first to learn its columns. A failure before the first byte is returned
// as an API error; a failure after it (the client went away, the store
// failed) cuts the connection, so that the client does not take a truncated
// body for a whole one.
func (s *Server) writeItems(w http.ResponseWriter, r *http.Request, st *troupe.Storage, o *itemsOptions, status int) error {
	ctx := r.Context()
	if r.Method == http.MethodHead {
		total := 0
		if st.ItemCount != nil {
			total = int(*st.ItemCount)
		}
		itemsHeaders(w.Header(), o, windowPage(total, o.window), st.ID)
		w.WriteHeader(status)
		return nil
	}
	window := o.window
	var cols *items.Columns
	var first *troupe.ItemPage // the page of the first pass of a table
	if o.format.Tabular {
		cols = items.NewColumns(&o.items)
		p, err := s.readItems(ctx, st.ID, window, func(_ troupe.ItemPage, item []byte) error {
			return cols.Add(item)
		})
		if err != nil {
			return err
		}
		if err := cols.Done(); err != nil {
			return err
		}
		// The second pass reads the same items, whatever was pushed since.
		window.UpTo, first = p.Total, &p
	}

	iw := items.NewWriter(w, &o.items, cols)
	started := false
	begin := func(p troupe.ItemPage) error {
		started = true
		itemsHeaders(w.Header(), o, p, st.ID)
		w.WriteHeader(status)
		return iw.Begin()
	}
	var p troupe.ItemPage
	var err error
	if first != nil && first.Count == 0 {
		p = *first
	} else {
		p, err = s.readItems(ctx, st.ID, window, func(p troupe.ItemPage, item []byte) error {
			if !started {
				if err := begin(p); err != nil {
					return err
				}
			}
			return iw.Write(item)
		})
	}
	if err == nil && !started {
		err = begin(p)
	}
	if err == nil {
		err = iw.End()
	}
	if err != nil && started {
		if ctx.Err() == nil {
			s.log.Error("dataset items cut short", "dataset", st.ID, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	return err
}

// readItems reads a window of a dataset, naming the dataset when it is not
// found.
func (s *Server) readItems(ctx context.Context, id string, w troupe.ItemWindow, fn func(troupe.ItemPage, []byte) error) (troupe.ItemPage, error) {
	p, err := s.store.ReadItems(ctx, id, w, fn)
	if troupe.IsNotFound(err) {
		return p, notFound("Dataset", id)
	}
	return p, err
}

// runSyncItems starts a run, waits up to SyncWait for it to finish and
// answers the items of its default dataset (201, with the items
// parameters of GET .../items). run-timeout-exceeded when the run is still
// going; run-failed when it did not succeed.
func (s *Server) runSyncItems(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	o, err := parseStartOptions(q)
	if err != nil {
		return err
	}
	itemOpts, err := parseItemsOptions(q)
	if err != nil {
		return err
	}
	run, err := s.runToSuccess(r, o)
	if err != nil {
		return err
	}
	st, err := s.storageByRef(r.Context(), troupe.KindDataset, run.DefaultDatasetID)
	if err != nil {
		return err
	}
	return s.writeItems(w, r, st, itemOpts, http.StatusCreated)
}
