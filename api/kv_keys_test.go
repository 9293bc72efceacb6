package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/troupehq/troupe"
)

// keyListing is the data of GET .../keys.
type keyListing struct {
	Items []struct {
		Key             string `json:"key"`
		Size            int    `json:"size"`
		RecordPublicURL string `json:"recordPublicUrl"`
	} `json:"items"`
	Count                 int     `json:"count"`
	Limit                 int     `json:"limit"`
	ExclusiveStartKey     *string `json:"exclusiveStartKey"`
	IsTruncated           bool    `json:"isTruncated"`
	NextExclusiveStartKey *string `json:"nextExclusiveStartKey"`
}

func (k keyListing) keys() string {
	var out []string
	for _, it := range k.Items {
		out = append(out, it.Key)
	}
	return strings.Join(out, " ")
}

func TestKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	var st troupe.Storage
	b.call("POST", "/v2/key-value-stores?name=keys", nil).ok(t, http.StatusCreated, &st)
	base := "/v2/key-value-stores/" + st.ID
	for _, k := range []string{"b", "a", "B", "_x", "a.b", "a-b", "0", "img-1", "img-2", "img-10"} {
		b.call("PUT", base+"/records/"+k, []byte("v-"+k), "Content-Type", "text/plain").ok(t, http.StatusCreated, nil)
	}
	b.call("PUT", base+"/records/big", make([]byte, 3000), "Content-Type", "application/octet-stream").ok(t, http.StatusCreated, nil)

	var l keyListing
	r := b.call("GET", base+"/keys", nil)
	r.ok(t, http.StatusOK, &l)
	if got := l.keys(); got != "0 B _x a a-b a.b b big img-1 img-10 img-2" {
		t.Fatalf("keys = %q", got)
	}
	if l.Count != 11 || l.Limit != 1000 || l.IsTruncated || l.ExclusiveStartKey != nil || l.NextExclusiveStartKey != nil {
		t.Errorf("listing = %s", r.body)
	}
	for _, it := range l.Items {
		wantSize := len("v-" + it.Key)
		if it.Key == "big" {
			wantSize = 3000
		}
		if it.Size != wantSize || !strings.HasSuffix(it.RecordPublicURL, base+"/records/"+it.Key) || !strings.HasPrefix(it.RecordPublicURL, "http://") {
			t.Errorf("item %+v", it)
		}
	}
	// The JSON keeps nulls for the absent keys.
	if !strings.Contains(string(r.body), `"exclusiveStartKey":null`) || !strings.Contains(string(r.body), `"nextExclusiveStartKey":null`) {
		t.Errorf("listing without null keys: %s", r.body)
	}

	// Pages of 4 by exclusiveStartKey.
	var pages []string
	start := ""
	for {
		var l keyListing
		q := "?limit=4"
		if start != "" {
			q += "&exclusiveStartKey=" + start
		}
		b.call("GET", base+"/keys"+q, nil).ok(t, http.StatusOK, &l)
		pages = append(pages, l.keys())
		if l.Limit != 4 || (start != "" && (l.ExclusiveStartKey == nil || *l.ExclusiveStartKey != start)) {
			t.Fatalf("page after %q: limit %d, exclusiveStartKey %v", start, l.Limit, l.ExclusiveStartKey)
		}
		if !l.IsTruncated {
			if l.NextExclusiveStartKey != nil {
				t.Fatalf("last page with a next key")
			}
			break
		}
		start = *l.NextExclusiveStartKey
	}
	if got := strings.Join(pages, " | "); got != "0 B _x a | a-b a.b b big | img-1 img-10 img-2" {
		t.Errorf("pages = %q", got)
	}

	// Prefix, alone and with a start key.
	b.call("GET", base+"/keys?prefix=img-1", nil).ok(t, http.StatusOK, &l)
	if l.keys() != "img-1 img-10" {
		t.Errorf("prefix img-1 = %q", l.keys())
	}
	b.call("GET", base+"/keys?prefix=img&exclusiveStartKey=img-1&limit=1", nil).ok(t, http.StatusOK, &l)
	if l.keys() != "img-10" || !l.IsTruncated || *l.NextExclusiveStartKey != "img-10" {
		t.Errorf("prefix img after img-1 = %q, truncated %v", l.keys(), l.IsTruncated)
	}
	b.call("GET", base+"/keys?prefix=%C3%A9", nil).ok(t, http.StatusOK, &l)
	if l.Count != 0 || l.Items == nil {
		t.Errorf("unicode prefix = %+v", l)
	}
	// Limits above 1000 mean 1000; below 1 are refused.
	b.call("GET", base+"/keys?limit=5000", nil).ok(t, http.StatusOK, &l)
	if l.Limit != 1000 || l.Count != 11 {
		t.Errorf("limit 5000: %+v", l)
	}
	b.call("GET", base+"/keys?limit=0", nil).fails(t, http.StatusBadRequest, "invalid-parameter")
	b.call("GET", base+"/keys?limit=x", nil).fails(t, http.StatusBadRequest, "invalid-parameter")
	b.call("GET", "/v2/key-value-stores/missing/keys", nil).fails(t, http.StatusNotFound, "record-not-found")
	b.call("GET", "/v2/key-value-stores/~keys/keys?collection=x&signature=y", nil).ok(t, http.StatusOK, &l)
	if l.Count != 11 {
		t.Errorf("by name: %d keys", l.Count)
	}

	// Keys outside a-zA-Z0-9!-_.'() are refused, unicode ones included.
	for _, k := range []string{"%C3%A9", "a%20b", "a%2Fb", "%F0%9F%8E%AD", strings.Repeat("k", 257)} {
		b.call("PUT", base+"/records/"+k, []byte("x")).fails(t, http.StatusBadRequest, "invalid-record-key")
	}
	b.call("PUT", base+"/records/"+strings.Repeat("k", 256), []byte("x")).ok(t, http.StatusCreated, nil)
}

func TestKeysRunShortcuts(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("kv-runs", "")
	run := b.start(a.ID, "", []byte(`{"in":1}`), "application/json")
	b.call("PUT", "/v2/actor-runs/"+run.ID+"/key-value-store/records/OUTPUT", []byte(`{}`), "Content-Type", "application/json").ok(t, http.StatusCreated, nil)
	var l keyListing
	b.call("GET", "/v2/actor-runs/"+run.ID+"/key-value-store/keys", nil).ok(t, http.StatusOK, &l)
	if l.keys() != "INPUT OUTPUT" || !strings.Contains(l.Items[0].RecordPublicURL, "/v2/key-value-stores/"+run.DefaultKeyValueStoreID+"/records/INPUT") {
		t.Errorf("run's keys = %q (%+v)", l.keys(), l.Items)
	}
	b.call("GET", "/v2/actors/"+a.ID+"/runs/last/key-value-store/keys?prefix=OUT", nil).ok(t, http.StatusOK, &l)
	if l.keys() != "OUTPUT" {
		t.Errorf("last run's keys with prefix = %q", l.keys())
	}
}
