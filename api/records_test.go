package api_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/troupehq/troupe"
)

func TestRecords(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	var st troupe.Storage
	b.call("POST", "/v2/key-value-stores?name=records", nil).ok(t, 201, &st)
	base := "/v2/key-value-stores/" + st.ID + "/records/"

	t.Run("PutGet", func(t *testing.T) {
		r := b.call("PUT", base+"OUTPUT", []byte(`{"x":1}`), "Content-Type", "application/json; charset=utf-8")
		if r.status != 201 || string(bytes.TrimSpace(r.body)) != "{}" {
			t.Errorf("PUT = %d %q", r.status, r.body)
		}
		if r.header.Get("Location") == "" {
			t.Error("no Location")
		}
		r = b.call("GET", base+"OUTPUT?attachment=true", nil)
		if r.status != 200 || string(r.body) != `{"x":1}` || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("GET = %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
		}
		b.call("POST", "/v2/key-value-stores/~records/records/other", []byte("text"), "Content-Type", "text/plain").ok(t, 201, nil)
		if r := b.call("GET", base+"other", nil); string(r.body) != "text" || r.header.Get("Content-Type") != "text/plain" {
			t.Errorf("POSTed record = %q %q", r.body, r.header.Get("Content-Type"))
		}
	})
	t.Run("Head", func(t *testing.T) {
		r := b.call("HEAD", base+"OUTPUT", nil)
		if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != "7" {
			t.Errorf("HEAD = %d %q %v", r.status, r.body, r.header)
		}
		if r := b.call("HEAD", base+"missing", nil); r.status != 404 {
			t.Errorf("HEAD missing = %d", r.status)
		}
	})
	t.Run("Compressed", func(t *testing.T) {
		plain := bytes.Repeat([]byte("compress me "), 200)
		gz := compress(t, "gzip", plain)
		b.call("PUT", base+"zipped", gz, "Content-Type", "text/plain", "Content-Encoding", "gzip").ok(t, 201, nil)
		// Stored as received.
		if rec := b.record(st.ID, "zipped"); !bytes.Equal(rec.Value, gz) || rec.ContentEncoding != "gzip" {
			t.Errorf("stored %d bytes, encoding %q", len(rec.Value), rec.ContentEncoding)
		}
		// A client that accepts gzip gets it as stored...
		r := b.call("GET", base+"zipped", nil, "Accept-Encoding", "gzip, deflate, br")
		if !bytes.Equal(r.body, gz) || r.header.Get("Content-Encoding") != "gzip" {
			t.Errorf("with Accept-Encoding: %d bytes, encoding %q", len(r.body), r.header.Get("Content-Encoding"))
		}
		// ...one that does not gets it decoded.
		r = b.call("GET", base+"zipped", nil, "Accept-Encoding", "br")
		if !bytes.Equal(r.body, plain) || r.header.Get("Content-Encoding") != "" {
			t.Errorf("without gzip: %d bytes, encoding %q", len(r.body), r.header.Get("Content-Encoding"))
		}
		b.call("PUT", base+"zstd", []byte("x"), "Content-Encoding", "zstd").fails(t, 415, "unsupported-content-encoding")
	})
	t.Run("TooLarge", func(t *testing.T) {
		b.call("PUT", base+"big", bytes.Repeat([]byte("a"), 9437184+1), "Content-Type", "text/plain").fails(t, 413, "request-too-large")
		b.call("HEAD", base+"big", nil)
		if r := b.call("GET", base+"big", nil); r.status != 404 {
			t.Errorf("a refused record was stored: %d", r.status)
		}
		b.call("PUT", base+"big", bytes.Repeat([]byte("a"), 9437184), "Content-Type", "text/plain").ok(t, 201, nil)
	})
	t.Run("Keys", func(t *testing.T) {
		b.call("PUT", base+"bad%20key", []byte("x")).fails(t, 400, "invalid-record-key")
		b.call("GET", base+"bad%2Fkey", nil).fails(t, 400, "invalid-record-key")
		b.call("PUT", base+"ok.key-(1)_!'", []byte("x")).ok(t, 201, nil)
		b.call("GET", base+"missing", nil).fails(t, 404, "record-not-found")
		b.call("GET", "/v2/key-value-stores/nope/records/OUTPUT", nil).fails(t, 404, "record-not-found")
		b.call("PUT", "/v2/key-value-stores/nope/records/OUTPUT", []byte("x")).fails(t, 404, "record-not-found")
	})
	t.Run("Delete", func(t *testing.T) {
		b.call("DELETE", base+"other", nil).ok(t, http.StatusNoContent, nil)
		b.call("GET", base+"other", nil).fails(t, 404, "record-not-found")
		b.call("DELETE", base+"other", nil).fails(t, 404, "record-not-found")
	})
	t.Run("RunShortcut", func(t *testing.T) {
		a := b.actor("recorder", "")
		run := b.start(a.ID, "", []byte(`{"in":1}`), "application/json")
		rb := "/v2/actor-runs/" + run.ID + "/key-value-store/records/"
		if r := b.call("GET", rb+"INPUT", nil); string(r.body) != `{"in":1}` || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("INPUT = %q %q", r.body, r.header.Get("Content-Type"))
		}
		b.call("PUT", rb+"OUTPUT", []byte("out"), "Content-Type", "text/plain").ok(t, 201, nil)
		if rec := b.record(run.DefaultKeyValueStoreID, "OUTPUT"); string(rec.Value) != "out" {
			t.Errorf("OUTPUT = %q", rec.Value)
		}
		b.call("DELETE", rb+"OUTPUT", nil).ok(t, 204, nil)
	})
}

func TestEventsRoute(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("evented", "")
	run := b.start(a.ID, "", nil, "")
	other := b.start(a.ID, "", nil, "")
	path := "/v2/actor-runs/" + run.ID + "/events"

	r := b.raw("GET", path+"?token="+troupe.RunToken(runSecret, run), nil, nil)
	if r.status != 200 || string(r.body) != "events of "+run.ID {
		t.Errorf("events = %d %q", r.status, r.body)
	}
	if r := b.raw("GET", path+"?token="+adminToken, nil, nil); r.status != 200 {
		t.Errorf("admin events = %d", r.status)
	}
	b.raw("GET", path+"?token="+troupe.RunToken(runSecret, other), nil, nil).fails(t, 401, "invalid-token")
	b.raw("GET", path, nil, nil).fails(t, 401, "token-not-provided")
	b.call("GET", "/v2/actor-runs/nope/events", nil).fails(t, 404, "record-not-found")
}
