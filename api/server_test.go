package api_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	"github.com/troupehq/troupe"
)

func TestRouting(t *testing.T) {
	t.Parallel()
	b := setup(t, false)

	t.Run("UnknownPath", func(t *testing.T) {
		b.call("GET", "/v2/no-such-thing", nil).fails(t, 404, "page-not-found")
		b.call("GET", "/", nil).fails(t, 404, "page-not-found")
		// Unknown paths answer the same without a token.
		b.raw("GET", "/v2/nope/nope", nil, nil).fails(t, 404, "page-not-found")
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		r := b.call("PATCH", "/v2/actors", nil)
		r.fails(t, 405, "method-not-allowed")
		if allow := r.header.Get("Allow"); !contains(allow, "GET") || !contains(allow, "POST") {
			t.Errorf("Allow = %q", allow)
		}
		b.call("DELETE", "/v2/actor-runs", nil).fails(t, 405, "method-not-allowed")
	})
	t.Run("MethodOverride", func(t *testing.T) {
		var a troupe.Actor
		b.call("GET", "/v2/actors?method=POST", []byte(`{"name":"overridden"}`), "Content-Type", "application/json").
			ok(t, 201, &a)
		if a.Name != "overridden" {
			t.Errorf("name = %q", a.Name)
		}
		b.call("POST", "/v2/actors/"+a.ID+"?method=DELETE", nil).ok(t, 204, nil)
		b.call("GET", "/v2/actors/"+a.ID, nil).fails(t, 404, "record-not-found")
		b.call("GET", "/v2/actors?method=FLY", nil).fails(t, 400, "invalid-parameter")
	})
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("auth-actor", "")
	run := b.start(a.ID, "", nil, "")

	t.Run("Missing", func(t *testing.T) {
		b.raw("GET", "/v2/actors", nil, nil).fails(t, 401, "token-not-provided")
		b.raw("GET", "/v2/actor-runs/"+run.ID, nil, nil).fails(t, 401, "token-not-provided")
	})
	t.Run("Wrong", func(t *testing.T) {
		b.raw("GET", "/v2/actors", nil, http.Header{"Authorization": {"Bearer nope"}}).fails(t, 401, "invalid-token")
		b.raw("GET", "/v2/actors?token=nope", nil, nil).fails(t, 401, "invalid-token")
		forged := troupe.RunToken([]byte("other secret"), run)
		b.raw("GET", "/v2/actors?token="+forged, nil, nil).fails(t, 401, "invalid-token")
	})
	t.Run("Admin", func(t *testing.T) {
		b.raw("GET", "/v2/actors", nil, http.Header{"Authorization": {"Bearer " + adminToken}}).ok(t, 200, nil)
		b.raw("GET", "/v2/actors?token="+adminToken, nil, nil).ok(t, 200, nil)
	})
	t.Run("RunToken", func(t *testing.T) {
		tok := troupe.RunToken(runSecret, run)
		h := http.Header{"Authorization": {"Bearer " + tok}}
		// A run may steer itself and start other actors.
		b.raw("GET", "/v2/actor-runs/"+run.ID, nil, h).ok(t, 200, nil)
		var other troupe.Run
		b.raw("POST", "/v2/acts/"+a.ID+"/runs", nil, h).ok(t, 201, &other)

		b.finish(run.ID, 0)
		b.call("DELETE", "/v2/actor-runs/"+run.ID, nil).ok(t, 204, nil)
		b.raw("GET", "/v2/actors", nil, h).fails(t, 401, "invalid-token")
	})
}

func TestBooleanAndIntegerParameters(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("params", "")
	for _, v := range []string{"1", "true", "TRUE"} {
		if r := b.start(a.ID, "?restartOnError="+v, nil, ""); !r.Options.RestartOnError {
			t.Errorf("restartOnError=%s: got false", v)
		}
	}
	for _, v := range []string{"0", "false"} {
		if r := b.start(a.ID, "?restartOnError="+v, nil, ""); r.Options.RestartOnError {
			t.Errorf("restartOnError=%s: got true", v)
		}
	}
	msg := b.call("POST", "/v2/actors/"+a.ID+"/runs?restartOnError=yes", nil).fails(t, 400, "invalid-parameter")
	if !contains(msg, "restartOnError") {
		t.Errorf("message does not name the parameter: %s", msg)
	}
	b.call("GET", "/v2/actor-runs?desc=maybe", nil).fails(t, 400, "invalid-parameter")
	b.call("GET", "/v2/actor-runs?limit=ten", nil).fails(t, 400, "invalid-parameter")
	b.call("GET", "/v2/actor-runs?offset=-1", nil).fails(t, 400, "invalid-parameter")
	b.call("POST", "/v2/actors/"+a.ID+"/runs?memory=lots", nil).fails(t, 400, "invalid-parameter")
	b.call("POST", "/v2/actors/"+a.ID+"/runs?maxItems=0", nil).fails(t, 400, "invalid-parameter")
	b.call("GET", "/v2/actor-runs/x?waitForFinish=-3", nil).fails(t, 400, "invalid-parameter")
}

func compress(t *testing.T, enc string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch enc {
	case "br":
		w = brotli.NewWriter(&buf)
	case "gzip":
		gw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		if err != nil {
			t.Fatal(err)
		}
		w = gw
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "raw-deflate":
		fw, err := flate.NewWriter(&buf, flate.DefaultCompression)
		if err != nil {
			t.Fatal(err)
		}
		w = fw
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRequestBodies(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("bodies", "")
	input := []byte(`{"greeting":"` + strings.Repeat("hello ", 500) + `"}`)

	for _, enc := range []string{"br", "gzip", "deflate", "raw-deflate"} {
		t.Run(enc, func(t *testing.T) {
			header := enc
			if enc == "raw-deflate" {
				header = "deflate"
			}
			var run troupe.Run
			b.call("POST", "/v2/actors/"+a.ID+"/runs", compress(t, enc, input),
				"Content-Type", "application/json", "Content-Encoding", header).ok(t, 201, &run)
			rec := b.record(run.DefaultKeyValueStoreID, "INPUT")
			if !bytes.Equal(rec.Value, input) || rec.ContentEncoding != "" {
				t.Errorf("INPUT = %q (encoding %q), want the decoded body", rec.Value[:20], rec.ContentEncoding)
			}
		})
	}
	t.Run("UnknownEncoding", func(t *testing.T) {
		b.call("POST", "/v2/actors/"+a.ID+"/runs", input, "Content-Encoding", "zstd").
			fails(t, 415, "unsupported-content-encoding")
	})
	t.Run("Corrupt", func(t *testing.T) {
		b.call("POST", "/v2/actors/"+a.ID+"/runs", []byte("not gzip"), "Content-Encoding", "gzip").
			fails(t, 400, "invalid-request")
	})

	countRuns := func() int {
		_, total, err := b.store.ListRuns(context.Background(), troupe.RunFilter{ActorID: a.ID})
		if err != nil {
			t.Fatal(err)
		}
		return total
	}
	t.Run("TooLarge", func(t *testing.T) {
		before := countRuns()
		big := bytes.Repeat([]byte("a"), 9437184+1)
		b.call("POST", "/v2/actors/"+a.ID+"/runs", big, "Content-Type", "text/plain").
			fails(t, 413, "request-too-large")
		// The limit counts decoded bytes: a small gzip body that inflates
		// past it is refused too. (Two gzip members decode as one stream.)
		atLimit := compress(t, "gzip", big[:9437184])
		overLimit := append(append([]byte{}, atLimit...), compress(t, "gzip", []byte("a"))...)
		b.call("POST", "/v2/actors/"+a.ID+"/runs", overLimit, "Content-Type", "text/plain", "Content-Encoding", "gzip").
			fails(t, 413, "request-too-large")
		if after := countRuns(); after != before {
			t.Errorf("a refused request created a run: %d runs, want %d", after, before)
		}
		// Exactly at the limit is fine.
		var run troupe.Run
		b.call("POST", "/v2/actors/"+a.ID+"/runs", atLimit, "Content-Type", "text/plain", "Content-Encoding", "gzip").
			ok(t, 201, &run)
		if n := len(b.record(run.DefaultKeyValueStoreID, "INPUT").Value); n != 9437184 {
			t.Errorf("INPUT has %d bytes", n)
		}
	})
}
