package api

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"github.com/troupehq/troupe/internal/jsonscan"
	"html"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/troupehq/troupe"
)

// How dataset items are shaped for a read (GET .../items). The store hands
// out items as pushed (compacted JSON objects); the options below reshape
// each one, in this order:
//
//  1. unwind: for each field listed, in order, an array field makes one item
//     per element (an object element is merged into the item in place of the
//     field, its keys winning; any other element becomes the field's value;
//     an empty array makes no item), an object field is merged the same way,
//     anything else leaves the item as it is;
//  2. flatten: each object field listed becomes "field.sub" fields (nested
//     objects all the way down; arrays stay values);
//  3. fields: only the listed fields are kept, in the listed order;
//  4. omit: the listed fields are dropped;
//  5. skipHidden: top-level fields whose name starts with "#" are dropped;
//  6. skipEmpty: items left with no field are dropped (clean = skipHidden +
//     skipEmpty, the items a dataset's cleanItemCount counts).
//
// Pagination always counts stored items: offset and limit select stored
// items and X-Apify-Pagination-Count is the number of stored items the
// window covered, which may differ from the number of items in the body
// when unwind or skipEmpty apply (the official clients count the body).
//
// Formats: json (an array), jsonl (one object per line), csv and html (a
// table whose columns are the union of the items' keys in first-seen order,
// nested objects and arrays flattened into "a/b" and "a/0" columns, null as
// an empty cell), xml (each item an <item> element in <items>, fields as
// child elements, arrays as repeated elements, "@" objects as attributes
// and "#" as text, names that are not XML names made safe with "_").

// maxColumns is the most columns a csv or html table may have.
const maxColumns = 2000

// noLimit is what X-Apify-Pagination-Limit says when no limit was asked
// for, as the hosted API does.
const noLimit = "999999999999"

// itemsFormat describes one output format.
type itemsFormat struct {
	contentType string
	ext         string
	tabular     bool
}

var itemsFormats = map[string]itemsFormat{
	"json":  {"application/json; charset=utf-8", "json", false},
	"jsonl": {"application/jsonl; charset=utf-8", "jsonl", false},
	"csv":   {"text/csv; charset=utf-8", "csv", true},
	"html":  {"text/html; charset=utf-8", "html", true},
	"xml":   {"application/xml; charset=utf-8", "xml", false},
}

// itemsOptions are the parameters of an items read.
type itemsOptions struct {
	window     troupe.ItemWindow
	limited    bool
	format     string
	fields     []string
	omit       []string
	unwind     []string
	flatten    []string
	skipHidden bool
	skipEmpty  bool
	skipFailed bool

	bom           bool
	delimiter     rune
	skipHeaderRow bool
	xmlRoot       string
	xmlRow        string
	attachment    bool
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
	o := &itemsOptions{format: strings.ToLower(q.str("format"))}
	if o.format == "" {
		o.format = "json"
	}
	if _, ok := itemsFormats[o.format]; !ok {
		return nil, troupe.Errorf(troupe.ErrInvalidParameter, "Parameter 'format' must be one of json, jsonl, csv, html or xml (%q is not supported).", o.format)
	}
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
		{"skipHidden", &o.skipHidden}, {"skipEmpty", &o.skipEmpty}, {"skipFailedPages", &o.skipFailed},
		{"skipHeaderRow", &o.skipHeaderRow}, {"attachment", &o.attachment},
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
		o.skipHidden, o.skipEmpty = true, true
	}
	o.fields, o.omit, o.unwind, o.flatten = q.list("fields"), q.list("omit"), q.list("unwind"), q.list("flatten")
	simplified, err := q.bool("simplified", false)
	if err != nil {
		return nil, err
	}
	if simplified {
		o.fields = []string{"url", "pageFunctionResult", "errorInfo"}
		o.unwind = []string{"pageFunctionResult"}
	}
	if o.bom, err = q.bool("bom", o.format == "csv"); err != nil {
		return nil, err
	}
	o.delimiter = ','
	if d := q.str("delimiter"); d != "" {
		r, size := utf8.DecodeRuneInString(d)
		if size != len(d) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
			return nil, invalidParam("delimiter", "a single character other than a quote or a line break")
		}
		o.delimiter = r
	}
	o.xmlRoot, o.xmlRow = xmlName(q.str("xmlRoot"), "items"), xmlName(q.str("xmlRow"), "item")
	return o, nil
}

// reshapes reports whether items must be parsed to be written.
func (o *itemsOptions) reshapes() bool {
	return len(o.fields) > 0 || len(o.omit) > 0 || len(o.unwind) > 0 || len(o.flatten) > 0 ||
		o.skipHidden || o.skipEmpty || o.skipFailed || o.format == "xml" || itemsFormats[o.format].tabular
}

// member is one field of a JSON object, in its place.
type member struct {
	key string
	val json.RawMessage
}

// object is a JSON object whose fields keep their order.
type object []member

func (o object) index(key string) int {
	for i, m := range o {
		if m.key == key {
			return i
		}
	}
	return -1
}

// parseObject parses a JSON object keeping its field order, without
// copying its values; false when b is not an object. b must be valid JSON
// (stored items are): it only finds where things end.
func parseObject(b []byte) (object, bool) {
	i := jsonscan.Space(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	o := object{}
	i = jsonscan.Space(b, i+1)
	if i < len(b) && b[i] == '}' {
		return o, true
	}
	for i < len(b) && b[i] == '"' {
		end := jsonscan.String(b, i)
		if end < 0 {
			return nil, false
		}
		key, ok := jsonString(b[i:end])
		if !ok {
			return nil, false
		}
		i = jsonscan.Space(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = jsonscan.Space(b, i+1)
		vend := jsonscan.Value(b, i)
		if vend < 0 {
			return nil, false
		}
		o = append(o, member{key, b[i:vend]})
		i = jsonscan.Space(b, vend)
		if i < len(b) && b[i] == '}' {
			return o, true
		}
		if i >= len(b) || b[i] != ',' {
			return nil, false
		}
		i = jsonscan.Space(b, i+1)
	}
	return nil, false
}

// parseArray splits a JSON array into its elements, without copying them;
// false when b is not an array. b must be valid JSON.
func parseArray(b []byte) ([]json.RawMessage, bool) {
	i := jsonscan.Space(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	elems := []json.RawMessage{}
	i = jsonscan.Space(b, i+1)
	if i < len(b) && b[i] == ']' {
		return elems, true
	}
	for i < len(b) {
		end := jsonscan.Value(b, i)
		if end < 0 {
			return nil, false
		}
		elems = append(elems, b[i:end])
		i = jsonscan.Space(b, end)
		if i < len(b) && b[i] == ']' {
			return elems, true
		}
		if i >= len(b) || b[i] != ',' {
			return nil, false
		}
		i = jsonscan.Space(b, i+1)
	}
	return nil, false
}

// jsonString decodes a quoted JSON string; it copies only when the string
// has escapes to decode.
func jsonString(quoted []byte) (string, bool) {
	if len(quoted) < 2 || quoted[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1 : len(quoted)-1]), true
	}
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return "", false
	}
	return s, true
}

// merge returns o with the field at i replaced by the fields of sub; fields
// of o that sub also has are dropped (sub wins).
func (o object) merge(i int, sub object) object {
	out := make(object, 0, len(o)+len(sub))
	keep := func(m member) {
		if sub.index(m.key) < 0 {
			out = append(out, m)
		}
	}
	for _, m := range o[:i] {
		keep(m)
	}
	out = append(out, sub...)
	for _, m := range o[i+1:] {
		keep(m)
	}
	return out
}

// unwindField unwinds one field of o (see the package comment) and calls
// emit for each resulting object.
func unwindField(o object, field string, emit func(object) error) error {
	i := o.index(field)
	if i < 0 {
		return emit(o)
	}
	if sub, ok := parseObject(o[i].val); ok {
		return emit(o.merge(i, sub))
	}
	elems, ok := parseArray(o[i].val)
	if !ok {
		return emit(o)
	}
	for _, e := range elems {
		if sub, ok := parseObject(e); ok {
			if err := emit(o.merge(i, sub)); err != nil {
				return err
			}
			continue
		}
		c := append(object(nil), o...)
		c[i].val = e
		if err := emit(c); err != nil {
			return err
		}
	}
	return nil
}

// flattenInto appends the fields of a nested object as "prefix.key".
func flattenInto(out object, prefix string, val json.RawMessage) object {
	sub, ok := parseObject(val)
	if !ok {
		return append(out, member{prefix, val})
	}
	for _, m := range sub {
		out = flattenInto(out, prefix+"."+m.key, m.val)
	}
	return out
}

// shape applies every option but unwind to one object; false when the item
// is dropped.
func (o *itemsOptions) shape(obj object) (object, bool) {
	for _, f := range o.flatten {
		if i := obj.index(f); i >= 0 {
			if _, ok := parseObject(obj[i].val); ok {
				flat := flattenInto(nil, f, obj[i].val)
				obj = append(append(append(object(nil), obj[:i]...), flat...), obj[i+1:]...)
			}
		}
	}
	if len(o.fields) > 0 {
		picked := make(object, 0, len(o.fields))
		for _, f := range o.fields {
			if i := obj.index(f); i >= 0 && picked.index(f) < 0 {
				picked = append(picked, obj[i])
			}
		}
		obj = picked
	}
	if len(o.omit) > 0 || o.skipHidden {
		kept := obj[:0:0]
		for _, m := range obj {
			if (o.skipHidden && troupe.HiddenField(m.key)) || inList(o.omit, m.key) {
				continue
			}
			kept = append(kept, m)
		}
		obj = kept
	}
	if o.skipEmpty && len(obj) == 0 {
		return nil, false
	}
	return obj, true
}

func inList(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// each reshapes one stored item and calls emit for each item it becomes.
func (o *itemsOptions) each(item []byte, emit func(object) error) error {
	obj, ok := parseObject(item)
	if !ok {
		return fmt.Errorf("stored dataset item is not a JSON object: %.40q", item)
	}
	if o.skipFailed && obj.index("errorInfo") >= 0 {
		return nil
	}
	objs := []object{obj}
	for _, f := range o.unwind {
		var next []object
		for _, x := range objs {
			if err := unwindField(x, f, func(y object) error { next = append(next, y); return nil }); err != nil {
				return err
			}
		}
		objs = next
	}
	for _, x := range objs {
		if x, ok := o.shape(x); ok {
			if err := emit(x); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendJSON appends o as compact JSON.
func (o object) appendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	for i, m := range o {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, m.key)
		dst = append(dst, ':')
		dst = append(dst, m.val...)
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string (no HTML escaping).
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// scalarText is the text of a JSON scalar in a table cell or an XML
// element: strings unquoted, null empty, numbers and booleans as written.
func scalarText(val json.RawMessage) string {
	val = bytes.TrimSpace(val)
	if len(val) > 0 && val[0] == '"' {
		if s, ok := jsonString(val); ok {
			return s
		}
	}
	if string(val) == "null" {
		return ""
	}
	return string(val)
}

// flatCells calls fn with each leaf of obj as a "a/b/0" column and its
// text.
func flatCells(prefix string, val json.RawMessage, fn func(col, text string)) {
	if sub, ok := parseObject(val); ok {
		for _, m := range sub {
			flatCells(joinCol(prefix, m.key), m.val, fn)
		}
		return
	}
	if elems, ok := parseArray(val); ok {
		for i, e := range elems {
			flatCells(joinCol(prefix, strconv.Itoa(i)), e, fn)
		}
		return
	}
	fn(prefix, scalarText(val))
}

func joinCol(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "/" + key
}

func objectCells(obj object, fn func(col, text string)) {
	for _, m := range obj {
		flatCells(m.key, m.val, fn)
	}
}

// columns collects the columns of a table in first-seen order, grouped by
// the fields parameter when there is one (the columns of its first field
// first, and so on).
type columns struct {
	names []string
	index map[string]int
	rank  []int // per column: the index in fields of its top-level field
}

func (c *columns) add(col string, rank int) error {
	if c.index == nil {
		c.index = map[string]int{}
	}
	if _, ok := c.index[col]; ok {
		return nil
	}
	if len(c.names) == maxColumns {
		return troupe.Errorf(troupe.ErrInvalidRequest, "The items have more than %d columns, the most a csv or html table can have; pick columns with the fields parameter or use format=json.", maxColumns)
	}
	c.index[col] = len(c.names)
	c.names = append(c.names, col)
	c.rank = append(c.rank, rank)
	return nil
}

// order finishes the columns after the first pass: a field of the fields
// parameter that no item has still gets its (empty) column, and columns
// follow the order of the fields parameter.
func (c *columns) order(fields []string) error {
	if len(fields) == 0 {
		return nil
	}
	for i, f := range fields {
		if !slices.Contains(c.rank, i) {
			if err := c.add(f, i); err != nil {
				return err
			}
		}
	}
	idx := make([]int, len(c.names))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return c.rank[a] - c.rank[b] })
	names, rank := make([]string, len(idx)), make([]int, len(idx))
	for to, from := range idx {
		names[to], rank[to] = c.names[from], c.rank[from]
		c.index[names[to]] = to
	}
	c.names, c.rank = names, rank
	return nil
}

// itemWriter writes the items of one response in one format.
type itemWriter struct {
	o    *itemsOptions
	w    *bufio.Writer
	cols *columns // tabular formats
	csv  *csv.Writer
	row  []string
	buf  []byte
	n    int // items written
}

func newItemWriter(o *itemsOptions, w *bufio.Writer, cols *columns) *itemWriter {
	iw := &itemWriter{o: o, w: w, cols: cols}
	if o.format == "csv" {
		iw.csv = csv.NewWriter(w)
		iw.csv.Comma = o.delimiter
	}
	if cols != nil {
		iw.row = make([]string, len(cols.names))
	}
	return iw
}

// begin writes what comes before the first item.
func (iw *itemWriter) begin() error {
	o, w := iw.o, iw.w
	if o.bom {
		w.WriteString("\ufeff")
	}
	switch o.format {
	case "json":
		w.WriteString("[")
	case "xml":
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%s>\n", o.xmlRoot)
	case "csv":
		if !o.skipHeaderRow && len(iw.cols.names) > 0 {
			return iw.csv.Write(iw.cols.names)
		}
	case "html":
		w.WriteString("<table>\n<tr>")
		for _, c := range iw.cols.names {
			w.WriteString("<th>" + html.EscapeString(c) + "</th>")
		}
		w.WriteString("</tr>\n")
	}
	return nil
}

// stored writes one stored item, reshaped as the options say.
func (iw *itemWriter) stored(item []byte) error {
	if !iw.o.reshapes() {
		iw.next()
		_, err := iw.w.Write(item)
		return err
	}
	return iw.o.each(item, iw.item)
}

// next writes the separator before an item of a json or jsonl body.
func (iw *itemWriter) next() {
	switch iw.o.format {
	case "json":
		if iw.n > 0 {
			iw.w.WriteString(",\n")
		} else {
			iw.w.WriteString("\n")
		}
	case "jsonl":
		if iw.n > 0 {
			iw.w.WriteString("\n")
		}
	}
	iw.n++
}

// item writes one reshaped item.
func (iw *itemWriter) item(obj object) error {
	switch iw.o.format {
	case "json", "jsonl":
		iw.next()
		iw.buf = obj.appendJSON(iw.buf[:0])
		_, err := iw.w.Write(iw.buf)
		return err
	case "xml":
		iw.n++
		writeXMLObject(iw.w, iw.o.xmlRow, obj)
		return iw.w.WriteByte('\n')
	}
	clear(iw.row)
	objectCells(obj, func(col, text string) {
		if i, ok := iw.cols.index[col]; ok {
			iw.row[i] = text
		}
	})
	iw.n++
	if iw.csv != nil {
		if len(iw.row) == 0 {
			return nil
		}
		return iw.csv.Write(iw.row)
	}
	iw.w.WriteString("<tr>")
	for _, v := range iw.row {
		iw.w.WriteString("<td>" + html.EscapeString(v) + "</td>")
	}
	_, err := iw.w.WriteString("</tr>\n")
	return err
}

// end writes what comes after the last item and flushes.
func (iw *itemWriter) end() error {
	switch iw.o.format {
	case "json":
		if iw.n > 0 {
			iw.w.WriteString("\n")
		}
		iw.w.WriteString("]\n")
	case "jsonl":
		if iw.n > 0 {
			iw.w.WriteString("\n")
		}
	case "xml":
		fmt.Fprintf(iw.w, "</%s>\n", iw.o.xmlRoot)
	case "csv":
		iw.csv.Flush()
		if err := iw.csv.Error(); err != nil {
			return err
		}
	case "html":
		iw.w.WriteString("</table>\n")
	}
	return iw.w.Flush()
}

// collect adds the columns of one stored item (first pass of a table).
func (o *itemsOptions) collect(cols *columns, item []byte) error {
	return o.each(item, func(obj object) error {
		var err error
		for _, m := range obj {
			rank := slices.Index(o.fields, m.key)
			flatCells(m.key, m.val, func(col, _ string) {
				if err == nil {
					err = cols.add(col, rank)
				}
			})
		}
		return err
	})
}

// xmlName turns s into a safe XML element or attribute name: characters
// that may not appear become "_", and a name that does not start with a
// letter or "_" gets a "_" in front. An empty s gives def.
func xmlName(s, def string) string {
	if s == "" {
		return def
	}
	var b strings.Builder
	for i, r := range s {
		ok := r == '_' || unicode.IsLetter(r) || (i > 0 && (r == '-' || r == '.' || unicode.IsDigit(r)))
		if !ok && i == 0 && (r == '-' || r == '.' || unicode.IsDigit(r)) {
			b.WriteByte('_')
			ok = true
		}
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// writeXMLValue writes val as one element named name, or, for an array,
// one element per item.
func writeXMLValue(w *bufio.Writer, name string, val json.RawMessage) {
	if obj, ok := parseObject(val); ok {
		writeXMLObject(w, name, obj)
		return
	}
	if elems, ok := parseArray(val); ok {
		for _, e := range elems {
			writeXMLValue(w, name, e)
		}
		return
	}
	if string(bytes.TrimSpace(val)) == "null" {
		w.WriteString("<" + name + "/>")
		return
	}
	w.WriteString("<" + name + ">")
	xmlEscape(w, scalarText(val))
	w.WriteString("</" + name + ">")
}

// writeXMLObject writes obj as an element named name: fields become child
// elements, the fields of an "@" object attributes and a "#" field the text
// of an element that has no children.
func writeXMLObject(w *bufio.Writer, name string, obj object) {
	w.WriteString("<" + name)
	var text *json.RawMessage
	children := 0
	for i, m := range obj {
		switch m.key {
		case "@":
			if attrs, ok := parseObject(m.val); ok {
				for _, a := range attrs {
					w.WriteString(" " + xmlName(a.key, "_") + "=\"")
					xmlEscape(w, scalarText(a.val))
					w.WriteString("\"")
				}
			}
		case "#":
			text = &obj[i].val
		default:
			children++
		}
	}
	if children == 0 && text == nil {
		w.WriteString("/>")
		return
	}
	w.WriteString(">")
	if children == 0 {
		xmlEscape(w, scalarText(*text))
	}
	for _, m := range obj {
		if m.key != "@" && m.key != "#" {
			writeXMLValue(w, xmlName(m.key, "_"), m.val)
		}
	}
	w.WriteString("</" + name + ">")
}

// xmlEscape writes s escaped for XML text and attribute values, dropping
// characters XML cannot hold.
func xmlEscape(w *bufio.Writer, s string) {
	for _, r := range s {
		switch r {
		case '<':
			w.WriteString("&lt;")
		case '>':
			w.WriteString("&gt;")
		case '&':
			w.WriteString("&amp;")
		case '"':
			w.WriteString("&quot;")
		case '\'':
			w.WriteString("&apos;")
		default:
			if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r != 0xfffe && r != 0xffff) {
				w.WriteRune(r)
			}
		}
	}
}
