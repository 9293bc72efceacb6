package console

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/andybalholm/brotli"
	"github.com/troupehq/troupe"
)

// Page sizes of storage pages.
const (
	StoragesPageSize = 100
	ItemsPageSize    = 50
	KeysPageSize     = 100
	RequestsPageSize = 100
	// PreviewBytes is how much of a record a preview shows.
	PreviewBytes = 1 << 20
	// MaxColumns is how many columns the item table offers.
	MaxColumns = 200
)

// ItemFormats are the formats the API serves dataset items in.
var ItemFormats = []string{"json", "jsonl", "csv", "html", "xml"}

var kindTitles = map[troupe.StorageKind]string{
	troupe.KindDataset: "Datasets", troupe.KindKeyValueStore: "Key-value stores", troupe.KindRequestQueue: "Request queues",
}

type storagesData struct {
	Kind     string
	Title    string
	Items    []*troupe.Storage
	Total    int
	Offset   int
	Next     int
	Prev     int
	HasPrev  bool
	HasNext  bool
	ShowRuns bool
}

// storagesPage lists the storages of a kind, newest first; ?unnamed=1
// includes the runs' default storages.
func (c *Console) storagesPage(kind troupe.StorageKind) pageFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		off, err := intParam(q, "offset", 0)
		if err != nil {
			return err
		}
		unnamed := q.Get("unnamed") == "1"
		list, total, err := c.store.ListStorages(r.Context(), kind, unnamed, troupe.ListOptions{Offset: off, Limit: StoragesPageSize, Desc: true})
		if err != nil {
			return err
		}
		d := storagesData{Kind: string(kind), Title: kindTitles[kind], Items: list, Total: total, Offset: off,
			Next: off + StoragesPageSize, Prev: max(0, off-StoragesPageSize), HasPrev: off > 0,
			HasNext: off+StoragesPageSize < total, ShowRuns: unnamed}
		return c.render(w, r, http.StatusOK, "storages", d.Title, string(kind), d)
	}
}

func intParam(q url.Values, name string, def int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, troupe.Errorf(troupe.ErrInvalidParameter, "Parameter %q must be a whole number, 0 or more.", name)
	}
	return n, nil
}

func (c *Console) storage(r *http.Request, kind troupe.StorageKind) (*troupe.Storage, error) {
	ref := r.PathValue("id")
	s, err := c.store.GetStorage(r.Context(), kind, ref)
	if troupe.IsNotFound(err) {
		s, err = c.store.GetStorageByName(r.Context(), kind, ref)
	}
	if troupe.IsNotFound(err) {
		return nil, troupe.Errorf(troupe.ErrRecordNotFound, "There is no %s %q.", strings.TrimSuffix(strings.ReplaceAll(string(kind), "-", " "), "s"), ref)
	}
	return s, err
}

type datasetData struct {
	Storage *troupe.Storage
	Columns []string
	// Shown are the picked columns (all when none were picked).
	Shown   []string
	Picked  map[string]bool
	Rows    [][]string
	Offset  int
	Total   int
	Prev    int
	Next    int
	HasPrev bool
	HasNext bool
	Formats []string
	Fields  string
}

// datasetPage shows a page of a dataset's items as a table: one column per
// top-level field (in first-seen order), ?fields= picks the columns.
func (c *Console) datasetPage(w http.ResponseWriter, r *http.Request) error {
	st, err := c.storage(r, troupe.KindDataset)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	off, err := intParam(q, "offset", 0)
	if err != nil {
		return err
	}
	var items []map[string]json.RawMessage
	var cols []string
	seen := map[string]bool{}
	page, err := c.store.ReadItems(r.Context(), st.ID, troupe.ItemWindow{Offset: off, Limit: ItemsPageSize}, func(_ troupe.ItemPage, item []byte) error {
		m := map[string]json.RawMessage{}
		dec := json.NewDecoder(bytes.NewReader(item))
		if _, err := dec.Token(); err != nil {
			return err
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := t.(string)
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return err
			}
			m[k] = v
			if !seen[k] && len(cols) < MaxColumns {
				seen[k] = true
				cols = append(cols, k)
			}
		}
		items = append(items, m)
		return nil
	})
	if err != nil {
		return err
	}
	d := datasetData{Storage: st, Columns: cols, Picked: map[string]bool{}, Offset: off, Total: page.Total,
		Prev: max(0, off-ItemsPageSize), Next: off + ItemsPageSize, HasPrev: off > 0,
		HasNext: off+ItemsPageSize < page.Total, Formats: ItemFormats}
	if f := q["fields"]; len(f) > 0 {
		for _, name := range f {
			for n := range strings.SplitSeq(name, ",") {
				if n != "" && !d.Picked[n] {
					d.Picked[n] = true
					d.Shown = append(d.Shown, n)
				}
			}
		}
		d.Fields = strings.Join(d.Shown, ",")
	} else {
		d.Shown = cols
	}
	for _, it := range items {
		row := make([]string, len(d.Shown))
		for i, k := range d.Shown {
			row[i] = cell(it[k])
		}
		d.Rows = append(d.Rows, row)
	}
	return c.render(w, r, http.StatusOK, "dataset", "Dataset "+st.ID, string(troupe.KindDataset), d)
}

// cell shows a JSON value in a table cell: strings bare, the rest as JSON,
// cut at 500 characters.
func cell(v json.RawMessage) string {
	if v == nil {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		s = string(v)
	}
	if len(s) > 500 {
		cut := 500
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

type kvData struct {
	Storage *troupe.Storage
	Keys    []troupe.KeyInfo
	Prefix  string
	Start   string
	Next    string
	HasNext bool
}

// kvStorePage lists a key-value store's keys, a page at a time
// (?start=KEY: the keys after KEY).
func (c *Console) kvStorePage(w http.ResponseWriter, r *http.Request) error {
	st, err := c.storage(r, troupe.KindKeyValueStore)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := kvData{Storage: st, Prefix: q.Get("prefix"), Start: q.Get("start")}
	p, err := c.store.ListKeys(r.Context(), st.ID, d.Start, d.Prefix, KeysPageSize)
	if err != nil {
		return err
	}
	d.Keys, d.HasNext, d.Next = p.Keys, p.IsTruncated, p.NextExclusiveStartKey
	return c.render(w, r, http.StatusOK, "kvstore", "Key-value store "+st.ID, string(troupe.KindKeyValueStore), d)
}

type recordData struct {
	Storage     *troupe.Storage
	Key         string
	ContentType string
	Encoding    string
	Size        int
	// Kind is how the preview shows the record: json, text, image or none.
	Kind string
	Text string
	Cut  bool
}

// recordPage previews a record: JSON pretty-printed, text as text, images
// shown; everything can be downloaded.
func (c *Console) recordPage(w http.ResponseWriter, r *http.Request) error {
	st, err := c.storage(r, troupe.KindKeyValueStore)
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	rec, err := c.store.GetRecord(r.Context(), st.ID, key)
	if troupe.IsNotFound(err) {
		return troupe.Errorf(troupe.ErrRecordNotFound, "The key-value store has no record %q.", key)
	}
	if err != nil {
		return err
	}
	d := recordData{Storage: st, Key: key, ContentType: rec.ContentType, Encoding: rec.ContentEncoding, Size: len(rec.Value)}
	d.Text, d.Kind = previewText(rec)
	if d.Kind == "" {
		d.Kind = "none"
	}
	if len(d.Text) > PreviewBytes {
		cut := PreviewBytes
		for cut > 0 && !utf8.RuneStart(d.Text[cut]) {
			cut--
		}
		d.Text, d.Cut = d.Text[:cut], true
	}
	return c.render(w, r, http.StatusOK, "record", key, string(troupe.KindKeyValueStore), d)
}

// previewText returns the text a record's preview shows and how: "json"
// (pretty-printed), "text", "image" (no text: the page loads it), or ""
// when it cannot be shown.
func previewText(rec *troupe.Record) (string, string) {
	mt, _, _ := mime.ParseMediaType(rec.ContentType)
	if strings.HasPrefix(mt, "image/") {
		return "", "image"
	}
	val, ok := decoded(rec)
	if !ok {
		return "", ""
	}
	if mt == "application/json" || strings.HasSuffix(mt, "+json") || json.Valid(val) && len(val) > 0 && (val[0] == '{' || val[0] == '[') {
		var b bytes.Buffer
		if json.Indent(&b, val, "", "  ") == nil {
			return b.String(), "json"
		}
	}
	if utf8.Valid(val) && (strings.HasPrefix(mt, "text/") || mt == "" || mt == "application/xml" || mt == "application/javascript") {
		return string(val), "text"
	}
	if utf8.Valid(val) && !bytes.ContainsRune(val, 0) {
		return string(val), "text"
	}
	return "", ""
}

// decoded returns a record's value without its content encoding, read up
// to PreviewBytes+1 bytes.
func decoded(rec *troupe.Record) ([]byte, bool) {
	var rd io.Reader
	switch strings.ToLower(strings.TrimSpace(rec.ContentEncoding)) {
	case "", "identity":
		return rec.Value, true
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(rec.Value))
		if err != nil {
			return nil, false
		}
		rd = zr
	case "deflate":
		rd = flate.NewReader(bytes.NewReader(rec.Value))
	case "br":
		rd = brotli.NewReader(bytes.NewReader(rec.Value))
	default:
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(rd, PreviewBytes+1))
	if err != nil && len(b) == 0 {
		return nil, false
	}
	return b, true
}

type queueData struct {
	Storage  *troupe.Storage
	Filter   string
	Requests []*troupe.Request
	After    string
	Next     string
	HasNext  bool
}

// queuePage shows a request queue's counts and its requests: all, pending
// or locked ones (?filter=), a page at a time (?after=ID).
func (c *Console) queuePage(w http.ResponseWriter, r *http.Request) error {
	st, err := c.storage(r, troupe.KindRequestQueue)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := queueData{Storage: st, Filter: q.Get("filter"), After: q.Get("after")}
	o := troupe.RequestListOptions{Limit: RequestsPageSize, After: d.After}
	switch d.Filter {
	case "", "all":
		d.Filter = "all"
	case "pending":
		o.Pending = true
	case "locked":
		o.Locked = true
	default:
		return troupe.Errorf(troupe.ErrInvalidParameter, "Filter %q is not one of all, pending, locked.", d.Filter)
	}
	p, err := c.store.ListRequests(r.Context(), st.ID, o)
	if err != nil {
		return err
	}
	d.Requests, d.HasNext = p.Items, p.More
	if p.More && len(p.Items) > 0 {
		d.Next = p.Items[len(p.Items)-1].ID
	}
	return c.render(w, r, http.StatusOK, "queue", "Request queue "+st.ID, string(troupe.KindRequestQueue), d)
}
