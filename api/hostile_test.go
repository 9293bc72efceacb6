package api_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/troupehq/troupe"
)

// TestBoundedDecoding: compressed bodies and records are decoded at most
// once, to at most the record limit, and never for HEAD.
func TestBoundedDecoding(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	var st troupe.Storage
	b.call("POST", "/v2/key-value-stores?name=bombs", nil).ok(t, 201, &st)
	base := "/v2/key-value-stores/" + st.ID + "/records/"
	const limit = 9437184
	stored := func(key string) bool {
		_, err := b.store.GetRecord(context.Background(), st.ID, key)
		if err != nil && !troupe.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}

	t.Run("StackedCodings", func(t *testing.T) {
		twice := compress(t, "gzip", compress(t, "gzip", []byte("hello")))
		b.call("PUT", base+"twice", twice, "Content-Encoding", "gzip, gzip").fails(t, 400, "invalid-request")
		h := http.Header{"Authorization": {"Bearer " + adminToken}, "Content-Encoding": {"br", "gzip"}}
		if r := b.raw("PUT", base+"twice", twice, h); r.status != 400 {
			t.Errorf("two Content-Encoding headers: %d %s", r.status, r.body)
		}
		if stored("twice") {
			t.Error("a record with stacked codings was stored")
		}
		// identity does not count as a layer.
		b.call("PUT", base+"once", compress(t, "gzip", []byte("hello")), "Content-Encoding", "identity, gzip").ok(t, 201, nil)
		if r := b.call("GET", base+"once", nil); string(r.body) != "hello" {
			t.Errorf("identity, gzip record = %q", r.body)
		}

		a := b.actor("stacked", "")
		b.call("POST", "/v2/actors/"+a.ID+"/runs", twice, "Content-Type", "application/json", "Content-Encoding", "gzip, gzip").
			fails(t, 400, "invalid-request")
		if _, total, err := b.store.ListRuns(context.Background(), troupe.RunFilter{ActorID: a.ID}); err != nil || total != 0 {
			t.Errorf("runs after refused start = %d, %v", total, err)
		}
		var ds troupe.Storage
		b.call("POST", "/v2/datasets?name=stacked", nil).ok(t, 201, &ds)
		b.call("POST", "/v2/datasets/"+ds.ID+"/items", compress(t, "br", compress(t, "br", []byte(`{"a":1}`))),
			"Content-Type", "application/json", "Content-Encoding", "br, br").fails(t, 400, "invalid-request")
	})

	t.Run("DecodedTooLarge", func(t *testing.T) {
		bomb := compress(t, "gzip", make([]byte, limit+1))
		if len(bomb) > 100_000 {
			t.Fatalf("bomb is %d bytes", len(bomb))
		}
		b.call("PUT", base+"bomb", bomb, "Content-Type", "text/plain", "Content-Encoding", "gzip").fails(t, 413, "request-too-large")
		b.call("PUT", base+"bomb", compress(t, "br", make([]byte, limit+1)), "Content-Encoding", "br").fails(t, 413, "request-too-large")
		if stored("bomb") {
			t.Error("a record over the limit once decoded was stored")
		}
		atLimit := compress(t, "deflate", make([]byte, limit))
		b.call("PUT", base+"bomb", atLimit, "Content-Encoding", "deflate").ok(t, 201, nil)
		if r := b.call("GET", base+"bomb", nil); r.status != 200 || len(r.body) != limit {
			t.Errorf("record at the limit: %d, %d bytes", r.status, len(r.body))
		}
	})

	t.Run("Corrupt", func(t *testing.T) {
		b.call("PUT", base+"corrupt", []byte("not gzip at all"), "Content-Encoding", "gzip").fails(t, 400, "invalid-request")
		if stored("corrupt") {
			t.Error("a corrupt compressed record was stored")
		}
	})

	t.Run("Head", func(t *testing.T) {
		gz := compress(t, "gzip", bytes.Repeat([]byte("head "), 100))
		b.call("PUT", base+"head", gz, "Content-Type", "text/plain", "Content-Encoding", "gzip").ok(t, 201, nil)
		// A client that accepts gzip learns the stored length...
		r := b.call("HEAD", base+"head", nil, "Accept-Encoding", "gzip")
		if r.status != 200 || r.header.Get("Content-Encoding") != "gzip" || r.header.Get("Content-Length") != strconv.Itoa(len(gz)) {
			t.Errorf("HEAD accepting gzip = %d %v", r.status, r.header)
		}
		// ...one that does not gets no length rather than a decode.
		r = b.call("HEAD", base+"head", nil)
		if r.status != 200 || r.header.Get("Content-Encoding") != "" || r.header.Get("Content-Length") != "" || len(r.body) != 0 {
			t.Errorf("HEAD without Accept-Encoding = %d %v", r.status, r.header)
		}
	})

	// Records stored before these limits existed are sent as stored when
	// they cannot be decoded within them.
	t.Run("Legacy", func(t *testing.T) {
		put := func(key string, value []byte, enc string) {
			rec := &troupe.Record{Key: key, Value: value, ContentType: "text/plain", ContentEncoding: enc}
			if err := b.store.PutRecord(context.Background(), st.ID, rec); err != nil {
				t.Fatal(err)
			}
		}
		twice := compress(t, "gzip", compress(t, "gzip", []byte("hello")))
		put("legacy-twice", twice, "gzip, gzip")
		r := b.call("GET", base+"legacy-twice", nil)
		if r.status != 200 || !bytes.Equal(r.body, twice) || r.header.Get("Content-Encoding") != "gzip, gzip" {
			t.Errorf("stacked legacy record = %d %q %v", r.status, r.body, r.header)
		}
		big := compress(t, "gzip", make([]byte, 2*limit))
		put("legacy-big", big, "gzip")
		r = b.call("GET", base+"legacy-big", nil)
		if r.status != 200 || !bytes.Equal(r.body, big) || r.header.Get("Content-Encoding") != "gzip" {
			t.Errorf("legacy record over the limit = %d, %d bytes, %v", r.status, len(r.body), r.header)
		}
	})
}

// TestInvalidUTF8: JSON bodies the server parses must be UTF-8; nothing of
// a refused body is written. Records stay opaque bytes.
func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	bad := "\xff\xfe"
	jsonType := []string{"Content-Type", "application/json"}
	count := func(path string, field func(*troupe.Storage) *int64) int64 {
		var st troupe.Storage
		b.call("GET", path, nil).ok(t, 200, &st)
		if n := field(&st); n != nil {
			return *n
		}
		return -1
	}

	var ds troupe.Storage
	b.call("POST", "/v2/datasets?name=utf8", nil).ok(t, 201, &ds)
	items := "/v2/datasets/" + ds.ID + "/items"
	b.call("POST", items, []byte(`[{"ok":1},{"a":"`+bad+`"}]`), jsonType...).fails(t, 400, "invalid-input")
	b.call("POST", items, []byte(`{"a":"`+bad+`"}`), jsonType...).fails(t, 400, "invalid-input")
	b.call("POST", items, []byte(`{"`+bad+`":1}`), jsonType...).fails(t, 400, "invalid-input")
	if n := count("/v2/datasets/"+ds.ID, func(s *troupe.Storage) *int64 { return s.ItemCount }); n != 0 {
		t.Errorf("itemCount = %d after refused pushes", n)
	}
	b.call("POST", items, []byte(`{"a":"zß水🙂"}`), jsonType...).ok(t, 201, nil)

	var q troupe.Storage
	b.call("POST", "/v2/request-queues?name=utf8", nil).ok(t, 201, &q)
	b.call("POST", "/v2/request-queues/"+q.ID+"/requests", []byte(`{"url":"https://example.com/`+bad+`"}`), jsonType...).
		fails(t, 400, "invalid-input")
	b.call("POST", "/v2/request-queues/"+q.ID+"/requests/batch", []byte(`[{"url":"https://example.com/`+bad+`"}]`), jsonType...).
		fails(t, 400, "invalid-input")
	if n := count("/v2/request-queues/"+q.ID, func(s *troupe.Storage) *int64 { return s.TotalRequestCount }); n != 0 {
		t.Errorf("totalRequestCount = %d after refused adds", n)
	}

	b.call("POST", "/v2/actors", []byte(`{"name":"utf8","title":"`+bad+`"}`), jsonType...).fails(t, 400, "invalid-input")
	b.call("GET", "/v2/actors/"+username+"~utf8", nil).fails(t, 404, "record-not-found")

	a := b.actor("utf8-input", "")
	b.call("POST", "/v2/actors/"+a.ID+"/runs", []byte(`{"x":"`+bad+`"}`), jsonType...).fails(t, 400, "run-input-body-not-valid-json")
	if _, total, err := b.store.ListRuns(context.Background(), troupe.RunFilter{ActorID: a.ID}); err != nil || total != 0 {
		t.Errorf("runs after a refused start = %d, %v", total, err)
	}
	// Input that is not JSON is not parsed, so not checked.
	run := b.start(a.ID, "", []byte("x"+bad), "application/octet-stream")
	if rec := b.record(run.DefaultKeyValueStoreID, "INPUT"); string(rec.Value) != "x"+bad {
		t.Errorf("binary INPUT = %q", rec.Value)
	}

	// Records are opaque bytes, whatever their Content-Type.
	var kv troupe.Storage
	b.call("POST", "/v2/key-value-stores?name=utf8", nil).ok(t, 201, &kv)
	b.call("PUT", "/v2/key-value-stores/"+kv.ID+"/records/raw", []byte(`{"a":"`+bad+`"}`), jsonType...).ok(t, 201, nil)
	if rec := b.record(kv.ID, "raw"); string(rec.Value) != `{"a":"`+bad+`"}` {
		t.Errorf("record = %q", rec.Value)
	}
}

// TestRequestTimeOutOfRange: a handledAt JSON cannot show once in UTC is
// refused instead of failing every later read of the request.
func TestRequestTimeOutOfRange(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	var q troupe.Storage
	b.call("POST", "/v2/request-queues?name=years", nil).ok(t, 201, &q)
	base := "/v2/request-queues/" + q.ID + "/requests"
	b.call("POST", base, []byte(`{"url":"https://example.com","handledAt":"0000-01-01T00:30:00+01:00"}`),
		"Content-Type", "application/json").fails(t, 400, "invalid-input")
	b.call("POST", base, []byte(`{"url":"https://example.com","handledAt":"0000-01-01T00:30:00Z"}`),
		"Content-Type", "application/json").ok(t, 201, nil)
	b.call("GET", base, nil).ok(t, 200, nil)
}
