package client_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/troupehq/troupe/client"
)

// fakeDataset serves GET items of n items {"n":i} the way the API pages
// them: offset and limit count stored items, clean drops odd items from the
// body (not from the count), desc reverses.
func fakeDataset(t *testing.T, n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		offset, _ := strconv.Atoi(q.Get("offset"))
		limit, err := strconv.Atoi(q.Get("limit"))
		limitHeader := q.Get("limit")
		if err != nil || limit <= 0 {
			limit, limitHeader = n, "999999999999"
		}
		desc := q.Get("desc") == "1"
		count := max(min(n-offset, limit), 0)
		items := []string{}
		for i := range count {
			v := offset + i
			if desc {
				v = n - 1 - offset - i
			}
			if q.Get("clean") == "1" && v%2 == 1 {
				continue
			}
			items = append(items, fmt.Sprintf(`{"n":%d}`, v))
		}
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("X-Apify-Pagination-Offset", strconv.Itoa(offset))
		h.Set("X-Apify-Pagination-Limit", limitHeader)
		h.Set("X-Apify-Pagination-Count", strconv.Itoa(count))
		h.Set("X-Apify-Pagination-Total", strconv.Itoa(n))
		h.Set("X-Apify-Pagination-Desc", strconv.FormatBool(desc))
		io.WriteString(w, "["+strings.Join(items, ",\n")+"]")
	}
}

func numbers(t *testing.T, items []json.RawMessage) []int {
	t.Helper()
	var out []int
	for _, it := range items {
		var v struct{ N int }
		if err := json.Unmarshal(it, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.N)
	}
	return out
}

func TestDatasetPushItems(t *testing.T) {
	t.Parallel()
	var encodings []string
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		encodings = append(encodings, r.Header.Get("Content-Encoding"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "{}")
	})
	ctx := t.Context()
	ds := b.c.Dataset("alice/results")
	if err := ds.PushItems(ctx, map[string]any{"a": 1}); err != nil {
		t.Fatal(err)
	}
	got := b.last(t)
	if got.Method != "POST" || got.Path != "/v2/datasets/alice~results/items" || got.Body != `{"a":1}` ||
		got.ContentType != "application/json; charset=utf-8" || encodings[0] != "" {
		t.Errorf("push one = %+v (encoding %q)", got, encodings[0])
	}
	if err := ds.PushItems(ctx, json.RawMessage(`[{"x":1},{"y":2}]`)); err != nil {
		t.Fatal(err)
	}
	if got := b.last(t).Body; got != `[{"x":1},{"y":2}]` {
		t.Errorf("raw push body = %q", got)
	}
	// 1 KiB and more goes gzip-compressed.
	var big []map[string]string
	for i := range 100 {
		big = append(big, map[string]string{"i": strconv.Itoa(i), "text": strings.Repeat("z", 20)})
	}
	if err := b.c.Run("r1").Dataset().PushItems(ctx, big); err != nil {
		t.Fatal(err)
	}
	got = b.last(t)
	if got.Path != "/v2/actor-runs/r1/dataset/items" || encodings[2] != "gzip" {
		t.Fatalf("big push: path %s, encoding %q", got.Path, encodings[2])
	}
	zr, err := gzip.NewReader(strings.NewReader(got.Body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	want, _ := json.Marshal(big)
	if !bytes.Equal(plain, want) {
		t.Errorf("gzip body decodes to %d bytes, want %d", len(plain), len(want))
	}
	if err := ds.PushItems(ctx, func() {}); err == nil {
		t.Error("pushing something that is not JSON succeeded")
	}
}

func TestDatasetGet(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/missing") {
			writeError(w, 404, "record-not-found", "Dataset was not found.")
			return
		}
		n, c := int64(3), int64(2)
		writeData(w, 200, &client.Storage{ID: "D1", ItemCount: &n, CleanItemCount: &c})
	})
	ds, err := b.c.Dataset("D1").Get(t.Context())
	if err != nil || ds.ID != "D1" || *ds.ItemCount != 3 || *ds.CleanItemCount != 2 {
		t.Fatalf("Get = %+v, %v", ds, err)
	}
	if ds, err := b.c.Dataset("missing").Get(t.Context()); ds != nil || err != nil {
		t.Fatalf("Get of a missing dataset = %v, %v", ds, err)
	}
}

func TestDatasetListItems(t *testing.T) {
	t.Parallel()
	b := setup(t, fakeDataset(t, 10))
	p, err := b.c.Dataset("D1").ListItems(t.Context(), &client.ItemListOptions{
		Offset: 2, Limit: 5, Desc: true, Clean: true,
		Fields: []string{"n", "x"}, Omit: []string{"y"}, Unwind: []string{"u"}, Flatten: []string{"f"},
		SkipEmpty: true, SkipHidden: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	q := b.last(t).Query
	for k, v := range map[string]string{"offset": "2", "limit": "5", "desc": "1", "clean": "1", "fields": "n,x", "omit": "y",
		"unwind": "u", "flatten": "f", "skipEmpty": "1", "skipHidden": "1"} {
		if q.Get(k) != v {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), v)
		}
	}
	if fmt.Sprint(numbers(t, p.Items)) != "[6 4]" || p.Count != 5 || p.Total != 10 || p.Offset != 2 || p.Limit != 5 || !p.Desc {
		t.Errorf("page = %+v", p)
	}
	p, err = b.c.Dataset("D1").ListItems(t.Context(), nil)
	if err != nil || len(p.Items) != 10 || p.Limit != 999999999999 || p.Desc || len(b.last(t).Query) != 0 {
		t.Errorf("ListItems(nil) = %+v, %v; query %v", p, err, b.last(t).Query)
	}
}

func TestDatasetItemsIterator(t *testing.T) {
	t.Parallel()
	b := setup(t, fakeDataset(t, 2500))
	ctx := t.Context()
	collect := func(opts *client.ItemListOptions, stopAfter int) []int {
		t.Helper()
		var got []json.RawMessage
		for it, err := range b.c.Dataset("D1").Items(ctx, opts) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, it)
			if len(got) == stopAfter {
				break
			}
		}
		return numbers(t, got)
	}
	isRange := func(got []int, from, step, n int) bool {
		if len(got) != n {
			return false
		}
		for i, v := range got {
			if v != from+i*step {
				return false
			}
		}
		return true
	}

	before := len(b.requests())
	if got := collect(nil, 0); !isRange(got, 0, 1, 2500) || len(b.requests())-before != 3 {
		t.Errorf("all items: %d items in %d requests", len(got), len(b.requests())-before)
	}
	if got := collect(&client.ItemListOptions{Offset: 100, Limit: 1500, Desc: true}, 0); !isRange(got, 2399, -1, 1500) {
		t.Errorf("desc window: %d items, first %v", len(got), got[:1])
	}
	if q := b.last(t).Query; q.Get("offset") != "1100" || q.Get("limit") != "500" {
		t.Errorf("second page of a capped read asked for offset %s limit %s", q.Get("offset"), q.Get("limit"))
	}
	// Clean drops items from bodies; paging follows the count of stored
	// items, so nothing is read twice or skipped.
	if got := collect(&client.ItemListOptions{Clean: true}, 0); !isRange(got, 0, 2, 1250) {
		t.Errorf("clean: %d items", len(got))
	}
	before = len(b.requests())
	if got := collect(nil, 10); !isRange(got, 0, 1, 10) || len(b.requests())-before != 1 {
		t.Errorf("early break: %d items in %d requests", len(got), len(b.requests())-before)
	}
	if got := collect(&client.ItemListOptions{Offset: 5000}, 0); len(got) != 0 {
		t.Errorf("past the end: %d items", len(got))
	}

	// An error ends the iteration.
	bad := setup(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, 404, "record-not-found", "Dataset was not found.")
	})
	n := 0
	for _, err := range bad.c.Dataset("nope").Items(ctx, nil) {
		n++
		if !client.IsNotFound(err) {
			t.Errorf("iteration error = %v", err)
		}
	}
	if n != 1 {
		t.Errorf("iteration over a missing dataset yielded %d times", n)
	}
}

func TestDatasetDownloadItems(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		io.WriteString(w, "n\n1\n2\n")
	})
	rc, err := b.c.Run("r1").Dataset().DownloadItems(t.Context(), "csv", &client.DownloadOptions{
		ItemListOptions: client.ItemListOptions{Limit: 2, Fields: []string{"n"}},
		BOM:             client.Ptr(false), Delimiter: ";", SkipHeaderRow: true, XMLRoot: "r", XMLRow: "w",
	})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	got := b.last(t)
	var keys []string
	for k, v := range got.Query {
		keys = append(keys, k+"="+v[0])
	}
	sort.Strings(keys)
	if string(body) != "n\n1\n2\n" || got.Path != "/v2/actor-runs/r1/dataset/items" ||
		strings.Join(keys, "&") != "bom=0&delimiter=;&fields=n&format=csv&limit=2&skipHeaderRow=1&xmlRoot=r&xmlRow=w" {
		t.Errorf("download: body %q, path %s, query %s", body, got.Path, strings.Join(keys, "&"))
	}
}

// fakeKeys serves GET keys of a store holding keys k00..k(n-1) like the
// API: exclusiveStartKey, prefix and limit (default 1000).
func fakeKeys(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, err := strconv.Atoi(q.Get("limit"))
		if err != nil || limit > 1000 {
			limit = 1000
		}
		start, prefix := q.Get("exclusiveStartKey"), q.Get("prefix")
		items := []client.KeyInfo{}
		truncated := false
		for i := range n {
			k := fmt.Sprintf("k%04d", i)
			if (start != "" && k <= start) || !strings.HasPrefix(k, prefix) {
				continue
			}
			if len(items) == limit {
				truncated = true
				break
			}
			items = append(items, client.KeyInfo{Key: k, Size: i, RecordPublicURL: "http://x/" + k})
		}
		l := client.KeyList{Items: items, Count: len(items), Limit: limit, IsTruncated: truncated}
		if start != "" {
			l.ExclusiveStartKey = &start
		}
		if truncated {
			next := items[len(items)-1].Key
			l.NextExclusiveStartKey = &next
		}
		writeData(w, 200, l)
	}
}

func TestKeyValueStoreListKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, fakeKeys(30))
	l, err := b.c.KeyValueStore("alice/store").ListKeys(t.Context(), &client.KeyListOptions{ExclusiveStartKey: "k0003", Prefix: "k00", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	got := b.last(t)
	if got.Path != "/v2/key-value-stores/alice~store/keys" || got.Query.Get("exclusiveStartKey") != "k0003" ||
		got.Query.Get("prefix") != "k00" || got.Query.Get("limit") != "2" {
		t.Errorf("request = %+v", got)
	}
	if len(l.Items) != 2 || l.Items[0].Key != "k0004" || l.Items[1].Size != 5 || l.Items[0].RecordPublicURL != "http://x/k0004" ||
		!l.IsTruncated || *l.NextExclusiveStartKey != "k0005" || *l.ExclusiveStartKey != "k0003" || l.Count != 2 || l.Limit != 2 {
		t.Errorf("list = %+v", l)
	}
	if _, err := b.c.Run("r1").KeyValueStore().ListKeys(t.Context(), nil); err != nil || b.last(t).Path != "/v2/actor-runs/r1/key-value-store/keys" || len(b.last(t).Query) != 0 {
		t.Errorf("run's keys: %v %+v", err, b.last(t))
	}
}

func TestKeyValueStoreKeysIterator(t *testing.T) {
	t.Parallel()
	b := setup(t, fakeKeys(2300))
	ctx := t.Context()
	keys := func(opts *client.KeyListOptions, stopAfter int) []string {
		var out []string
		for k, err := range b.c.KeyValueStore("S1").Keys(ctx, opts) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, k.Key)
			if len(out) == stopAfter {
				break
			}
		}
		return out
	}
	before := len(b.requests())
	all := keys(nil, 0)
	if len(all) != 2300 || all[0] != "k0000" || all[2299] != "k2299" || len(b.requests())-before != 3 {
		t.Errorf("all keys: %d in %d requests", len(all), len(b.requests())-before)
	}
	for i := 1; i < len(all); i++ {
		if all[i] <= all[i-1] {
			t.Fatalf("keys out of order at %d: %s, %s", i, all[i-1], all[i])
		}
	}
	if got := keys(&client.KeyListOptions{Prefix: "k1", ExclusiveStartKey: "k1500", Limit: 700}, 0); len(got) != 499 || got[0] != "k1501" {
		t.Errorf("prefix and start: %d keys, first %v", len(got), got[:1])
	}
	if got := keys(&client.KeyListOptions{Limit: 1200}, 0); len(got) != 1200 || b.last(t).Query.Get("limit") != "200" {
		t.Errorf("capped: %d keys, last limit %s", len(got), b.last(t).Query.Get("limit"))
	}
	before = len(b.requests())
	if got := keys(nil, 3); len(got) != 3 || len(b.requests())-before != 1 {
		t.Errorf("early break: %d keys in %d requests", len(got), len(b.requests())-before)
	}
	bad := setup(t, func(w http.ResponseWriter, r *http.Request) { writeError(w, 400, "invalid-parameter", "no") })
	for _, err := range bad.c.KeyValueStore("S1").Keys(ctx, nil) {
		var e *client.Error
		if !errors.As(err, &e) || e.Type != "invalid-parameter" {
			t.Errorf("iteration error = %v", err)
		}
	}
}
