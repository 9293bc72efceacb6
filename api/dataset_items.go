package api

import (
	"strings"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/items"
)

// How dataset items are shaped and written is package items. Pagination
// always counts stored items: offset and limit select stored items and
// X-Apify-Pagination-Count is the number of stored items the window
// covered, which may differ from the number of items in the body when
// unwind or skipEmpty apply (the official clients count the body).

// noLimit is what X-Apify-Pagination-Limit says when no limit was asked
// for, as the hosted API does.
const noLimit = "999999999999"

// itemsOptions are the parameters of an items read.
type itemsOptions struct {
	window     troupe.ItemWindow
	limited    bool
	attachment bool
	format     items.Format
	items      items.Options
}

// list parses a comma-separated list parameter.
func (q query) list(name string) []string {
	var out []string
	for _, v := range q.v[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// parseItemsOptions reads the parameters of GET .../items.
func parseItemsOptions(q query) (*itemsOptions, error) {
	o := &itemsOptions{}
	it := &o.items
	var ok bool
	if o.format, ok = items.LookupFormat(strings.ToLower(q.str("format"))); !ok {
		return nil, troupe.Errorf(troupe.ErrInvalidParameter, "Parameter 'format' must be one of json, jsonl, csv, html or xml (%q is not supported).", strings.ToLower(q.str("format")))
	}
	it.Format = o.format.Name
	var err error
	if o.window.Offset, err = q.int("offset", 0, 0); err != nil {
		return nil, err
	}
	limit, err := q.optInt("limit", 0)
	if err != nil {
		return nil, err
	}
	if limit != nil && *limit > 0 {
		o.window.Limit, o.limited = *limit, true
	}
	if o.window.Desc, err = q.bool("desc", false); err != nil {
		return nil, err
	}
	bools := []struct {
		name string
		dst  *bool
	}{
		{"skipHidden", &it.SkipHidden}, {"skipEmpty", &it.SkipEmpty}, {"skipFailedPages", &it.SkipFailed},
		{"skipHeaderRow", &it.SkipHeaderRow}, {"attachment", &o.attachment},
	}
	for _, b := range bools {
		if *b.dst, err = q.bool(b.name, false); err != nil {
			return nil, err
		}
	}
	clean, err := q.bool("clean", false)
	if err != nil {
		return nil, err
	}
	if clean {
		it.Clean()
	}
	it.Fields, it.Omit, it.Unwind, it.Flatten = q.list("fields"), q.list("omit"), q.list("unwind"), q.list("flatten")
	simplified, err := q.bool("simplified", false)
	if err != nil {
		return nil, err
	}
	if simplified {
		it.Simplified()
	}
	if it.BOM, err = q.bool("bom", o.format.Name == "csv"); err != nil {
		return nil, err
	}
	if d := q.str("delimiter"); d != "" {
		if it.Delimiter, ok = items.CheckDelimiter(d); !ok {
			return nil, invalidParam("delimiter", "a single character other than a quote or a line break")
		}
	}
	it.XMLRoot, it.XMLRow = items.XMLName(q.str("xmlRoot"), "items"), items.XMLName(q.str("xmlRow"), "item")
	return o, nil
}
