package troupe_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/troupehq/troupe"
)

// FuzzSplitItems checks the split of an items push against encoding/json:
// a valid array splits into exactly the elements json.Unmarshal finds, a
// valid single value into itself, and a body it accepts whose items are
// all valid JSON is valid JSON. Seeds: testdata/fuzz/FuzzSplitItems.
func FuzzSplitItems(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := troupe.SplitItems(body)
		if err != nil {
			if troupe.ErrorType(err) != troupe.ErrInvalidInput {
				t.Fatalf("SplitItems(%q): error %v", body, err)
			}
			if json.Valid(body) {
				t.Fatalf("SplitItems(%q) refused valid JSON: %v", body, err)
			}
			return
		}
		if json.Valid(body) {
			trimmed := bytes.TrimSpace(body)
			var want []json.RawMessage
			if trimmed[0] == '[' {
				if err := json.Unmarshal(body, &want); err != nil {
					t.Fatal(err)
				}
			} else {
				want = []json.RawMessage{trimmed}
			}
			if len(items) != len(want) {
				t.Fatalf("SplitItems(%q) = %d items, want %d", body, len(items), len(want))
			}
			for k := range want {
				if !bytes.Equal(items[k], want[k]) {
					t.Fatalf("SplitItems(%q)[%d] = %q, want %q", body, k, items[k], want[k])
				}
			}
			return
		}
		for _, it := range items {
			if !json.Valid(it) {
				return // PushItems refuses the batch
			}
		}
		t.Fatalf("SplitItems(%q) accepted invalid JSON as %q", body, items)
	})
}

// FuzzRequestJSON checks the hand-written JSON of request-queue requests: a
// request the API accepts (UTF-8 JSON that decodes and prepares) encodes
// to JSON that decodes and prepares again to the same encoding. Seeds:
// testdata/fuzz/FuzzRequestJSON.
func FuzzRequestJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		if !utf8.Valid(body) {
			return // the API refuses it (invalid-input)
		}
		var r troupe.Request
		if json.Unmarshal(body, &r) != nil || r.Prepare() != nil {
			return
		}
		out, err := json.Marshal(&r)
		if err != nil {
			t.Fatalf("request %q prepared but does not encode: %v", body, err)
		}
		var back troupe.Request
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("encoding %q of %q does not decode: %v", out, body, err)
		}
		if err := back.Prepare(); err != nil {
			t.Fatalf("encoding %q of %q does not prepare: %v", out, body, err)
		}
		again, err := json.Marshal(&back)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("request %q encodes as %q, then as %q (%v)", body, out, again, err)
		}
	})
}

var recordKeyRE = regexp.MustCompile(`^[a-zA-Z0-9!\-_.'()]{1,256}$`)

// FuzzRecordKey checks ValidRecordKey against the documented pattern.
// Seeds: testdata/fuzz/FuzzRecordKey.
func FuzzRecordKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, key string) {
		if got, want := troupe.ValidRecordKey(key), recordKeyRE.MatchString(key); got != want {
			t.Fatalf("ValidRecordKey(%q) = %v, want %v", key, got, want)
		}
	})
}

// FuzzRunInput checks how input-schema defaults are written into a JSON
// object input: the result is valid JSON that keeps every field of the
// input as sent and adds each default the input lacks. Seeds:
// testdata/fuzz/FuzzRunInput.
func FuzzRunInput(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, key, value string) {
		if !utf8.Valid(body) || !utf8.ValidString(key) || !json.Valid([]byte(value)) {
			return
		}
		k, _ := json.Marshal(key)
		schema := `{"properties":{` + string(k) + `:{"default":` + value + `},"zz_default":{"default":1}}}`
		rec, err := troupe.RunInput("INPUT", body, "application/json", json.RawMessage(schema))
		if err != nil {
			if troupe.ErrorType(err) != troupe.ErrInputNotValidJSON || json.Valid(body) {
				t.Fatalf("RunInput(%q): %v", body, err)
			}
			return
		}
		var in map[string]json.RawMessage
		if json.Unmarshal(body, &in) != nil || in == nil {
			return // not an object: kept as sent
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(rec.Value, &out); err != nil {
			t.Fatalf("input %q with defaults is not a JSON object: %q (%v)", body, rec.Value, err)
		}
		for name, v := range in {
			if !bytes.Equal(out[name], v) {
				t.Fatalf("input %q: field %q became %q", body, name, out[name])
			}
		}
		for name, def := range map[string]string{key: value, "zz_default": "1"} {
			if _, ok := in[name]; !ok && string(bytes.TrimSpace(out[name])) != strings.TrimSpace(def) {
				t.Fatalf("input %q: default %q = %q, want %q", body, name, out[name], def)
			}
		}
	})
}
