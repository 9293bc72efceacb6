package api

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/troupehq/troupe"
)

func errInvalidKey(key string) error {
	return troupe.Errorf(troupe.ErrInvalidRecordKey, "Record key %q is not valid: use 1-%d characters from a-zA-Z0-9!-_.'().", key, troupe.MaxRecordKeyLength)
}

// pathKey returns the request's valid {recordKey}. invalid-record-key.
func pathKey(r *http.Request) (string, error) {
	key := r.PathValue("recordKey")
	if !troupe.ValidRecordKey(key) {
		return "", errInvalidKey(key)
	}
	return key, nil
}

// getRecord answers a record's value as stored, with its Content-Type and
// Content-Encoding (decoded here when the client does not accept that
// encoding). It serves HEAD too. The attachment parameter changes nothing.
func (s *Server) getRecord(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		key, err := pathKey(r)
		if err != nil {
			return err
		}
		st, err := ref(r)
		if err != nil {
			return err
		}
		rec, err := s.store.GetRecord(r.Context(), st.ID, key)
		if troupe.IsNotFound(err) {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Record %q was not found in key-value store %s.", key, st.ID)
		}
		if err != nil {
			return err
		}
		writeRecord(w, r, rec, http.StatusOK)
		return nil
	}
}

// writeRecord writes a record's value with its stored headers. A record
// with one content coding the client does not accept is decoded, at most
// MaxBodyBytes of it; one that cannot be decoded within that (or has stacked
// codings, stored before they were refused) is sent as stored. HEAD never
// decodes: it leaves out Content-Length where GET would decode.
func writeRecord(w http.ResponseWriter, r *http.Request, rec *troupe.Record, status int) {
	value, enc := rec.Value, rec.ContentEncoding
	length := true
	if enc != "" && !acceptsAll(r.Header.Get("Accept-Encoding"), enc) {
		if coding, err := parseEncoding(enc); err == nil && coding != "" {
			if r.Method == http.MethodHead {
				enc, length = "", false
			} else if plain, err := decodeLimited(coding, bytes.NewReader(value), io.ReadAll); err == nil {
				value, enc = plain, ""
			}
		}
	}
	h := w.Header()
	ct := rec.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	if enc != "" {
		h.Set("Content-Encoding", enc)
	}
	if length {
		h.Set("Content-Length", strconv.Itoa(len(value)))
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(value)
	}
}

// acceptsAll reports whether an Accept-Encoding header accepts every coding
// of a Content-Encoding value. A request without the header gets the value
// decoded: clients that leave it out rarely decode anything themselves.
func acceptsAll(accept, encoding string) bool {
	if strings.TrimSpace(accept) == "" {
		return false
	}
	ok := map[string]bool{}
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if q := strings.TrimSpace(params); strings.HasPrefix(q, "q=") {
			if f, err := strconv.ParseFloat(strings.TrimPrefix(q, "q="), 64); err == nil && f == 0 {
				continue
			}
		}
		ok[name] = true
	}
	for _, c := range strings.Split(encoding, ",") {
		c = strings.ToLower(strings.TrimSpace(c))
		if !ok[c] && !ok["*"] && !(c == "x-gzip" && ok["gzip"]) {
			return false
		}
	}
	return true
}

// putRecord stores the body as received, with its Content-Type and
// Content-Encoding: 201 {}. PUT and POST both land here.
func (s *Server) putRecord(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		key, err := pathKey(r)
		if err != nil {
			return err
		}
		st, err := ref(r)
		if err != nil {
			return err
		}
		value, enc, err := readRawBody(r)
		if err != nil {
			return err
		}
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream"
		}
		rec := &troupe.Record{Key: key, Value: value, ContentType: ct, ContentEncoding: enc}
		if err := s.store.PutRecord(r.Context(), st.ID, rec); err != nil {
			return err
		}
		w.Header().Set("Location", absURL(r, "/v2/key-value-stores/"+st.ID+"/records/"+url.PathEscape(key)))
		writeJSONStatus(w, http.StatusCreated, struct{}{})
		return nil
	}
}

func (s *Server) deleteRecord(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		key, err := pathKey(r)
		if err != nil {
			return err
		}
		st, err := ref(r)
		if err != nil {
			return err
		}
		if err := s.store.DeleteRecord(r.Context(), st.ID, key); err != nil {
			if troupe.IsNotFound(err) {
				return troupe.Errorf(troupe.ErrRecordNotFound, "Record %q was not found in key-value store %s.", key, st.ID)
			}
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
