package main

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/troupehq/troupe/client"
)

func TestDatasetsItems(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.data("GET /v2/datasets/D1", 200, &client.Storage{ID: "D1"})
	f.handle("GET /v2/datasets/{id}/items", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		io.WriteString(w, "a,b\n1,2\n")
	})
	f.handle("GET /v2/datasets/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, 404, "record-not-found", "Dataset was not found.")
	})

	out, _, err := f.run("datasets", "items", "D1", "--format", "CSV", "--limit", "5", "--offset", "2", "--desc",
		"--clean", "--fields", "a,b", "--omit", "c")
	if err != nil {
		t.Fatal(err)
	}
	if out != "a,b\n1,2\n" {
		t.Errorf("output = %q", out)
	}
	q := f.one("GET", "/v2/datasets/D1/items").Query
	for k, v := range map[string]string{"format": "csv", "limit": "5", "offset": "2", "desc": "1", "clean": "1",
		"fields": "a,b", "omit": "c", "bom": "0"} {
		if q.Get(k) != v {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), v)
		}
	}
	// A bare word that is no dataset's id is a name; --bom asks for the mark.
	if _, _, err := f.run("datasets", "items", "results", "--bom"); err != nil {
		t.Fatal(err)
	}
	q = f.one("GET", "/v2/datasets/~results/items").Query
	if q.Get("format") != "json" || q.Get("bom") != "1" {
		t.Errorf("by name: query %v", q)
	}
	if _, _, err := f.run("datasets", "items", "alice/results"); err != nil {
		t.Fatal(err)
	}
	f.one("GET", "/v2/datasets/alice~results/items")

	n := f.count()
	for _, args := range [][]string{
		{"datasets", "items"},
		{"datasets", "items", "D1", "--format", "xlsx"},
		{"datasets", "items", "D1", "--limit", "-1"},
	} {
		if _, _, err := f.run(args...); err == nil {
			t.Errorf("troupe %s succeeded", strings.Join(args, " "))
		}
	}
	if f.count() != n {
		t.Error("invalid commands sent requests")
	}
}

func TestKVCommands(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.data("GET /v2/key-value-stores/S1", 200, &client.Storage{ID: "S1"})
	f.handle("GET /v2/key-value-stores/S1/records/{key}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("key") == "missing" {
			writeError(w, 404, "record-not-found", "Record was not found.")
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte{0x89, 'P', 'N', 'G', 0})
	})
	f.handle("PUT /v2/key-value-stores/S1/records/{key}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		io.WriteString(w, "{}")
	})
	f.handle("DELETE /v2/key-value-stores/S1/records/{key}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(204)
	})
	f.handle("GET /v2/key-value-stores/S1/keys", func(w http.ResponseWriter, r *http.Request) {
		start := r.URL.Query().Get("exclusiveStartKey")
		l := client.KeyList{Items: []client.KeyInfo{{Key: "INPUT", Size: 12}, {Key: "OUTPUT", Size: 3}}, Limit: 1000, IsTruncated: true}
		next := "OUTPUT"
		l.NextExclusiveStartKey = &next
		if start == "OUTPUT" {
			l = client.KeyList{Items: []client.KeyInfo{{Key: "screenshot.png", Size: 70000}}, Limit: 1000}
		}
		l.Count = len(l.Items)
		writeData(w, 200, l)
	})

	out, _, err := f.run("kv", "get", "S1", "shot")
	if err != nil || out != "\x89PNG\x00" {
		t.Errorf("kv get = %q, %v", out, err)
	}
	if _, _, err := f.run("kv", "get", "S1", "missing"); err == nil || !strings.Contains(err.Error(), `no record "missing"`) {
		t.Errorf("kv get of a missing record: %v", err)
	}

	file := t.TempDir() + "/page.html"
	if err := os.WriteFile(file, []byte("<p>hi</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args        []string
		body, ctype string
	}{
		{[]string{"--value", `{"a":1}`}, `{"a":1}`, "application/json; charset=utf-8"},
		{[]string{"--value", "plain words"}, "plain words", "text/plain; charset=utf-8"},
		{[]string{"--value", "x", "--content-type", "text/x-custom"}, "x", "text/x-custom"},
		{[]string{"--file", file}, "<p>hi</p>", "text/html; charset=utf-8"},
	} {
		key := "k" + strings.ReplaceAll(c.ctype[:4], "/", "")
		if _, _, err := f.run(append([]string{"kv", "set", "S1", key}, c.args...)...); err != nil {
			t.Fatal(err)
		}
		got := f.requests("PUT", "/v2/key-value-stores/S1/records/"+key)
		last := got[len(got)-1]
		if last.Body != c.body || last.ContentType != c.ctype {
			t.Errorf("kv set %v: body %q, type %q; want %q, %q", c.args, last.Body, last.ContentType, c.body, c.ctype)
		}
	}
	if _, _, err := f.run("kv", "set", "S1", "both", "--value", "x", "--file", file); err == nil {
		t.Error("kv set with --value and --file succeeded")
	}

	out, _, err = f.run("kv", "keys", "S1")
	if err != nil {
		t.Fatal(err)
	}
	want := "KEY             SIZE\nINPUT           12\nOUTPUT          3\nscreenshot.png  70000\n"
	if out != want {
		t.Errorf("kv keys =\n%s\nwant\n%s", out, want)
	}
	out, _, err = f.run("kv", "keys", "S1", "-o", "json", "--limit", "1", "--prefix", "IN")
	if err != nil || !strings.Contains(out, `"key": "INPUT"`) || strings.Contains(out, "OUTPUT") {
		t.Errorf("kv keys -o json --limit 1 = %q, %v", out, err)
	}
	keysReqs := f.requests("GET", "/v2/key-value-stores/S1/keys")
	if q := keysReqs[len(keysReqs)-1].Query; q.Get("prefix") != "IN" || q.Get("limit") != "1" {
		t.Errorf("kv keys query = %v", q)
	}

	if _, _, err := f.run("kv", "delete", "S1", "OUTPUT"); err != nil {
		t.Fatal(err)
	}
	f.one("DELETE", "/v2/key-value-stores/S1/records/OUTPUT")
}
