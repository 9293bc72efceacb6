package items

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/jsonscan"
)

// MaxColumns is the most columns a csv or html table may have.
const MaxColumns = 2000

// MaxUnwound is the most items one stored item may become by unwinding
// (several unwound arrays multiply).
const MaxUnwound = 100_000

// Format describes one output format.
type Format struct {
	// Name is the format parameter: json, jsonl, csv, html or xml.
	Name string
	// ContentType is the Content-Type of a body in this format.
	ContentType string
	// Ext is the file name extension of a download.
	Ext string
	// Tabular formats (csv, html) need the columns of all items before the
	// first row: see [Columns].
	Tabular bool
}

var formats = map[string]Format{
	"json":  {"json", "application/json; charset=utf-8", "json", false},
	"jsonl": {"jsonl", "application/jsonl; charset=utf-8", "jsonl", false},
	"csv":   {"csv", "text/csv; charset=utf-8", "csv", true},
	"html":  {"html", "text/html; charset=utf-8", "html", true},
	"xml":   {"xml", "application/xml; charset=utf-8", "xml", false},
}

// LookupFormat returns the format of a (lower-case) name; "" is json.
func LookupFormat(name string) (Format, bool) {
	if name == "" {
		name = "json"
	}
	f, ok := formats[name]
	return f, ok
}

// Options say how items are reshaped (see the package comment) and
// written. The zero value writes items unchanged as a JSON array.
type Options struct {
	// Format is json (the default), jsonl, csv, html or xml.
	Format                        string
	Fields, Omit, Unwind, Flatten []string
	SkipHidden, SkipEmpty         bool
	// SkipFailed drops items that have an errorInfo field.
	SkipFailed bool
	// MaxUnwound, when positive, lowers the MaxUnwound limit.
	MaxUnwound int

	// BOM starts the body with a UTF-8 byte order mark.
	BOM bool
	// Delimiter separates csv cells; 0 means ','.
	Delimiter rune
	// SkipHeaderRow leaves out the csv header row.
	SkipHeaderRow bool
	// XMLRoot and XMLRow name the xml elements; "" means items and item.
	// Callers make them safe with [XMLName].
	XMLRoot, XMLRow string
}

// Simplified sets the options of the simplified parameter: the fields url,
// pageFunctionResult and errorInfo, pageFunctionResult unwound.
func (o *Options) Simplified() {
	o.Fields = []string{"url", "pageFunctionResult", "errorInfo"}
	o.Unwind = []string{"pageFunctionResult"}
}

// Clean sets the options of the clean parameter: skipHidden and skipEmpty.
func (o *Options) Clean() {
	o.SkipHidden, o.SkipEmpty = true, true
}

// CheckDelimiter reports whether d can separate csv cells: a single
// character other than a quote or a line break.
func CheckDelimiter(d string) (rune, bool) {
	r, size := utf8.DecodeRuneInString(d)
	if d == "" || size != len(d) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
		return 0, false
	}
	return r, true
}

func (o *Options) format() Format {
	f, ok := LookupFormat(o.Format)
	if !ok {
		return formats["json"]
	}
	return f
}

// reshapes reports whether items must be parsed to be written.
func (o *Options) reshapes() bool {
	return len(o.Fields) > 0 || len(o.Omit) > 0 || len(o.Unwind) > 0 || len(o.Flatten) > 0 ||
		o.SkipHidden || o.SkipEmpty || o.SkipFailed || o.format().Name == "xml" || o.format().Tabular
}

// Reshape reshapes one stored item (a JSON object) and calls emit with the
// compact JSON of each item it becomes; the bytes are valid during the call
// only. An item that is not a JSON object is an error.
func (o *Options) Reshape(item []byte, emit func([]byte) error) error {
	var buf []byte
	return o.each(item, func(obj object) error {
		buf = obj.appendJSON(buf[:0])
		return emit(buf)
	})
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
func (o *Options) shape(obj object) (object, bool) {
	for _, f := range o.Flatten {
		if i := obj.index(f); i >= 0 {
			if _, ok := parseObject(obj[i].val); ok {
				flat := flattenInto(nil, f, obj[i].val)
				obj = append(append(append(object(nil), obj[:i]...), flat...), obj[i+1:]...)
			}
		}
	}
	if len(o.Fields) > 0 {
		picked := make(object, 0, len(o.Fields))
		for _, f := range o.Fields {
			if i := obj.index(f); i >= 0 && picked.index(f) < 0 {
				picked = append(picked, obj[i])
			}
		}
		obj = picked
	}
	if len(o.Omit) > 0 || o.SkipHidden {
		kept := obj[:0:0]
		for _, m := range obj {
			if (o.SkipHidden && troupe.HiddenField(m.key)) || slices.Contains(o.Omit, m.key) {
				continue
			}
			kept = append(kept, m)
		}
		obj = kept
	}
	if o.SkipEmpty && len(obj) == 0 {
		return nil, false
	}
	return obj, true
}

// each reshapes one stored item and calls emit for each item it becomes.
func (o *Options) each(item []byte, emit func(object) error) error {
	obj, ok := parseObject(item)
	if !ok {
		return fmt.Errorf("stored dataset item is not a JSON object: %.40q", item)
	}
	if o.SkipFailed && obj.index("errorInfo") >= 0 {
		return nil
	}
	limit := o.MaxUnwound
	if limit <= 0 {
		limit = MaxUnwound
	}
	n := 0
	return o.unwind(obj, o.Unwind, func(x object) error {
		if n++; n > limit {
			return troupe.Errorf(troupe.ErrInvalidParameter, "Unwinding a dataset item makes more than %d items, the most one item may become; unwind fewer fields.", limit)
		}
		if x, ok := o.shape(x); ok {
			return emit(x)
		}
		return nil
	})
}

// unwind unwinds the fields of x one after the other, depth first, so that
// memory holds one item per field, not the product of the arrays.
func (o *Options) unwind(x object, fields []string, emit func(object) error) error {
	if len(fields) == 0 {
		return emit(x)
	}
	return unwindField(x, fields[0], func(y object) error {
		return o.unwind(y, fields[1:], emit)
	})
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
