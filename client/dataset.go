package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// DatasetClient reads and writes one dataset. Get it with [Client.Dataset]
// or [RunClient.Dataset].
type DatasetClient struct{ r resource }

// Dataset returns the client of the dataset with this id (or
// "username/name").
func (c *Client) Dataset(id string) *DatasetClient {
	return &DatasetClient{r: resource{c: c, path: "/datasets"}.sub(safeID(id))}
}

// Dataset returns the client of the run's default dataset.
func (rc *RunClient) Dataset() *DatasetClient {
	return &DatasetClient{r: rc.r.sub("dataset")}
}

// Get returns the dataset (with its itemCount and cleanItemCount), or nil
// and no error when there is no such dataset.
func (d *DatasetClient) Get(ctx context.Context) (*Storage, error) {
	return get[Storage](ctx, d.r, nil)
}

// compressMinBytes is the body size from which PushItems compresses, as
// the reference clients do.
const compressMinBytes = 1024

// PushItems appends items to the dataset: one object, or a slice of
// objects, marshalled as JSON; []byte and json.RawMessage are sent as they
// are (they must hold a JSON object or array of objects). The server
// refuses the whole batch if any item is not a JSON object, and bodies over
// 9 MB. Bodies of 1 KiB or more are sent gzip-compressed.
func (d *DatasetClient) PushItems(ctx context.Context, items any) error {
	var body []byte
	switch v := items.(type) {
	case []byte:
		body = v
	case json.RawMessage:
		body = v
	default:
		b, err := json.Marshal(items)
		if err != nil {
			return fmt.Errorf("push items: %w", err)
		}
		body = b
	}
	encoding := ""
	if len(body) >= compressMinBytes {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(body); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		body, encoding = buf.Bytes(), "gzip"
	}
	req, err := d.r.sub("items").request(ctx, http.MethodPost, nil, body, jsonContentType)
	if err != nil {
		return err
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	return d.r.c.do(req, nil)
}

// ItemListOptions select and shape the items of a read; zero fields are not
// sent, so the server's defaults apply (all items, oldest first, as
// stored).
type ItemListOptions struct {
	// Offset skips this many items (from the newest with Desc).
	Offset int
	// Limit is the most items to read (0: no limit).
	Limit int
	Desc  bool
	// Fields keeps only these fields, in this order; Omit drops these.
	Fields []string
	Omit   []string
	// Unwind makes one item per element of these array fields (merged into
	// the item when an element is an object); Flatten turns these object
	// fields into "field.sub" fields.
	Unwind  []string
	Flatten []string
	// Clean is SkipEmpty plus SkipHidden: SkipHidden drops fields whose
	// name starts with "#", SkipEmpty drops items left with no field.
	Clean      bool
	SkipEmpty  bool
	SkipHidden bool
}

func (o *ItemListOptions) values() url.Values {
	q := url.Values{}
	if o == nil {
		return q
	}
	if o.Offset > 0 {
		q.Set("offset", strconv.Itoa(o.Offset))
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	for name, list := range map[string][]string{"fields": o.Fields, "omit": o.Omit, "unwind": o.Unwind, "flatten": o.Flatten} {
		if len(list) > 0 {
			q.Set(name, strings.Join(list, ","))
		}
	}
	for name, b := range map[string]bool{"desc": o.Desc, "clean": o.Clean, "skipEmpty": o.SkipEmpty, "skipHidden": o.SkipHidden} {
		if b {
			q.Set(name, "1")
		}
	}
	return q
}

// ItemPage is one page of items with the pagination the server reported.
type ItemPage struct {
	Items []json.RawMessage
	// Total is the number of items in the dataset.
	Total int
	// Offset and Limit are those of the request (Limit is 999999999999
	// when there was none).
	Offset int
	Limit  int
	// Count is the number of stored items the page covered: the next page
	// starts at Offset+Count. It differs from len(Items) when Clean or
	// SkipEmpty dropped items or Unwind split them.
	Count int
	Desc  bool
}

// ListItems reads one page of items as JSON.
func (d *DatasetClient) ListItems(ctx context.Context, opts *ItemListOptions) (*ItemPage, error) {
	req, err := d.r.sub("items").request(ctx, http.MethodGet, opts.values(), nil, "")
	if err != nil {
		return nil, err
	}
	body, h, err := d.r.c.doRaw(req)
	if err != nil {
		return nil, err
	}
	p := &ItemPage{}
	if err := json.Unmarshal(body, &p.Items); err != nil {
		return nil, fmt.Errorf("%s %s: decode items: %w", req.Method, req.URL.Path, err)
	}
	if p.Items == nil {
		p.Items = []json.RawMessage{}
	}
	ints := []struct {
		name string
		dst  *int
	}{{"Total", &p.Total}, {"Offset", &p.Offset}, {"Limit", &p.Limit}, {"Count", &p.Count}}
	for _, f := range ints {
		v, err := strconv.ParseInt(h.Get("X-Apify-Pagination-"+f.name), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s %s: bad X-Apify-Pagination-%s header: %w", req.Method, req.URL.Path, f.name, err)
		}
		*f.dst = int(min(v, math.MaxInt))
	}
	p.Desc, _ = strconv.ParseBool(h.Get("X-Apify-Pagination-Desc"))
	return p, nil
}

// itemPageSize is how many items Items asks for per request.
const itemPageSize = 1000

// Items returns an iterator over the items opts select, read a page at a
// time (opts.Limit caps the total; 0: all). It stops at the first error,
// which it yields. Items pushed while it runs are read too when they fall
// in the window (with Desc, new items shift the window; read such a
// dataset oldest first).
func (d *DatasetClient) Items(ctx context.Context, opts *ItemListOptions) iter.Seq2[json.RawMessage, error] {
	var o ItemListOptions
	if opts != nil {
		o = *opts
	}
	return func(yield func(json.RawMessage, error) bool) {
		offset, remaining := o.Offset, o.Limit
		for {
			page := o
			page.Offset, page.Limit = offset, itemPageSize
			if remaining > 0 {
				page.Limit = min(remaining, itemPageSize)
			}
			p, err := d.ListItems(ctx, &page)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			if p.Count <= 0 {
				return
			}
			offset += p.Count
			if remaining > 0 {
				if remaining -= p.Count; remaining <= 0 {
					return
				}
			}
			if offset >= p.Total {
				return
			}
		}
	}
}

// DownloadOptions are the options of [DatasetClient.DownloadItems].
type DownloadOptions struct {
	ItemListOptions
	// BOM prefixes the body with a UTF-8 byte order mark (server default:
	// for csv only).
	BOM *bool
	// Delimiter is the csv field delimiter (default ",").
	Delimiter string
	// SkipHeaderRow leaves out the csv header row.
	SkipHeaderRow bool
	// XMLRoot and XMLRow name the xml root and item elements (default
	// "items" and "item").
	XMLRoot string
	XMLRow  string
}

// DownloadItems returns the items in a format: json, jsonl, csv, html or
// xml, as a stream the caller must close. The server streams large
// datasets, so this is the way to export one without holding it in memory.
func (d *DatasetClient) DownloadItems(ctx context.Context, format string, opts *DownloadOptions) (io.ReadCloser, error) {
	q := url.Values{}
	if opts != nil {
		q = opts.ItemListOptions.values()
		setBool(q, "bom", opts.BOM)
		if opts.Delimiter != "" {
			q.Set("delimiter", opts.Delimiter)
		}
		if opts.SkipHeaderRow {
			q.Set("skipHeaderRow", "1")
		}
		if opts.XMLRoot != "" {
			q.Set("xmlRoot", opts.XMLRoot)
		}
		if opts.XMLRow != "" {
			q.Set("xmlRow", opts.XMLRow)
		}
	}
	if format != "" {
		q.Set("format", format)
	}
	req, err := d.r.sub("items").request(ctx, http.MethodGet, q, nil, "")
	if err != nil {
		return nil, err
	}
	resp, err := d.r.c.doStream(req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
