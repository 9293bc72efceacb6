package troupe_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

// TestRequestID checks ids against ones computed with Node's crypto the
// way Crawlee's uniqueKeyToRequestId does (the platform's ids).
func TestRequestID(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"http://example.com":          "8OamqXBCpPHxyH9",
		"https://example.com/a?b=1#c": "XQcHRZ50BmsOZIa",
		"":                            "47DEQpj8HBSaTIm", // the digest has '+' and '/' in its first 15
		"ščř-😀":                       "BPQkZAX64eDhawB",
		"page-0":                      "yciruqOcpbL1Mdu",
	} {
		if got := troupe.RequestID(key); got != want {
			t.Errorf("RequestID(%q) = %s, want %s", key, got, want)
		}
	}
}

func TestValidClientKey(t *testing.T) {
	t.Parallel()
	for k, want := range map[string]bool{
		"": false, "a": true, strings.Repeat("k", 32): true, strings.Repeat("k", 33): false,
		strings.Repeat("ř", 32): true,
	} {
		if got := troupe.ValidClientKey(k); got != want {
			t.Errorf("ValidClientKey(%q) = %v, want %v", k, got, want)
		}
	}
}

func TestRequestJSON(t *testing.T) {
	t.Parallel()
	in := `{"url":"http://x","uniqueKey":"k","method":"POST","payload":"p","headers":{"A":"1"},` +
		`"userData":{"label":"L","n":1.50},"retryCount":1,"noRetry":true,"errorMessages":["e"],` +
		`"handledAt":"2025-03-01T12:00:00.5+01:00","loadedUrl":"http://y","lockExpiresAt":"2025-03-01T12:00:00Z",` +
		`"zeta":[1],"alpha":{"b":null},"skipped":null}`
	var r troupe.Request
	if err := json.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	if r.URL != "http://x" || r.Payload == nil || *r.Payload != "p" || r.Headers["A"] != "1" || !r.NoRetry ||
		r.HandledAt == nil || r.LockExpiresAt == nil || len(r.Extra) != 2 || string(r.UserData) != `{"label":"L","n":1.50}` {
		t.Fatalf("decoded %+v", r)
	}
	if err := r.Prepare(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"` + troupe.RequestID("k") + `","uniqueKey":"k","url":"http://x","method":"POST","payload":"p",` +
		`"headers":{"A":"1"},"userData":{"label":"L","n":1.50},"retryCount":1,"noRetry":true,"errorMessages":["e"],` +
		`"handledAt":"2025-03-01T11:00:00.5Z","loadedUrl":"http://y","alpha":{"b":null},"zeta":[1]}`
	if string(b) != want {
		t.Fatalf("encoded\n got %s\nwant %s", b, want)
	}

	for _, bad := range []string{`[]`, `"x"`, `{"retryCount":"1"}`, `{"handledAt":"yesterday"}`, `{"headers":{"A":1}}`} {
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

func TestRequestPrepare(t *testing.T) {
	t.Parallel()
	exp := time.Now()
	r := troupe.Request{URL: "http://x/a", Method: "get", LockExpiresAt: &exp}
	if err := r.Prepare(); err != nil {
		t.Fatal(err)
	}
	if r.UniqueKey != "http://x/a" || r.ID != troupe.RequestID("http://x/a") || r.Method != "GET" || r.LockExpiresAt != nil {
		t.Fatalf("prepared %+v", r)
	}
	for _, c := range []struct {
		r   troupe.Request
		typ string
	}{
		{troupe.Request{UniqueKey: "k"}, troupe.ErrInvalidInput},
		{troupe.Request{URL: "http://x", RetryCount: -1}, troupe.ErrInvalidInput},
		{troupe.Request{URL: "http://x", ID: "nope"}, troupe.ErrRequestIDInvalid},
	} {
		if err := c.r.Prepare(); troupe.ErrorType(err) != c.typ {
			t.Errorf("Prepare(%+v) = %v, want %s", c.r, err, c.typ)
		}
	}
}
