package api

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/troupehq/troupe"
)

// FuzzDecodeBody checks content decoding (body.go): whatever bytes arrive
// under a coding, at most MaxBodyBytes come out and any refusal is
// request-too-large or invalid-request; data compressed with the coding
// decodes to itself (deflate both zlib-wrapped and raw). Seeds:
// testdata/fuzz/FuzzDecodeBody.
func FuzzDecodeBody(f *testing.F) {
	codings := []string{"", "br", "gzip", "x-gzip", "deflate"}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		coding := codings[int(which)%len(codings)]
		out, err := decodeLimited(coding, bytes.NewReader(data), io.ReadAll)
		switch typ := troupe.ErrorType(err); {
		case err == nil && len(out) > MaxBodyBytes:
			t.Fatalf("%s: %d bytes decoded, over the limit", coding, len(out))
		case err == nil && coding == "" && !bytes.Equal(out, data):
			t.Fatalf("identity changed the body")
		case err != nil && typ != troupe.ErrRequestTooLarge && typ != troupe.ErrInvalidRequest:
			t.Fatalf("%s: undocumented error %v", coding, err)
		}

		raw := which&0x80 != 0
		enc := compressWith(t, coding, raw, data)
		back, err := decodeLimited(coding, bytes.NewReader(enc), io.ReadAll)
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("%s (raw %v) of %q decodes to %q, %v", coding, raw, data, back, err)
		}
	})
}

func compressWith(t *testing.T, coding string, raw bool, data []byte) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "":
		return data
	case "br":
		w = brotli.NewWriter(&buf)
	case "gzip", "x-gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		if raw {
			w, _ = flate.NewWriter(&buf, flate.BestSpeed)
		} else {
			w = zlib.NewWriter(&buf)
		}
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzContentEncoding checks the Content-Encoding and Accept-Encoding
// parsers (body.go, records.go). Seeds: testdata/fuzz/FuzzContentEncoding.
func FuzzContentEncoding(f *testing.F) {
	f.Fuzz(func(t *testing.T, header, accept string) {
		coding, err := parseEncoding(header)
		if err != nil {
			if typ := troupe.ErrorType(err); typ != troupe.ErrUnsupportedEncoding && typ != troupe.ErrInvalidRequest {
				t.Fatalf("parseEncoding(%q): undocumented error %v", header, err)
			}
		} else {
			switch coding {
			case "", "br", "gzip", "x-gzip", "deflate":
			default:
				t.Fatalf("parseEncoding(%q) = %q", header, coding)
			}
			if n := strings.Count(strings.ToLower(header), "gzip") + strings.Count(header, "br") + strings.Count(header, "deflate"); coding == "" && n > 0 {
				t.Fatalf("parseEncoding(%q) found no coding", header)
			}
		}
		for _, c := range []string{"br", "gzip", "deflate"} {
			if acceptsAll("", c) {
				t.Fatalf("no Accept-Encoding accepts %s", c)
			}
			if !acceptsAll(accept+", "+c, c) {
				t.Fatalf("Accept-Encoding %q does not accept %s", accept+", "+c, c)
			}
			if acceptsAll(accept, c) {
				la := strings.ToLower(accept)
				if !strings.Contains(la, c) && !strings.Contains(la, "*") {
					t.Fatalf("Accept-Encoding %q accepts %s", accept, c)
				}
			}
		}
	})
}

// FuzzQuery checks the query parameter parsers (params.go) on any value:
// each accepts exactly what it documents, clamps into its range and
// refuses with invalid-parameter. Seeds: testdata/fuzz/FuzzQuery.
func FuzzQuery(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		q := query{url.Values{"p": {s}, "offset": {s}, "limit": {s}, "desc": {s}}}
		refused := func(what string, err error) {
			if troupe.ErrorType(err) != troupe.ErrInvalidParameter {
				t.Fatalf("%s(%q): error %v", what, s, err)
			}
		}

		b, err := q.optBool("p")
		want := s == "1" || s == "0" || strings.EqualFold(s, "true") || strings.EqualFold(s, "false")
		switch {
		case s == "":
			if b != nil || err != nil {
				t.Fatalf("optBool(\"\") = %v, %v", b, err)
			}
		case want != (err == nil):
			t.Fatalf("optBool(%q) = %v, %v", s, b, err)
		case err != nil:
			refused("optBool", err)
		case *b != (s == "1" || strings.EqualFold(s, "true")):
			t.Fatalf("optBool(%q) = %v", s, *b)
		}

		if n, err := q.optInt("p", 1); err != nil {
			refused("optInt", err)
		} else if n != nil {
			if m, aerr := strconv.Atoi(s); aerr != nil || m != *n || *n < 1 {
				t.Fatalf("optInt(%q, 1) = %d", s, *n)
			}
		}

		if n, err := q.optSeconds("p"); err != nil {
			refused("optSeconds", err)
		} else if n != nil && (*n < 0 || *n > math.MaxInt32) {
			t.Fatalf("optSeconds(%q) = %d", s, *n)
		}

		if d, err := q.wait("p", time.Minute); err != nil {
			refused("wait", err)
		} else if d < 0 || d > time.Minute {
			t.Fatalf("wait(%q) = %v", s, d)
		}

		if tm, err := q.optTime("p"); err != nil {
			refused("optTime", err)
		} else if tm != nil && tm.Location() != time.UTC {
			t.Fatalf("optTime(%q) = %v, not UTC", s, tm)
		}

		if o, err := q.listOptions(); err != nil {
			refused("listOptions", err)
		} else if o.Offset < 0 || o.Limit < 1 || o.Limit > maxListLimit {
			t.Fatalf("listOptions(%q) = %+v", s, o)
		}
	})
}
