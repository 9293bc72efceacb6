package api

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/andybalholm/brotli"

	"github.com/troupehq/troupe"
)

// MaxBodyBytes is the largest request body the API accepts, counted after
// decompression (key-value records: as stored).
const MaxBodyBytes = 9437184

func errTooLarge() error {
	return troupe.Errorf(troupe.ErrRequestTooLarge, "The request body is larger than the limit of %d bytes.", MaxBodyBytes)
}

// encodings returns the request's Content-Encoding coding (see
// parseEncoding).
func encodings(r *http.Request) (string, error) {
	return parseEncoding(r.Header.Values("Content-Encoding")...)
}

// parseEncoding returns the one coding of Content-Encoding values,
// lower-cased, or "" for none (identity). At most one coding is accepted:
// stacked codings only multiply the work of decoding.
// unsupported-content-encoding, invalid-request (more than one coding).
func parseEncoding(values ...string) (string, error) {
	var out []string
	for _, h := range values {
		for _, c := range strings.Split(h, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			switch c {
			case "", "identity":
			case "br", "gzip", "x-gzip", "deflate":
				out = append(out, c)
			default:
				return "", troupe.Errorf(troupe.ErrUnsupportedEncoding, "Content-Encoding %q is not supported; use br, gzip, deflate or identity.", c)
			}
		}
	}
	switch len(out) {
	case 0:
		return "", nil
	case 1:
		return out[0], nil
	}
	return "", troupe.Errorf(troupe.ErrInvalidRequest, "Content-Encoding %q has %d codings; at most one is accepted.", strings.Join(out, ", "), len(out))
}

// readBody reads the request body, decoding its Content-Encoding, up to
// MaxBodyBytes decoded bytes. request-too-large, unsupported-content-encoding,
// invalid-request (corrupt compressed data, stacked codings).
func readBody(r *http.Request) ([]byte, error) {
	coding, err := encodings(r)
	if err != nil {
		return nil, err
	}
	if coding == "" && r.ContentLength > MaxBodyBytes {
		return nil, errTooLarge()
	}
	return decodeLimited(coding, r.Body, io.ReadAll)
}

// readRawBody reads the request body as it was sent (not decoded), up to
// MaxBodyBytes, and returns it with its validated Content-Encoding ("" for
// none). A compressed body must decode to at most MaxBodyBytes: it is
// decoded once, into nothing, to check. request-too-large,
// unsupported-content-encoding, invalid-request (corrupt compressed data,
// stacked codings).
func readRawBody(r *http.Request) ([]byte, string, error) {
	coding, err := encodings(r)
	if err != nil {
		return nil, "", err
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, "", errTooLarge()
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, "", errCorrupt(err)
	}
	if len(b) > MaxBodyBytes {
		return nil, "", errTooLarge()
	}
	if coding != "" {
		count := func(rd io.Reader) ([]byte, error) { _, err := io.Copy(io.Discard, rd); return nil, err }
		if _, err := decodeLimited(coding, bytes.NewReader(b), count); err != nil {
			return nil, "", err
		}
	}
	return b, coding, nil
}

// decodeLimited decodes one content coding ("" for none) of rd and hands
// at most MaxBodyBytes+1 decoded bytes to read, which returns what it kept.
// request-too-large when the decoded data is longer than MaxBodyBytes,
// invalid-request when it is corrupt.
func decodeLimited(coding string, rd io.Reader, read func(io.Reader) ([]byte, error)) ([]byte, error) {
	if coding != "" {
		var err error
		if rd, err = decoder(coding, rd); err != nil {
			return nil, errCorrupt(err)
		}
	}
	lr := &io.LimitedReader{R: rd, N: MaxBodyBytes + 1}
	b, err := read(lr)
	if err != nil {
		return nil, errCorrupt(err)
	}
	if lr.N == 0 {
		return nil, errTooLarge()
	}
	return b, nil
}

// decoder returns a reader that decodes one content coding.
func decoder(coding string, rd io.Reader) (io.Reader, error) {
	switch coding {
	case "br":
		return brotli.NewReader(rd), nil
	case "gzip", "x-gzip":
		return gzip.NewReader(rd)
	case "deflate":
		// HTTP's deflate is zlib-wrapped, but some clients send raw
		// deflate data: tell them apart by the zlib header.
		br := bufio.NewReader(rd)
		if h, err := br.Peek(2); err == nil && h[0]&0x0f == 8 && (uint(h[0])<<8|uint(h[1]))%31 == 0 {
			return zlib.NewReader(br)
		}
		return flate.NewReader(br), nil
	}
	return nil, fmt.Errorf("unknown coding %q", coding)
}

// errCorrupt is the error for a body that could not be read or decoded.
func errCorrupt(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return troupe.Errorf(troupe.ErrInvalidRequest, "The request body did not arrive within the time limit.")
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return troupe.Errorf(troupe.ErrInvalidRequest, "The request body could not be read.")
	}
	return troupe.Errorf(troupe.ErrInvalidRequest, "The request body could not be read: %v.", err)
}

// readJSONBody reads a request body the server parses as JSON (see
// readBody). JSON text is UTF-8 (RFC 8259): invalid-input when it is not,
// as encoding/json would let such bytes through.
func readJSONBody(r *http.Request) ([]byte, error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, troupe.Errorf(troupe.ErrInvalidInput, "The request body is not valid UTF-8, as JSON must be.")
	}
	return b, nil
}

// decodeJSON decodes a JSON request body into v; an empty body leaves v as
// it is. invalid-input for malformed JSON or invalid UTF-8.
func decodeJSON(r *http.Request, v any) error {
	b, err := readJSONBody(r)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return troupe.Errorf(troupe.ErrInvalidInput, "The request body is not valid JSON or has a field of the wrong type: %v.", err)
	}
	return nil
}

// mediaType returns the media type of a Content-Type value, lower-cased and
// without parameters.
func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt
}

// isJSONType reports whether a Content-Type is JSON.
func isJSONType(contentType string) bool {
	return troupe.IsJSONContentType(contentType)
}
