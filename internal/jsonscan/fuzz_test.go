package jsonscan_test

import (
	"encoding/json"
	"testing"

	"github.com/troupehq/troupe/internal/jsonscan"
)

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// FuzzValue checks the scanner against encoding/json: on any input its
// indexes stay in bounds, and in valid JSON it finds the exact end of the
// value (and of a string). Seeds: testdata/fuzz/FuzzValue.
func FuzzValue(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		i := jsonscan.Space(b, 0)
		if i > len(b) || (i < len(b) && isSpace(b[i])) {
			t.Fatalf("Space(%q) = %d", b, i)
		}
		for _, c := range b[:i] {
			if !isSpace(c) {
				t.Fatalf("Space(%q) = %d skips %q", b, i, c)
			}
		}
		end := jsonscan.Value(b, i)
		if end != -1 && (end <= i || end > len(b)) {
			t.Fatalf("Value(%q, %d) = %d, out of bounds", b, i, end)
		}
		if i < len(b) && b[i] == '"' {
			if s := jsonscan.String(b, i); s != end {
				t.Fatalf("String(%q, %d) = %d, Value = %d", b, i, s, end)
			}
		}
		if json.Valid(b) && (end < 0 || jsonscan.Space(b, end) != len(b)) {
			t.Fatalf("valid JSON %q: Value ends at %d of %d", b, end, len(b))
		}
	})
}
