package client_test

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/troupehq/troupe/client"
)

func TestActorClient(t *testing.T) {
	t.Parallel()

	t.Run("GetNilOnNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, 404, "record-not-found", "Actor was not found.")
		})
		got, err := b.c.Actor("~hello").Get(context.Background())
		if got != nil || err != nil {
			t.Errorf("got %v, %v; want nil, nil", got, err)
		}
		if req := b.last(t); req.Path != "/v2/actors/~hello" {
			t.Errorf("got %s", req.Path)
		}
	})

	t.Run("Create", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeData(w, 201, &client.Actor{ID: "A1", Name: "hello"})
		})
		got, err := b.c.Actors().Create(context.Background(), &client.ActorCreate{Name: "hello", Title: "Hello"})
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "A1" {
			t.Errorf("got %+v", got)
		}
		req := b.last(t)
		if req.Method != "POST" || req.Path != "/v2/actors" || req.Body != `{"name":"hello","title":"Hello"}` {
			t.Errorf("got %s %s %s", req.Method, req.Path, req.Body)
		}
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeData(w, 200, &client.Actor{ID: "A1", Name: "hello"})
		})
		if _, err := b.c.Actor("A1").Update(context.Background(), &client.ActorUpdate{Title: client.Ptr("")}); err != nil {
			t.Fatal(err)
		}
		if req := b.last(t); req.Method != "PUT" || req.Path != "/v2/actors/A1" || req.Body != `{"title":""}` {
			t.Errorf("got %s %s %s", req.Method, req.Path, req.Body)
		}
	})

	t.Run("Versions", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			status := 200
			if r.Method == "POST" {
				status = 201
			}
			writeData(w, status, &client.Version{VersionNumber: "0.1", SourceType: client.SourceFiles})
		})
		ctx := context.Background()
		files := []client.SourceFile{{Name: "main.js", Format: "TEXT", Content: "x"}, {Name: "src", Folder: true}}
		if _, err := b.c.Actor("A1").Version("0.1").Update(ctx, &client.VersionUpdate{
			SourceType: client.Ptr(client.SourceFiles), BuildTag: client.Ptr("latest"), SourceFiles: files,
		}); err != nil {
			t.Fatal(err)
		}
		req := b.last(t)
		wantBody := `{"sourceType":"SOURCE_FILES","buildTag":"latest","sourceFiles":[{"name":"main.js","format":"TEXT","content":"x"},{"name":"src","folder":true}]}`
		if req.Method != "PUT" || req.Path != "/v2/actors/A1/versions/0.1" || req.Body != wantBody {
			t.Errorf("got %s %s %s", req.Method, req.Path, req.Body)
		}
		v, err := b.c.Actor("A1").Versions().Create(ctx, &client.Version{VersionNumber: "0.1", SourceType: client.SourceFiles})
		if err != nil {
			t.Fatal(err)
		}
		if v.VersionNumber != "0.1" {
			t.Errorf("got %+v", v)
		}
		if req := b.last(t); req.Method != "POST" || req.Path != "/v2/actors/A1/versions" {
			t.Errorf("got %s %s", req.Method, req.Path)
		}
	})

	t.Run("Build", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeData(w, 201, &client.Build{ID: "B1", BuildNumber: "0.1.3", Status: client.StatusRunning})
		})
		got, err := b.c.Actor("alice/hello").Build(context.Background(), "0.1", &client.BuildOptions{Tag: "beta", UseCache: client.Ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "B1" || got.BuildNumber != "0.1.3" {
			t.Errorf("got %+v", got)
		}
		req := b.last(t)
		if req.Method != "POST" || req.Path != "/v2/actors/alice~hello/builds" || req.RawQuery != "tag=beta&useCache=1&version=0.1" {
			t.Errorf("got %s %s?%s", req.Method, req.Path, req.RawQuery)
		}
	})

	t.Run("BuildsList", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeData(w, 200, map[string]any{"total": 1, "count": 1, "items": []*client.Build{{ID: "B1"}}})
		})
		got, err := b.c.Actor("A1").Builds().List(context.Background(), &client.ListOptions{Limit: 5, Desc: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != 1 || len(got.Items) != 1 || got.Items[0].ID != "B1" {
			t.Errorf("got %+v", got)
		}
		if req := b.last(t); req.Path != "/v2/actors/A1/builds" || req.RawQuery != "desc=1&limit=5" {
			t.Errorf("got %s?%s", req.Path, req.RawQuery)
		}
	})

	t.Run("Call", func(t *testing.T) {
		t.Parallel()
		var polls atomic.Int32
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == "POST" && r.URL.Path == "/v2/actors/A1/runs":
				writeData(w, 201, run("r9", client.StatusReady))
			case r.Method == "GET" && r.URL.Path == "/v2/actor-runs/r9":
				st := client.StatusRunning
				if polls.Add(1) == 2 {
					st = client.StatusSucceeded
				}
				writeData(w, 200, run("r9", st))
			default:
				writeError(w, 404, "page-not-found", r.URL.Path)
			}
		})
		got, err := b.c.Actor("A1").Call(context.Background(), nil, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "r9" || got.Status != client.StatusSucceeded {
			t.Errorf("got %s %s", got.ID, got.Status)
		}
	})
}

func TestBuildClientWaitForFinish(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		st := client.StatusRunning
		if n.Add(1) == 2 {
			st = client.StatusSucceeded
		}
		writeData(w, 200, &client.Build{ID: "B1", Status: st})
	})
	got, err := b.c.Build("B1").WaitForFinish(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != client.StatusSucceeded {
		t.Errorf("got %s", got.Status)
	}
	if req := b.last(t); req.Path != "/v2/actor-builds/B1" || req.RawQuery != "waitForFinish=60" {
		t.Errorf("got %s?%s", req.Path, req.RawQuery)
	}
}

func TestKeyValueStoreClient(t *testing.T) {
	t.Parallel()

	t.Run("GetRecord", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write([]byte{0x89, 'P', 'N', 'G'})
		})
		got, err := b.c.Run("r1").KeyValueStore().GetRecord(context.Background(), "OUTPUT")
		if err != nil {
			t.Fatal(err)
		}
		if got.Key != "OUTPUT" || string(got.Value) != "\x89PNG" || got.ContentType != "image/png" {
			t.Errorf("got %+v", got)
		}
		if req := b.last(t); req.Method != "GET" || req.Path != "/v2/actor-runs/r1/key-value-store/records/OUTPUT" {
			t.Errorf("got %s %s", req.Method, req.Path)
		}
	})

	t.Run("GetRecordNilOnNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, 404, "record-not-found", "Record was not found.")
		})
		got, err := b.c.KeyValueStore("S1").GetRecord(context.Background(), "nope")
		if got != nil || err != nil {
			t.Errorf("got %v, %v; want nil, nil", got, err)
		}
	})

	t.Run("SetRecord", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			_, _ = io.WriteString(w, "{}")
		})
		if err := b.c.KeyValueStore("bob/store").SetRecord(context.Background(), "my-key", []byte("hi"), "text/plain"); err != nil {
			t.Fatal(err)
		}
		req := b.last(t)
		if req.Method != "PUT" || req.Path != "/v2/key-value-stores/bob~store/records/my-key" || req.Body != "hi" || req.ContentType != "text/plain" {
			t.Errorf("got %+v", req)
		}
	})

	t.Run("DeleteRecord", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, 404, "record-not-found", "Record was not found.")
		})
		if err := b.c.KeyValueStore("S1").DeleteRecord(context.Background(), "k"); !client.IsNotFound(err) {
			t.Errorf("got %v, want not found", err)
		}
		if req := b.last(t); req.Method != "DELETE" || req.Path != "/v2/key-value-stores/S1/records/k" {
			t.Errorf("got %s %s", req.Method, req.Path)
		}
	})
}
