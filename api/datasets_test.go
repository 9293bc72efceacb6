package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/api"
	"github.com/troupehq/troupe/client"
)

// newDatasetAPI creates a named dataset through the API and returns the
// base path of its items.
func (b *bundle) newDatasetAPI(name string) (*troupe.Storage, string) {
	b.t.Helper()
	var st troupe.Storage
	b.call("POST", "/v2/datasets?name="+name, nil).ok(b.t, http.StatusCreated, &st)
	return &st, "/v2/datasets/" + st.ID + "/items"
}

// push POSTs a JSON body to an items path and expects 201 {}.
func (b *bundle) push(path, body string, kv ...string) {
	b.t.Helper()
	r := b.call("POST", path, []byte(body), append([]string{"Content-Type", "application/json; charset=utf-8"}, kv...)...)
	if r.status != http.StatusCreated || string(bytes.TrimSpace(r.body)) != "{}" {
		b.t.Fatalf("push = %d %q", r.status, r.body)
	}
}

// pagination returns the five X-Apify-Pagination-* headers as
// "offset limit count total desc".
func pagination(r response) string {
	var out []string
	for _, h := range []string{"Offset", "Limit", "Count", "Total", "Desc"} {
		v := r.header.Values("X-Apify-Pagination-" + h)
		if len(v) != 1 {
			return fmt.Sprintf("%d values of X-Apify-Pagination-%s", len(v), h)
		}
		out = append(out, v[0])
	}
	return strings.Join(out, " ")
}

// compactJSON re-encodes a JSON body compactly for comparisons.
func compactJSON(t *testing.T, body []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		t.Fatalf("body is not JSON: %v: %q", err, body)
	}
	return buf.String()
}

func (b *bundle) itemCount(id string) (int64, int64) {
	b.t.Helper()
	var st troupe.Storage
	b.call("GET", "/v2/datasets/"+id, nil).ok(b.t, http.StatusOK, &st)
	if st.ItemCount == nil || st.CleanItemCount == nil {
		b.t.Fatalf("dataset without item counts: %+v", st)
	}
	return *st.ItemCount, *st.CleanItemCount
}

func TestDatasetPushAndRead(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	st, items := b.newDatasetAPI("push-read")

	// One object, then an array; the answer is 201 {} with a Location.
	r := b.call("POST", items, []byte(`{"n":0,"html":"<b>&</b>"}`), "Content-Type", "application/json")
	if r.status != http.StatusCreated || r.header.Get("Location") == "" {
		t.Fatalf("push one = %d %q, Location %q", r.status, r.body, r.header.Get("Location"))
	}
	b.push(items, `[{"n":1},{"n":2,"#hidden":true},{},{"#only":"hidden"}]`)
	b.push(items, `[]`)
	b.push(items, "  [\n  {\"n\" : 5} ]\n")

	r = b.call("GET", items, nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("GET items = %d %q", r.status, r.header.Get("Content-Type"))
	}
	want := `[{"n":0,"html":"<b>&</b>"},{"n":1},{"n":2,"#hidden":true},{},{"#only":"hidden"},{"n":5}]`
	if got := compactJSON(t, r.body); got != want {
		t.Fatalf("items = %s\nwant %s", got, want)
	}
	if got := pagination(r); got != "0 999999999999 6 6 false" {
		t.Errorf("pagination headers = %q", got)
	}
	if n, c := b.itemCount(st.ID); n != 6 || c != 4 {
		t.Errorf("itemCount, cleanItemCount = %d, %d; want 6, 4", n, c)
	}

	for _, c := range []struct {
		query, want, headers string
	}{
		{"?limit=2", `[{"n":0,"html":"<b>&</b>"},{"n":1}]`, "0 2 2 6 false"},
		{"?offset=4&limit=10", `[{"#only":"hidden"},{"n":5}]`, "4 10 2 6 false"},
		{"?desc=1&offset=1&limit=2", `[{"#only":"hidden"},{}]`, "1 2 2 6 true"},
		{"?desc=true&offset=5", `[{"n":0,"html":"<b>&</b>"}]`, "5 999999999999 1 6 true"},
		{"?offset=6", `[]`, "6 999999999999 0 6 false"},
		{"?offset=100&desc=1", `[]`, "100 999999999999 0 6 true"},
		{"?limit=0", want, "0 999999999999 6 6 false"},
		// Filters drop items from the body; Count still counts the window.
		{"?clean=1", `[{"n":0,"html":"<b>&</b>"},{"n":1},{"n":2},{"n":5}]`, "0 999999999999 6 6 false"},
		{"?skipHidden=1", `[{"n":0,"html":"<b>&</b>"},{"n":1},{"n":2},{},{},{"n":5}]`, "0 999999999999 6 6 false"},
		{"?skipEmpty=true&limit=4", `[{"n":0,"html":"<b>&</b>"},{"n":1},{"n":2,"#hidden":true}]`, "0 4 4 6 false"},
		{"?clean=1&desc=1&limit=3", `[{"n":5}]`, "0 3 3 6 true"},
		{"?fields=html,n&limit=2", `[{"html":"<b>&</b>","n":0},{"n":1}]`, "0 2 2 6 false"},
		{"?omit=html,%23hidden&limit=3", `[{"n":0},{"n":1},{"n":2}]`, "0 3 3 6 false"},
	} {
		r := b.call("GET", items+c.query, nil)
		if r.status != http.StatusOK {
			t.Errorf("GET %s = %d %s", c.query, r.status, r.body)
			continue
		}
		if got := compactJSON(t, r.body); got != c.want {
			t.Errorf("GET %s = %s\nwant %s", c.query, got, c.want)
		}
		if got := pagination(r); got != c.headers {
			t.Errorf("GET %s: pagination %q, want %q", c.query, got, c.headers)
		}
	}

	// HEAD: the headers without a body.
	r = b.call("HEAD", items+"?offset=2&limit=3", nil)
	if r.status != http.StatusOK || len(r.body) != 0 || pagination(r) != "2 3 3 6 false" {
		t.Errorf("HEAD = %d %q %q", r.status, r.body, pagination(r))
	}

	// By name, and the statistics.
	r = b.call("GET", "/v2/datasets/~push-read/items?format=jsonl&limit=2", nil)
	if string(r.body) != "{\"n\":0,\"html\":\"<b>&</b>\"}\n{\"n\":1}\n" || r.header.Get("Content-Type") != "application/jsonl; charset=utf-8" {
		t.Errorf("jsonl by name = %q %q", r.body, r.header.Get("Content-Type"))
	}
	var stats map[string]any
	b.call("GET", "/v2/datasets/"+st.ID+"/statistics", nil).ok(t, http.StatusOK, &stats)
	if _, ok := stats["fieldStatistics"]; !ok {
		t.Errorf("statistics = %v", stats)
	}
}

func TestDatasetPushRejects(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	st, items := b.newDatasetAPI("rejects")
	b.push(items, `{"first":true}`)

	for _, body := range []string{
		`[{"a":1},{"b":]`,
		`[{"a":1},{"b":2},]`,
		`[{"a":1}, 42]`,
		`[{"a":1}, [{"b":2}]]`,
		`"just a string"`,
		`null`,
		`{"a":1} {"b":2}`,
		``,
		"\xff\xfe",
	} {
		r := b.call("POST", items, []byte(body), "Content-Type", "application/json")
		r.fails(t, http.StatusBadRequest, "invalid-input")
	}
	// 9 MB + 1 byte, decoded: refused and nothing written; 9 MB exactly is
	// fine.
	sized := func(n int) []byte {
		head, tail := `[{"pad":"`, `"}]`
		return []byte(head + strings.Repeat("p", n-len(head)-len(tail)) + tail)
	}
	b.call("POST", items, sized(api.MaxBodyBytes+1), "Content-Type", "application/json").fails(t, http.StatusRequestEntityTooLarge, "request-too-large")
	gz := compress(t, "gzip", sized(api.MaxBodyBytes+1))
	b.call("POST", items, gz, "Content-Type", "application/json", "Content-Encoding", "gzip").fails(t, http.StatusRequestEntityTooLarge, "request-too-large")
	if n, _ := b.itemCount(st.ID); n != 1 {
		t.Fatalf("itemCount after refused pushes = %d, want 1", n)
	}
	b.push(items, string(sized(api.MaxBodyBytes)))
	if n, _ := b.itemCount(st.ID); n != 2 {
		t.Fatalf("itemCount after a 9 MB push = %d, want 2", n)
	}
	r := b.call("GET", items+"?offset=1", nil)
	if len(r.body) < api.MaxBodyBytes-10 {
		t.Errorf("the 9 MB item read back as %d bytes", len(r.body))
	}

	b.call("POST", items, []byte(`{}`), "Content-Encoding", "zstd").fails(t, http.StatusUnsupportedMediaType, "unsupported-content-encoding")
	b.call("POST", "/v2/datasets/missing/items", []byte(`{}`)).fails(t, http.StatusNotFound, "record-not-found")
	b.call("GET", "/v2/datasets/missing/items", nil).fails(t, http.StatusNotFound, "record-not-found")
	b.call("HEAD", "/v2/datasets/missing/items", nil)
	for _, q := range []string{"format=xlsx", "format=rss", "limit=-1", "offset=x", "desc=maybe", "delimiter=ab", "clean=2"} {
		b.call("GET", items+"?"+q, nil).fails(t, http.StatusBadRequest, "invalid-parameter")
	}
}

func TestDatasetPushCompressed(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	st, items := b.newDatasetAPI("compressed")
	var all []string
	for _, enc := range []string{"gzip", "br", "deflate", "raw-deflate"} {
		var batch []string
		for i := range 200 {
			batch = append(batch, fmt.Sprintf(`{"enc":%q,"i":%d,"text":"%s"}`, enc, i, strings.Repeat("compressible ", 10)))
		}
		all = append(all, batch...)
		body := compress(t, enc, []byte("["+strings.Join(batch, ",")+"]"))
		header := enc
		if enc == "raw-deflate" {
			header = "deflate"
		}
		b.push(items, string(body), "Content-Encoding", header)
	}
	r := b.call("GET", items, nil)
	if got, want := compactJSON(t, r.body), "["+strings.Join(all, ",")+"]"; got != want {
		t.Fatalf("compressed pushes read back differently (%d vs %d bytes)", len(got), len(want))
	}
	if n, _ := b.itemCount(st.ID); n != 800 {
		t.Fatalf("itemCount = %d, want 800", n)
	}
	b.call("POST", items, []byte("not gzip"), "Content-Encoding", "gzip").fails(t, http.StatusBadRequest, "invalid-request")
}

func TestDatasetUnicode(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	_, items := b.newDatasetAPI("unicode")
	body := `[{"název":"Žluťoučký kůň","emoji":"🎭","cjk":"東京","esc":"\u00e9\n"},{"#skryté":1,"ключ":"значение"}]`
	b.push(items, body)
	r := b.call("GET", items, nil)
	if got := compactJSON(t, r.body); got != body {
		t.Fatalf("unicode items = %s\nwant %s", got, body)
	}
	r = b.call("GET", items+"?fields=ключ,název&skipEmpty=1", nil)
	if got := compactJSON(t, r.body); got != `[{"název":"Žluťoučký kůň"},{"ключ":"значение"}]` {
		t.Fatalf("unicode fields = %s", got)
	}
	r = b.call("GET", items+"?format=csv&bom=0", nil)
	if string(r.body) != "název,emoji,cjk,esc,#skryté,ключ\nŽluťoučký kůň,🎭,東京,\"é\n\",,\n,,,,1,значение\n" {
		t.Fatalf("unicode csv = %q", r.body)
	}
}

func TestDatasetReshape(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	_, items := b.newDatasetAPI("reshape")
	b.push(items, `[
		{"id":1,"tags":["a","b"],"offers":[{"price":1,"id":"o1"},{"price":2}],"meta":{"x":{"y":1},"z":[1]}},
		{"id":2,"tags":[],"offers":{"price":3},"meta":null},
		{"id":3,"tags":"none"}
	]`)
	for _, c := range []struct{ query, want string }{
		{"?unwind=tags&fields=id,tags",
			`[{"id":1,"tags":"a"},{"id":1,"tags":"b"},{"id":3,"tags":"none"}]`},
		{"?unwind=offers&fields=id,price",
			`[{"id":"o1","price":1},{"id":1,"price":2},{"id":2,"price":3},{"id":3}]`},
		{"?unwind=tags,offers&fields=id,tags,price&limit=1",
			`[{"id":"o1","tags":"a","price":1},{"id":1,"tags":"a","price":2},{"id":"o1","tags":"b","price":1},{"id":1,"tags":"b","price":2}]`},
		{"?flatten=meta&omit=tags,offers",
			`[{"id":1,"meta.x.y":1,"meta.z":[1]},{"id":2,"meta":null},{"id":3}]`},
		{"?flatten=meta&fields=meta.x.y&skipEmpty=1", `[{"meta.x.y":1}]`},
		// Unwound items keep their array order when desc reverses the items.
		{"?unwind=tags&fields=tags&desc=1", `[{"tags":"none"},{"tags":"a"},{"tags":"b"}]`},
		{"?simplified=1", `[{},{},{}]`},
	} {
		r := b.call("GET", items+c.query, nil)
		if r.status != http.StatusOK {
			t.Errorf("GET %s = %d %s", c.query, r.status, r.body)
			continue
		}
		if got := compactJSON(t, r.body); got != c.want {
			t.Errorf("GET %s = %s\nwant %s", c.query, got, c.want)
		}
		if got := r.header.Get("X-Apify-Pagination-Count"); c.query == "?unwind=tags,offers&fields=id,tags,price&limit=1" && got != "1" {
			t.Errorf("count of an unwound page = %s, want 1 (stored items)", got)
		}
	}
}

func TestDatasetFormats(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	st, items := b.newDatasetAPI("formats")
	b.push(items, `[
		{"url":"https://a","title":"Quote \" and, comma","n":1.50,"ok":true},
		{"url":"https://b","nested":{"k":"v","arr":[1,{"deep":null}]},"#hid":"h"},
		{"title":"Line\nbreak","n":null}
	]`)
	get := func(query string) response {
		t.Helper()
		r := b.call("GET", items+query, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", query, r.status, r.body)
		}
		return r
	}

	r := get("?format=csv")
	wantCSV := "url,title,n,ok,nested/k,nested/arr/0,nested/arr/1/deep,#hid\n" +
		"https://a,\"Quote \"\" and, comma\",1.50,true,,,,\n" +
		"https://b,,,,v,1,,h\n" +
		",\"Line\nbreak\",,,,,,\n"
	if string(r.body) != "\ufeff"+wantCSV || r.header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Errorf("csv = %q (%s)\nwant BOM + %q", r.body, r.header.Get("Content-Type"), wantCSV)
	}
	if got := pagination(r); got != "0 999999999999 3 3 false" {
		t.Errorf("csv pagination = %q", got)
	}
	r = get("?format=csv&bom=0&clean=1&delimiter=%3B&skipHeaderRow=1&fields=url,n&desc=1")
	if string(r.body) != ";\nhttps://b;\nhttps://a;1.50\n" {
		t.Errorf("csv with options = %q", r.body)
	}
	r = get("?format=csv&offset=5")
	if string(r.body) != "\ufeff" {
		t.Errorf("empty csv = %q", r.body)
	}

	r = get("?format=html&limit=2&fields=url,title")
	wantHTML := "<table>\n<tr><th>url</th><th>title</th></tr>\n" +
		"<tr><td>https://a</td><td>Quote &#34; and, comma</td></tr>\n" +
		"<tr><td>https://b</td><td></td></tr>\n</table>\n"
	if string(r.body) != wantHTML || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("html = %q\nwant %q", r.body, wantHTML)
	}

	r = get("?format=xml&skipHidden=1")
	wantXML := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<items>\n" +
		"<item><url>https://a</url><title>Quote &quot; and, comma</title><n>1.50</n><ok>true</ok></item>\n" +
		"<item><url>https://b</url><nested><k>v</k><arr>1</arr><arr><deep/></arr></nested></item>\n" +
		"<item><title>Line\nbreak</title><n/></item>\n</items>\n"
	if string(r.body) != wantXML || r.header.Get("Content-Type") != "application/xml; charset=utf-8" {
		t.Errorf("xml = %q\nwant %q", r.body, wantXML)
	}

	// The documented XML extension: "@" attributes, "#" text, arrays as
	// repeated elements; odd names made safe; xmlRoot and xmlRow.
	_, other := b.newDatasetAPI("xml-ext")
	b.push(other, `{"name":"Paul","address":[{"@":{"type":"home"},"street":"21st"},{"@":{"type":"office"},"#":"unknown"}],"1st key":"<&>"}`)
	r = b.call("GET", other+"?format=xml&xmlRoot=people&xmlRow=person", nil)
	wantExt := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<people>\n" +
		"<person><name>Paul</name><address type=\"home\"><street>21st</street></address>" +
		"<address type=\"office\">unknown</address><_1st_key>&lt;&amp;&gt;</_1st_key></person>\n</people>\n"
	if string(r.body) != wantExt {
		t.Errorf("xml extension = %q\nwant %q", r.body, wantExt)
	}

	r = get("?format=json&attachment=1&limit=1")
	if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="dataset_`+st.ID+`.json"` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	r = get("?format=jsonl&bom=1&limit=1&fields=url")
	if string(r.body) != "\ufeff{\"url\":\"https://a\"}\n" {
		t.Errorf("jsonl with bom = %q", r.body)
	}
}

func TestDatasetColumnLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	_, items := b.newDatasetAPI("wide")
	var fields []string
	for i := range 2001 {
		fields = append(fields, fmt.Sprintf(`"c%d":%d`, i, i))
	}
	b.push(items, "{"+strings.Join(fields, ",")+"}")
	b.call("GET", items+"?format=csv", nil).fails(t, http.StatusBadRequest, "invalid-request")
	if r := b.call("GET", items+"?format=csv&omit=c0", nil); r.status != http.StatusOK || !strings.HasPrefix(string(r.body), "\ufeffc1,c2,") {
		t.Errorf("2000 columns = %d %.40q", r.status, r.body)
	}
}

func TestDatasetRunShortcuts(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("ds-runs", "")
	run := b.start(a.ID, "", nil, "")
	b.push("/v2/actor-runs/"+run.ID+"/dataset/items", `[{"from":"run"},{"from":"run","n":2}]`)
	b.push("/v2/actors/"+a.ID+"/runs/last/dataset/items", `{"from":"last"}`)

	r := b.call("GET", "/v2/acts/~ds-runs/runs/last/dataset/items?desc=1&limit=2", nil)
	if got := compactJSON(t, r.body); got != `[{"from":"last"},{"from":"run","n":2}]` || pagination(r) != "0 2 2 3 true" {
		t.Errorf("last run's items = %s (%s)", got, pagination(r))
	}
	r = b.call("GET", "/v2/datasets/"+run.DefaultDatasetID+"/items?format=csv&bom=0", nil)
	if string(r.body) != "from,n\nrun,\nrun,2\nlast,\n" {
		t.Errorf("run's dataset by id = %q", r.body)
	}
	var ds troupe.Storage
	b.call("GET", "/v2/actor-runs/"+run.ID+"/dataset", nil).ok(t, http.StatusOK, &ds)
	if ds.ID != run.DefaultDatasetID || ds.ItemCount == nil || *ds.ItemCount != 3 || *ds.CleanItemCount != 3 {
		t.Errorf("run's dataset = %+v", ds)
	}
	r = b.call("HEAD", "/v2/actor-runs/"+run.ID+"/dataset/items", nil)
	if pagination(r) != "0 999999999999 3 3 false" {
		t.Errorf("HEAD on the run's items: %q", pagination(r))
	}
	b.call("GET", "/v2/actor-runs/"+run.ID+"/dataset/statistics", nil).ok(t, http.StatusOK, nil)
	b.call("GET", "/v2/actor-runs/nope/dataset/items", nil).fails(t, http.StatusNotFound, "record-not-found")
}

func TestRunSyncGetDatasetItems(t *testing.T) {
	t.Parallel()
	b := setup(t, true, func(c *api.Config) { c.SyncWait = 500 * time.Millisecond })
	// The "actor" pushes its input's items to its dataset and succeeds; with
	// input "fail" it fails, with "hang" it keeps running.
	b.ctrl.onStart = func(id string) {
		ctx := context.Background()
		run, err := b.store.GetRun(ctx, id)
		if err != nil {
			return
		}
		in, _ := b.store.GetRecord(ctx, run.DefaultKeyValueStoreID, "INPUT")
		exit := 0
		switch {
		case in != nil && string(in.Value) == "hang":
			return
		case in != nil && string(in.Value) == "fail":
			exit = 1
		case in != nil:
			items, _ := troupe.SplitItems(in.Value)
			_ = b.store.PushItems(ctx, run.DefaultDatasetID, items)
		}
		_, _ = b.store.UpdateRun(ctx, id, func(r *troupe.Run, _ troupe.StorageTx) error { return r.Finish(exit, troupe.Now()) })
	}
	a := b.actor("sync-items", "")
	path := "/v2/actors/" + a.ID + "/run-sync-get-dataset-items"

	r := b.call("POST", path+"?format=csv&bom=0&fields=b", []byte(`[{"a":1,"b":"x"},{"b":"y"}]`), "Content-Type", "application/json")
	if r.status != http.StatusCreated || string(r.body) != "b\nx\ny\n" || pagination(r) != "0 999999999999 2 2 false" {
		t.Errorf("run-sync-get-dataset-items = %d %q %q", r.status, r.body, pagination(r))
	}
	r = b.call("GET", "/v2/acts/~sync-items/run-sync-get-dataset-items?limit=5", nil)
	if r.status != http.StatusCreated || compactJSON(t, r.body) != "[]" {
		t.Errorf("GET without input = %d %q", r.status, r.body)
	}
	b.call("POST", path, []byte("hang"), "Content-Type", "text/plain").fails(t, http.StatusRequestTimeout, "run-timeout-exceeded")
	b.call("POST", path, []byte("fail"), "Content-Type", "text/plain").fails(t, http.StatusBadRequest, "run-failed")
	// Bad items parameters are refused before a run starts.
	runs := func() int {
		_, total, err := b.store.ListRuns(context.Background(), troupe.RunFilter{ActorID: a.ID})
		if err != nil {
			t.Fatal(err)
		}
		return total
	}
	before := runs()
	b.call("POST", path+"?format=xlsx", []byte(`{}`)).fails(t, http.StatusBadRequest, "invalid-parameter")
	if runs() != before {
		t.Error("a refused run-sync-get-dataset-items started a run")
	}
}

// TestGoClientStorages drives datasets and key listings through the Go
// client against the real server and store.
func TestGoClientStorages(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ctx := t.Context()
	c := client.New(client.WithBaseURL(b.srv.URL), client.WithToken(adminToken), client.WithMaxRetries(0))
	st, _ := b.newDatasetAPI("go-client")
	ds := c.Dataset(username + "/go-client")

	var batch []map[string]any
	for i := range 2500 {
		item := map[string]any{"i": i, "text": "ünïcödé " + strings.Repeat("x", 50)}
		if i%5 == 0 {
			item = map[string]any{"#debug": i}
		}
		batch = append(batch, item)
	}
	if err := ds.PushItems(ctx, batch); err != nil { // gzip-compressed
		t.Fatal(err)
	}
	got, err := ds.Get(ctx)
	if err != nil || got.ID != st.ID || *got.ItemCount != 2500 || *got.CleanItemCount != 2000 {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	n, last := 0, -1
	for it, err := range ds.Items(ctx, &client.ItemListOptions{Clean: true}) {
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ I int }
		if err := json.Unmarshal(it, &v); err != nil || v.I <= last || v.I%5 == 0 {
			t.Fatalf("item %s after %d", it, last)
		}
		last, n = v.I, n+1
	}
	if n != 2000 {
		t.Fatalf("clean items iterated: %d, want 2000", n)
	}
	p, err := ds.ListItems(ctx, &client.ItemListOptions{Offset: 10, Limit: 3, Desc: true, Fields: []string{"i"}})
	if err != nil || p.Total != 2500 || p.Count != 3 || !p.Desc || len(p.Items) != 3 || string(p.Items[0]) != `{"i":2489}` {
		t.Fatalf("ListItems = %+v, %v", p, err)
	}
	body, err := ds.DownloadItems(ctx, "csv", &client.DownloadOptions{ItemListOptions: client.ItemListOptions{Limit: 2, Fields: []string{"i", "#debug"}}})
	if err != nil {
		t.Fatal(err)
	}
	csvText, _ := io.ReadAll(body)
	body.Close()
	if string(csvText) != "\ufeffi,#debug\n,0\n1,\n" {
		t.Fatalf("csv download = %q", csvText)
	}
	if err := ds.PushItems(ctx, []byte(`[{"ok":1},"bad"]`)); !strings.Contains(fmt.Sprint(err), "invalid-input") {
		t.Fatalf("push of a bad batch: %v", err)
	}

	var kvs troupe.Storage
	b.call("POST", "/v2/key-value-stores?name=go-keys", nil).ok(t, http.StatusCreated, &kvs)
	for i := range 1100 {
		if err := b.store.PutRecord(ctx, kvs.ID, &troupe.Record{Key: fmt.Sprintf("key-%04d", i), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	kv := c.KeyValueStore(kvs.ID)
	var keys []string
	for k, err := range kv.Keys(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.Key)
	}
	if len(keys) != 1100 || keys[0] != "key-0000" || keys[1099] != "key-1099" {
		t.Fatalf("keys iterated: %d", len(keys))
	}
	l, err := kv.ListKeys(ctx, &client.KeyListOptions{Prefix: "key-10", Limit: 50})
	if err != nil || l.Count != 50 || !l.IsTruncated || *l.NextExclusiveStartKey != "key-1049" || l.Items[0].Size != 1 {
		t.Fatalf("ListKeys = %+v, %v", l, err)
	}
}
