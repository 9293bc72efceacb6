package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/troupehq/troupe"
)

// datasetTests are the dataset and key listing tests; Run runs them with
// the others.
var datasetTests = []struct {
	name string
	fn   func(t *testing.T, s troupe.Store)
}{
	{"Dataset/Empty", testDatasetEmpty},
	{"Dataset/PushRead", testDatasetPushRead},
	{"Dataset/Windows", testDatasetWindows},
	{"Dataset/Counters", testDatasetCounters},
	{"Dataset/BadBatchWritesNothing", testDatasetBadBatch},
	{"Dataset/BigBatches", testDatasetBigBatches},
	{"Dataset/Unicode", testDatasetUnicode},
	{"Dataset/NotFound", testDatasetNotFound},
	{"Dataset/ReadCallback", testDatasetReadCallback},
	{"Dataset/DeleteRemovesItems", testDatasetDelete},
	{"Dataset/SplitItems", testSplitItems},
	{"Keys/OrderAndPages", testKeysOrderAndPages},
	{"Keys/Prefix", testKeysPrefix},
	{"Keys/NoStore", testKeysNoStore},
}

func dsNew(t *testing.T, s troupe.Store) *troupe.Storage {
	t.Helper()
	ds, _, err := s.CreateStorage(t.Context(), &troupe.Storage{Kind: troupe.KindDataset, CreatedAt: base})
	must(t, err)
	return ds
}

// items turns JSON texts into a batch.
func dsItems(texts ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(texts))
	for i, s := range texts {
		out[i] = json.RawMessage(s)
	}
	return out
}

// numbered returns n items {"n":from},{"n":from+1}...
func dsNumbered(from, n int) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		out[i] = json.RawMessage(fmt.Sprintf(`{"n":%d}`, from+i))
	}
	return out
}

// readAll reads a window and returns its page and items.
func dsRead(t *testing.T, s troupe.Store, id string, w troupe.ItemWindow) (troupe.ItemPage, []string) {
	t.Helper()
	var got []string
	p, err := s.ReadItems(t.Context(), id, w, func(p troupe.ItemPage, item []byte) error {
		got = append(got, string(item))
		return nil
	})
	must(t, err)
	return p, got
}

// readNumbers reads a window of numbered items and returns their numbers.
func dsReadNumbers(t *testing.T, s troupe.Store, id string, w troupe.ItemWindow) (troupe.ItemPage, []int) {
	t.Helper()
	p, texts := dsRead(t, s, id, w)
	nums := make([]int, len(texts))
	for i, text := range texts {
		var v struct{ N int }
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			t.Fatalf("item %q: %v", text, err)
		}
		nums[i] = v.N
	}
	return p, nums
}

func dsCounts(t *testing.T, s troupe.Store, id string) (items, clean int64) {
	t.Helper()
	ds, err := s.GetStorage(t.Context(), troupe.KindDataset, id)
	must(t, err)
	return *ds.ItemCount, *ds.CleanItemCount
}

func testDatasetEmpty(t *testing.T, s troupe.Store) {
	ds := dsNew(t, s)
	for _, w := range []troupe.ItemWindow{{}, {Offset: 5}, {Desc: true}, {Desc: true, Offset: 3, Limit: 2}, {Limit: 10}} {
		p, got := dsRead(t, s, ds.ID, w)
		if p.Total != 0 || p.Count != 0 || len(got) != 0 {
			t.Fatalf("read %+v of an empty dataset: page %+v, %d items", w, p, len(got))
		}
	}
	must(t, s.PushItems(t.Context(), ds.ID, nil))
	must(t, s.PushItems(t.Context(), ds.ID, dsItems()))
	if n, c := dsCounts(t, s, ds.ID); n != 0 || c != 0 {
		t.Fatalf("counts after empty pushes = %d, %d", n, c)
	}
}

func testDatasetPushRead(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	ds := dsNew(t, s)
	must(t, s.PushItems(ctx, ds.ID, dsItems(`{"url": "https://a.example", "n": 1}`, `{ "nested" : { "x" : [1, 2.50, "three"] } }`)))
	must(t, s.PushItems(ctx, ds.ID, dsItems(`{"big":12345678901234567890,"f":1e400,"s":"a\u0062\"c"}`)))
	p, got := dsRead(t, s, ds.ID, troupe.ItemWindow{})
	want := []string{
		`{"url":"https://a.example","n":1}`,
		`{"nested":{"x":[1,2.50,"three"]}}`,
		// Number text and string escapes are kept as pushed.
		`{"big":12345678901234567890,"f":1e400,"s":"a\u0062\"c"}`,
	}
	if p.Total != 3 || p.Count != 3 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("read: page %+v, items\n%s\nwant\n%s", p, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	after, err := s.GetStorage(ctx, troupe.KindDataset, ds.ID)
	must(t, err)
	if !after.ModifiedAt.After(base) || *after.ItemCount != 3 {
		t.Fatalf("dataset after pushes: modifiedAt %v, itemCount %d", after.ModifiedAt, *after.ItemCount)
	}
}

func testDatasetWindows(t *testing.T, s troupe.Store) {
	ds := dsNew(t, s)
	must(t, s.PushItems(t.Context(), ds.ID, dsNumbered(0, 6)))
	must(t, s.PushItems(t.Context(), ds.ID, dsNumbered(6, 4)))
	for _, c := range []struct {
		w     troupe.ItemWindow
		want  string
		count int
	}{
		{troupe.ItemWindow{}, "0 1 2 3 4 5 6 7 8 9", 10},
		{troupe.ItemWindow{Limit: 3}, "0 1 2", 3},
		{troupe.ItemWindow{Offset: 4, Limit: 3}, "4 5 6", 3},
		{troupe.ItemWindow{Offset: 8, Limit: 5}, "8 9", 2},
		{troupe.ItemWindow{Offset: 10}, "", 0},
		{troupe.ItemWindow{Offset: 25, Limit: 1}, "", 0},
		{troupe.ItemWindow{Offset: -3, Limit: 2}, "0 1", 2},
		{troupe.ItemWindow{Desc: true}, "9 8 7 6 5 4 3 2 1 0", 10},
		{troupe.ItemWindow{Desc: true, Limit: 2}, "9 8", 2},
		{troupe.ItemWindow{Desc: true, Offset: 2, Limit: 3}, "7 6 5", 3},
		{troupe.ItemWindow{Desc: true, Offset: 8, Limit: 5}, "1 0", 2},
		{troupe.ItemWindow{Desc: true, Offset: 9}, "0", 1},
		{troupe.ItemWindow{Desc: true, Offset: 10}, "", 0},
		{troupe.ItemWindow{UpTo: 4}, "0 1 2 3", 4},
		{troupe.ItemWindow{UpTo: 4, Desc: true, Offset: 1}, "2 1 0", 3},
		{troupe.ItemWindow{UpTo: 40, Desc: true, Limit: 1}, "9", 1},
	} {
		p, nums := dsReadNumbers(t, s, ds.ID, c.w)
		got := strings.Trim(fmt.Sprint(nums), "[]")
		wantTotal := 10
		if c.w.UpTo > 0 && c.w.UpTo < 10 {
			wantTotal = c.w.UpTo
		}
		if got != c.want || p.Count != c.count || p.Total != wantTotal {
			t.Errorf("read %+v: items %q, page %+v; want %q, count %d, total %d", c.w, got, p, c.want, c.count, wantTotal)
		}
	}
}

func testDatasetCounters(t *testing.T, s troupe.Store) {
	ds := dsNew(t, s)
	must(t, s.PushItems(t.Context(), ds.ID, dsItems(
		`{}`,                          // empty: not clean
		`{"#debug":{"url":"x"}}`,      // only hidden fields: not clean
		`{"#a":1,"b":2}`,              // clean
		`{"a":{"#inner":1}}`,          // hidden only counts at the top level: clean
		` { "\u0023esc" : 1 } `,       // an escaped "#" is still "#"
		`{"#x":[{"y":"}"}],"z":null}`, // clean
		`{"":1}`,                      // an empty name is not hidden
	)))
	if n, c := dsCounts(t, s, ds.ID); n != 7 || c != 4 {
		t.Fatalf("itemCount, cleanItemCount = %d, %d; want 7, 4", n, c)
	}
	must(t, s.PushItems(t.Context(), ds.ID, dsItems(`{"a":1}`, `{}`)))
	if n, c := dsCounts(t, s, ds.ID); n != 9 || c != 5 {
		t.Fatalf("after a second push: %d, %d; want 9, 5", n, c)
	}
	for item, want := range map[string]bool{
		`{"a":1}`: true, `{}`: false, `{"#a":1}`: false, `[{"a":1}]`: false, `"a"`: false,
		`{"#a":"x\"y","#b":{"c":[1,{"d":"]"}]},"e":1}`: true, `{"#a":1,"#b":2}`: false,
	} {
		if got := troupe.CleanItem([]byte(item)); got != want {
			t.Errorf("CleanItem(%s) = %v, want %v", item, got, want)
		}
	}
}

func testDatasetBadBatch(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	ds := dsNew(t, s)
	must(t, s.PushItems(ctx, ds.ID, dsItems(`{"ok":1}`)))
	for _, batch := range [][]json.RawMessage{
		dsItems(`{"a":1}`, `{"b":`),
		dsItems(`{"a":1}`, `{"b":2,}`),
		dsItems(`{"a":1}`, `[{"b":2}]`),
		dsItems(`{"a":1}`, `"text"`),
		dsItems(`null`),
		dsItems(`42`),
		dsItems(`{"a":1}`, ``),
		dsItems(`{"a":1} {"b":2}`),
	} {
		wantType(t, s.PushItems(ctx, ds.ID, batch), troupe.ErrInvalidInput)
	}
	if n, c := dsCounts(t, s, ds.ID); n != 1 || c != 1 {
		t.Fatalf("counts after rejected batches = %d, %d; want 1, 1", n, c)
	}
	_, got := dsRead(t, s, ds.ID, troupe.ItemWindow{})
	if strings.Join(got, ",") != `{"ok":1}` {
		t.Fatalf("items after rejected batches: %s", got)
	}
}

func testDatasetBigBatches(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	ds := dsNew(t, s)
	pad := strings.Repeat("x", 100)
	batch := func(from, n int) []json.RawMessage {
		out := make([]json.RawMessage, n)
		for i := range out {
			out[i] = json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, from+i, pad))
		}
		return out
	}
	// Batches that cross the stores' read chunks, and a 1 MiB item.
	must(t, s.PushItems(ctx, ds.ID, batch(0, 1500)))
	must(t, s.PushItems(ctx, ds.ID, batch(1500, 1)))
	large := fmt.Sprintf(`{"n":1501,"pad":"%s"}`, strings.Repeat("y", 1<<20))
	must(t, s.PushItems(ctx, ds.ID, append(batch(1501, 0), json.RawMessage(large))))
	must(t, s.PushItems(ctx, ds.ID, batch(1502, 498)))
	const total = 2000
	if n, _ := dsCounts(t, s, ds.ID); n != total {
		t.Fatalf("itemCount = %d, want %d", n, total)
	}
	for _, w := range []troupe.ItemWindow{{}, {Desc: true}, {Offset: 1200, Limit: 1500}, {Desc: true, Offset: 7, Limit: 2100}} {
		p, nums := dsReadNumbers(t, s, ds.ID, w)
		if p.Count != len(nums) {
			t.Fatalf("read %+v: count %d, %d items", w, p.Count, len(nums))
		}
		for i, n := range nums {
			want := max(w.Offset, 0) + i
			if w.Desc {
				want = total - 1 - max(w.Offset, 0) - i
			}
			if n != want {
				t.Fatalf("read %+v: item %d is %d, want %d", w, i, n, want)
			}
		}
	}
}

func testDatasetUnicode(t *testing.T, s troupe.Store) {
	ds := dsNew(t, s)
	texts := []string{
		`{"title":"Příliš žluťoučký kůň","emoji":"🎭🚀","cjk":"東京"}`,
		`{"ключ":"значение","שלום":"עולם","🔑":"🗝"}`,
		`{"escaped":"\u00e9\ud83c\udfad","nul":"a\u0000b","line":"a\nb\u2028"}`,
		`{"#skryté":"ano"}`,
	}
	must(t, s.PushItems(t.Context(), ds.ID, dsItems(texts...)))
	_, got := dsRead(t, s, ds.ID, troupe.ItemWindow{})
	if strings.Join(got, "\n") != strings.Join(texts, "\n") {
		t.Fatalf("unicode items changed:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(texts, "\n"))
	}
	if _, c := dsCounts(t, s, ds.ID); c != 3 {
		t.Fatalf("cleanItemCount = %d, want 3", c)
	}
}

func testDatasetNotFound(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	noop := func(troupe.ItemPage, []byte) error { return nil }
	wantType(t, s.PushItems(ctx, "missing", dsItems(`{"a":1}`)), troupe.ErrRecordNotFound)
	wantType(t, s.PushItems(ctx, "missing", nil), troupe.ErrRecordNotFound)
	_, err := s.ReadItems(ctx, "missing", troupe.ItemWindow{}, noop)
	wantType(t, err, troupe.ErrRecordNotFound)
	// A key-value store is not a dataset.
	kvs, _, err := s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindKeyValueStore})
	must(t, err)
	wantType(t, s.PushItems(ctx, kvs.ID, dsItems(`{"a":1}`)), troupe.ErrRecordNotFound)
	_, err = s.ReadItems(ctx, kvs.ID, troupe.ItemWindow{}, noop)
	wantType(t, err, troupe.ErrRecordNotFound)
}

func testDatasetReadCallback(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	ds := dsNew(t, s)
	must(t, s.PushItems(ctx, ds.ID, dsNumbered(0, 2500)))
	// The page comes with the first item; fn may use the store (it is not
	// called inside a transaction) and its error stops the read.
	errStop := errors.New("stop")
	seen := 0
	p, err := s.ReadItems(ctx, ds.ID, troupe.ItemWindow{Offset: 100, Limit: 2000}, func(p troupe.ItemPage, item []byte) error {
		if p.Total != 2500 || p.Count != 2000 {
			return fmt.Errorf("page %+v", p)
		}
		seen++
		if seen == 1 {
			// A push during the read does not change its window.
			if err := s.PushItems(ctx, ds.ID, dsNumbered(2500, 3)); err != nil {
				return err
			}
		}
		if seen == 1500 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || seen != 1500 || p.Count != 2000 {
		t.Fatalf("read stopped by fn: err %v, %d items seen, page %+v", err, seen, p)
	}
	if n, _ := dsCounts(t, s, ds.ID); n != 2503 {
		t.Fatalf("itemCount after a push during a read = %d", n)
	}
}

func testDatasetDelete(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	ds := dsNew(t, s)
	must(t, s.PushItems(ctx, ds.ID, dsNumbered(0, 10)))
	must(t, s.DeleteStorage(ctx, troupe.KindDataset, ds.ID))
	_, err := s.ReadItems(ctx, ds.ID, troupe.ItemWindow{}, func(troupe.ItemPage, []byte) error { return nil })
	wantType(t, err, troupe.ErrRecordNotFound)

	// A run's default dataset goes with the run.
	r := createRun(t, s, newRun("a", base))
	must(t, s.PushItems(ctx, r.DefaultDatasetID, dsNumbered(0, 3)))
	_, err = s.UpdateRun(ctx, r.ID, func(r *troupe.Run, _ troupe.StorageTx) error {
		if err := r.MarkRunning(at(1)); err != nil {
			return err
		}
		return r.Finish(0, at(2))
	})
	must(t, err)
	must(t, s.DeleteRun(ctx, r.ID))
	_, err = s.ReadItems(ctx, r.DefaultDatasetID, troupe.ItemWindow{}, func(troupe.ItemPage, []byte) error { return nil })
	wantType(t, err, troupe.ErrRecordNotFound)
}

func testSplitItems(t *testing.T, s troupe.Store) {
	for body, want := range map[string]string{
		`{"a":1}`:                       `{"a":1}`,
		"  \n{\"a\" : [1,2]}\n":         `{"a" : [1,2]}`,
		`[]`:                            ``,
		` [ ] `:                         ``,
		`[{"a":1},{"b":"]"}]`:           `{"a":1}|{"b":"]"}`,
		"[ {\"a\":1} ,\n {\"b\":2} ]\n": `{"a":1}|{"b":2}`,
		`[1,"x",null]`:                  `1|"x"|null`,
	} {
		got, err := troupe.SplitItems([]byte(body))
		must(t, err)
		var parts []string
		for _, it := range got {
			parts = append(parts, string(it))
		}
		if strings.Join(parts, "|") != want {
			t.Errorf("SplitItems(%q) = %q, want %q", body, strings.Join(parts, "|"), want)
		}
	}
	for _, body := range []string{``, `  `, `[`, `[{"a":1}`, `[{"a":1},]`, `[{"a":1} {"b":2}]`, `{"a":1} x`, `[{"a":1}] []`, `{"a":"`, `[,]`} {
		_, err := troupe.SplitItems([]byte(body))
		wantType(t, err, troupe.ErrInvalidInput)
	}
}

func kvsWithKeys(t *testing.T, s troupe.Store, keys ...string) *troupe.Storage {
	t.Helper()
	st, _, err := s.CreateStorage(t.Context(), &troupe.Storage{Kind: troupe.KindKeyValueStore})
	must(t, err)
	for _, k := range keys {
		must(t, s.PutRecord(t.Context(), st.ID, &troupe.Record{Key: k, Value: []byte("value of " + k)}))
	}
	return st
}

func kvsKeyNames(p *troupe.KeyPage) string {
	var out []string
	for _, k := range p.Keys {
		out = append(out, k.Key)
	}
	return strings.Join(out, " ")
}

func testKeysOrderAndPages(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	// Pushed out of order; listed in byte order: ! ' ( ) - . 0-9 A-Z _ a-z.
	st := kvsWithKeys(t, s, "b", "a", "B", "A", "_x", "a.b", "a-b", "a(1)", "0", "Z", "!bang", "'q", "ab", "aa", "a")
	must(t, s.PutRecord(ctx, st.ID, &troupe.Record{Key: "bin", Value: make([]byte, 70000)}))
	must(t, s.PutRecord(ctx, st.ID, &troupe.Record{Key: "empty", Value: nil}))
	all := "!bang 'q 0 A B Z _x a a(1) a-b a.b aa ab b bin empty"

	p, err := s.ListKeys(ctx, st.ID, "", "", 0)
	must(t, err)
	if kvsKeyNames(p) != all || p.IsTruncated || p.NextExclusiveStartKey != "" {
		t.Fatalf("all keys: %q (truncated %v, next %q)\nwant %q", kvsKeyNames(p), p.IsTruncated, p.NextExclusiveStartKey, all)
	}
	for _, k := range p.Keys {
		want := len("value of " + k.Key)
		switch k.Key {
		case "bin":
			want = 70000
		case "empty":
			want = 0
		}
		if k.Size != want {
			t.Errorf("size of %s = %d, want %d", k.Key, k.Size, want)
		}
	}

	// Pages of 4, each starting after the last key of the one before.
	var pages []string
	start := ""
	for {
		p, err := s.ListKeys(ctx, st.ID, start, "", 4)
		must(t, err)
		pages = append(pages, kvsKeyNames(p))
		if !p.IsTruncated {
			if p.NextExclusiveStartKey != "" {
				t.Fatalf("last page has next key %q", p.NextExclusiveStartKey)
			}
			break
		}
		if p.NextExclusiveStartKey != p.Keys[len(p.Keys)-1].Key {
			t.Fatalf("next key %q, last key %q", p.NextExclusiveStartKey, p.Keys[len(p.Keys)-1].Key)
		}
		start = p.NextExclusiveStartKey
	}
	if strings.Join(pages, " | ") != "!bang 'q 0 A | B Z _x a | a(1) a-b a.b aa | ab b bin empty" {
		t.Fatalf("pages: %q", strings.Join(pages, " | "))
	}
	// Exactly limit keys left: not truncated.
	p, err = s.ListKeys(ctx, st.ID, "ab", "", 4)
	must(t, err)
	if kvsKeyNames(p) != "b bin empty" || p.IsTruncated {
		t.Fatalf("after ab: %q truncated %v", kvsKeyNames(p), p.IsTruncated)
	}
	// A start key that is not itself a key, and one past the end.
	p, err = s.ListKeys(ctx, st.ID, "a0", "", 2)
	must(t, err)
	if kvsKeyNames(p) != "aa ab" || !p.IsTruncated || p.NextExclusiveStartKey != "ab" {
		t.Fatalf("after a0: %q truncated %v next %q", kvsKeyNames(p), p.IsTruncated, p.NextExclusiveStartKey)
	}
	p, err = s.ListKeys(ctx, st.ID, "zzz", "", 10)
	must(t, err)
	if len(p.Keys) != 0 || p.IsTruncated || p.Keys == nil {
		t.Fatalf("after the last key: %+v", p)
	}
	// Limits above the maximum mean the maximum.
	p, err = s.ListKeys(ctx, st.ID, "", "", 5000)
	must(t, err)
	if len(p.Keys) != 16 {
		t.Fatalf("limit 5000: %d keys", len(p.Keys))
	}
	// An empty store.
	p, err = s.ListKeys(ctx, kvsWithKeys(t, s).ID, "", "", 10)
	must(t, err)
	if len(p.Keys) != 0 || p.IsTruncated {
		t.Fatalf("empty store: %+v", p)
	}
}

func testKeysPrefix(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	st := kvsWithKeys(t, s, "img-1", "img-2", "img-10", "img", "im", "imh", "IMG-3", "page-1", "img-3.png")
	for _, c := range []struct {
		start, prefix string
		limit         int
		want          string
		truncated     bool
	}{
		{"", "img", 0, "img img-1 img-10 img-2 img-3.png", false},
		{"", "img-", 2, "img-1 img-10", true},
		{"img-10", "img-", 2, "img-2 img-3.png", false},
		{"", "IMG", 0, "IMG-3", false},
		{"", "im", 0, "im img img-1 img-10 img-2 img-3.png imh", false},
		{"", "page-1", 0, "page-1", false},
		{"", "nope", 0, "", false},
		{"", "é", 0, "", false},
		{"a", "img-1", 0, "img-1 img-10", false},
		{"img-2", "img-1", 0, "", false},
	} {
		p, err := s.ListKeys(ctx, st.ID, c.start, c.prefix, c.limit)
		must(t, err)
		if kvsKeyNames(p) != c.want || p.IsTruncated != c.truncated {
			t.Errorf("ListKeys(start %q, prefix %q, limit %d) = %q truncated %v; want %q %v",
				c.start, c.prefix, c.limit, kvsKeyNames(p), p.IsTruncated, c.want, c.truncated)
		}
	}
}

func testKeysNoStore(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	_, err := s.ListKeys(ctx, "missing", "", "", 10)
	wantType(t, err, troupe.ErrRecordNotFound)
	ds := dsNew(t, s)
	_, err = s.ListKeys(ctx, ds.ID, "", "", 10)
	wantType(t, err, troupe.ErrRecordNotFound)
}
