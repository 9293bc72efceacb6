package items_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/items"
)

// FuzzReshape checks the engine against a straightforward implementation of
// the documented reshaping on values decoded by encoding/json: for a stored
// item and an option set, the json and jsonl bodies, decoded again, must be
// the reference's items, field order and all. The csv and xml bodies must
// parse. The seed corpus is in testdata/fuzz/FuzzReshape; fuzz for a
// bounded time with
//
//	go test -run x -fuzz FuzzReshape -fuzztime 60s -fuzzminimizetime 5s ./items/
func FuzzReshape(f *testing.F) {
	f.Fuzz(func(t *testing.T, item, fields, omit, unwind, flatten string, flags uint8) {
		var compact bytes.Buffer
		if !utf8.ValidString(item) || json.Compact(&compact, []byte(item)) != nil || compact.Len() > 1<<14 {
			t.Skip()
		}
		stored := compact.String() // the store keeps items compacted
		o := items.Options{
			Fields: list(fields), Omit: list(omit), Unwind: list(unwind), Flatten: list(flatten),
			SkipHidden: flags&1 != 0, SkipEmpty: flags&2 != 0, SkipFailed: flags&4 != 0,
			MaxUnwound: maxUnwound,
		}
		for _, l := range [][]string{o.Fields, o.Omit, o.Unwind, o.Flatten} {
			if len(l) > 8 {
				t.Skip()
			}
		}
		in, err := decodeOrdered(stored)
		if err != nil {
			t.Fatalf("decoding %q: %v", stored, err)
		}
		obj, isObject := in.(object)
		if !isObject {
			if err := o.Reshape([]byte(stored), func([]byte) error { return nil }); err == nil {
				t.Fatalf("%q, not an object, was reshaped", stored)
			}
			return
		}
		want, unwound := reference(o, obj)
		if unwound < 0 {
			t.Skip() // unwinds that multiply past any interest
		}
		if unwound > maxUnwound {
			o.Format = "jsonl"
			if _, err := write(t, o, stored); troupe.ErrorType(err) != troupe.ErrInvalidParameter {
				t.Fatalf("item %s unwinds into %d items, options %+v: err %v", stored, unwound, o, err)
			}
			return
		}
		var wantJSON []string
		for _, w := range want {
			wantJSON = append(wantJSON, canonical(w))
		}

		for _, format := range []string{"jsonl", "json"} {
			o.Format = format
			body, err := write(t, o, stored)
			if err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			got, err := decodeBody(format, body)
			if err != nil {
				t.Fatalf("%s body %q does not parse: %v", format, body, err)
			}
			if strings.Join(got, "\n") != strings.Join(wantJSON, "\n") {
				t.Fatalf("item %s, options %+v, %s:\ngot  %q\nwant %q", stored, o, format, got, wantJSON)
			}
		}

		o.Format = "csv"
		body, err := write(t, o, stored)
		if err == nil {
			rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
			if err != nil {
				t.Fatalf("csv body %q does not parse: %v", body, err)
			}
			if len(rows) > 0 && len(rows)-1 != len(want) {
				t.Fatalf("csv body %q has %d rows for %d items", body, len(rows)-1, len(want))
			}
		}
		o.Format = "xml"
		if body, err = write(t, o, stored); err != nil {
			t.Fatal(err)
		}
		if !isASCII(stored) {
			// encoding/xml knows the names of XML 1.0's fourth edition
			// only; XMLName follows the fifth (TestOptionHelpers).
			return
		}
		d := xml.NewDecoder(strings.NewReader(body))
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("xml body %q does not parse: %v", body, err)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// object is a JSON object decoded with its field order (and any repeated
// names) kept.
type object []field

type field struct {
	key string
	val any
}

func (o object) index(key string) int {
	for i, f := range o {
		if f.key == key {
			return i
		}
	}
	return -1
}

// decodeOrdered decodes one JSON value with encoding/json's tokenizer:
// objects as object, arrays as []any, numbers as json.Number.
func decodeOrdered(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	return decodeValue(d)
}

func decodeValue(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := object{}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(d)
			if err != nil {
				return nil, err
			}
			o = append(o, field{k.(string), v})
		}
		_, err := d.Token()
		return o, err
	case json.Delim('['):
		a := []any{}
		for d.More() {
			v, err := decodeValue(d)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := d.Token()
		return a, err
	}
	return tok, nil
}

// canonical encodes a decoded value as compact JSON, field order kept.
func canonical(v any) string {
	var b strings.Builder
	var enc func(v any)
	enc = func(v any) {
		switch v := v.(type) {
		case object:
			b.WriteByte('{')
			for i, f := range v {
				if i > 0 {
					b.WriteByte(',')
				}
				k, _ := json.Marshal(f.key)
				b.Write(k)
				b.WriteByte(':')
				enc(f.val)
			}
			b.WriteByte('}')
		case []any:
			b.WriteByte('[')
			for i, e := range v {
				if i > 0 {
					b.WriteByte(',')
				}
				enc(e)
			}
			b.WriteByte(']')
		default:
			j, _ := json.Marshal(v)
			b.Write(j)
		}
	}
	enc(v)
	return b.String()
}

// decodeBody decodes a json or jsonl body into the canonical text of each
// item.
func decodeBody(format, body string) ([]string, error) {
	var out []string
	if format == "jsonl" {
		for line := range strings.Lines(body) {
			v, err := decodeOrdered(line)
			if err != nil {
				return nil, err
			}
			out = append(out, canonical(v))
		}
		return out, nil
	}
	v, err := decodeOrdered(body)
	if err != nil {
		return nil, err
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, errors.New("not an array")
	}
	for _, e := range arr {
		out = append(out, canonical(e))
	}
	return out, nil
}

// maxUnwound is the engine's limit in the fuzz test.
const maxUnwound = 64

// reference reshapes one item as the package comment says, on decoded
// values. unwound is the number of items unwinding made, -1 when it went
// past 10,000 on the way.
func reference(o items.Options, item object) (out []object, unwound int) {
	if o.SkipFailed && item.index("errorInfo") >= 0 {
		return nil, 0
	}
	objs := []object{item}
	for _, f := range o.Unwind {
		var next []object
		for _, x := range objs {
			next = append(next, refUnwind(x, f)...)
			if len(next) > 10_000 {
				return nil, -1
			}
		}
		objs = next
	}
	for _, x := range objs {
		for _, f := range o.Flatten {
			if i := x.index(f); i >= 0 {
				if sub, ok := x[i].val.(object); ok {
					var flat object
					refFlatten(&flat, f, sub)
					x = append(append(append(object{}, x[:i]...), flat...), x[i+1:]...)
				}
			}
		}
		if len(o.Fields) > 0 {
			var picked object
			for _, f := range o.Fields {
				if i := x.index(f); i >= 0 && picked.index(f) < 0 {
					picked = append(picked, x[i])
				}
			}
			x = picked
		}
		var kept object
		for _, f := range x {
			hidden := strings.HasPrefix(f.key, "#")
			omitted := false
			for _, name := range o.Omit {
				omitted = omitted || name == f.key
			}
			if !(o.SkipHidden && hidden) && !omitted {
				kept = append(kept, f)
			}
		}
		if o.SkipEmpty && len(kept) == 0 {
			continue
		}
		out = append(out, kept)
	}
	return out, len(objs)
}

// refUnwind unwinds field name of x.
func refUnwind(x object, name string) []object {
	i := x.index(name)
	if i < 0 {
		return []object{x}
	}
	switch v := x[i].val.(type) {
	case object:
		return []object{refMerge(x, i, v)}
	case []any:
		var out []object
		for _, e := range v {
			if sub, ok := e.(object); ok {
				out = append(out, refMerge(x, i, sub))
				continue
			}
			c := append(object{}, x...)
			c[i].val = e
			out = append(out, c)
		}
		return out
	}
	return []object{x}
}

// refMerge replaces field i of x by the fields of sub; sub's names win.
func refMerge(x object, i int, sub object) object {
	var out object
	for j, f := range x {
		if j == i {
			out = append(out, sub...)
		} else if sub.index(f.key) < 0 {
			out = append(out, f)
		}
	}
	return out
}

func refFlatten(out *object, prefix string, sub object) {
	for _, f := range sub {
		if o, ok := f.val.(object); ok {
			refFlatten(out, prefix+"."+f.key, o)
		} else {
			*out = append(*out, field{prefix + "." + f.key, f.val})
		}
	}
}
