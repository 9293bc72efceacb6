package main

import (
	"encoding/base64"
	"encoding/json"
	"github.com/troupehq/troupe/client"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (slash-separated name → content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCollectSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		".actor/actor.json":        `{"name":"hello"}`,
		"Dockerfile":               "FROM node:20\nCMD [\"node\", \"main.js\"]\n",
		"main.js":                  "console.log('hi')\n",
		"logo.png":                 "\x89PNG\x00\x01",
		"src/lib/util.js":          "exports.x = 1\n",
		"src/storage/keep.js":      "// storage below the top is kept\n",
		"src/debug.log":            "ignored by .gitignore\n",
		"src/node_modules/m/a.js":  "x",
		"node_modules/left-pad/i":  "x",
		".git/config":              "x",
		"storage/key_value_stores": "x",
		"apify_storage/x":          "x",
		"dist/out.js":              "ignored dir\n",
		"build/keep.txt":           "kept by negation\n",
		"build/drop.txt":           "dropped\n",
		"secret.env":               "ignored by .dockerignore\n",
		"docs/secret.env":          "docker rules are anchored at the top\n",
		".gitignore":               "# comment\n*.log\ndist/\n/build/*\n!/build/keep.txt\n.actor\n",
		".dockerignore":            "secret.env\n",
	})
	files, err := collectSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	byName := map[string]client.SourceFile{}
	for _, f := range files {
		name := f.Name
		if f.Folder {
			name += "/"
		}
		got = append(got, name)
		byName[f.Name] = f
	}
	want := []string{
		".actor/", ".actor/actor.json", ".dockerignore", ".gitignore", "Dockerfile", "build/", "build/keep.txt",
		"docs/", "docs/secret.env", "logo.png", "main.js", "src/", "src/lib/", "src/lib/util.js",
		"src/storage/", "src/storage/keep.js",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got files\n%s\nwant\n%s", strings.Join(got, " "), strings.Join(want, " "))
	}
	if f := byName["main.js"]; f.Format != "TEXT" || f.Content != "console.log('hi')\n" {
		t.Errorf("main.js: %+v", f)
	}
	if f := byName["logo.png"]; f.Format != "BASE64" || f.Content != base64.StdEncoding.EncodeToString([]byte("\x89PNG\x00\x01")) {
		t.Errorf("logo.png: %+v", f)
	}
	if f := byName["src"]; !f.Folder || f.Format != "" || f.Content != "" {
		t.Errorf("src: %+v", f)
	}
}

// pushAPI is a fake API for push: no actor "hello" yet, no version, and a
// build that ends with status end.
func pushAPI(t *testing.T, end client.Status) *fakeAPI {
	t.Helper()
	f := newFakeAPI(t)
	f.handle("GET /v2/actors/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, 404, "record-not-found", "Actor was not found.")
	})
	f.data("POST /v2/actors", 201, &client.Actor{ID: "A1", Name: "hello"})
	f.handle("PUT /v2/actors/A1/versions/{v}", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, 404, "record-not-found", "Version was not found.")
	})
	f.data("POST /v2/actors/A1/versions", 201, &client.Version{VersionNumber: "1.2"})
	f.data("POST /v2/actors/A1/builds", 201, &client.Build{ID: "B1", BuildNumber: "1.2.1", Status: client.StatusRunning, StartedAt: t0})
	f.handle("GET /v2/actor-builds/B1/log", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "2024-01-02T03:04:05.000Z npm install\n")
	})
	f.data("GET /v2/actor-builds/B1", 200, &client.Build{ID: "B1", BuildNumber: "1.2.1", Status: end, StartedAt: t0,
		Stats: client.BuildStats{DurationMillis: 3400}})
	return f
}

func TestCLIPush(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		".actor/actor.json": `{"actorSpecification":1,"name":"hello","title":"Hello","version":"1.2","buildTag":"beta"}`,
		"main.js":           "console.log('hi')\n",
	})

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := pushAPI(t, client.StatusSucceeded)
		out, errOut, err := f.run("push", dir)
		if err != nil {
			t.Fatal(err)
		}
		f.one("GET", "/v2/actors/~hello")
		if got := f.one("POST", "/v2/actors").Body; got != `{"name":"hello","title":"Hello"}` {
			t.Errorf("create actor sent %s", got)
		}
		var put struct {
			SourceType  string
			BuildTag    string
			SourceFiles []client.SourceFile
		}
		if err := json.Unmarshal([]byte(f.one("PUT", "/v2/actors/A1/versions/1.2").Body), &put); err != nil {
			t.Fatal(err)
		}
		if put.SourceType != "SOURCE_FILES" || put.BuildTag != "beta" || len(put.SourceFiles) != 3 {
			t.Errorf("update version sent %+v", put)
		}
		var created client.Version
		if err := json.Unmarshal([]byte(f.one("POST", "/v2/actors/A1/versions").Body), &created); err != nil {
			t.Fatal(err)
		}
		if created.VersionNumber != "1.2" || created.SourceType != "SOURCE_FILES" || created.BuildTag != "beta" || len(created.SourceFiles) != 3 {
			t.Errorf("create version sent %+v", created)
		}
		if q := f.one("POST", "/v2/actors/A1/builds").Query.Encode(); q != "tag=beta&version=1.2" {
			t.Errorf("build query %q", q)
		}
		if !strings.Contains(errOut, "Created actor hello (A1).") || !strings.Contains(errOut, "Uploaded 2 files to hello version 1.2.") ||
			!strings.HasSuffix(errOut, "2024-01-02T03:04:05.000Z npm install\nBuild 1.2.1 SUCCEEDED after 3.4s\n") {
			t.Errorf("stderr %q, want the log and then the build's end", errOut)
		}
		if out != "Build 1.2.1 SUCCEEDED (id B1, 3.4s)\n" {
			t.Errorf("stdout %q", out)
		}
	})

	t.Run("ExistingActorAndVersion", func(t *testing.T) {
		t.Parallel()
		f := pushAPI(t, client.StatusSucceeded)
		f.data("GET /v2/actors/~hello", 200, &client.Actor{ID: "A1", Name: "hello"})
		f.data("PUT /v2/actors/A1/versions/3.4", 200, &client.Version{VersionNumber: "3.4"})
		if _, _, err := f.run("push", dir, "--version", "3.4", "--tag", "latest"); err != nil {
			t.Fatal(err)
		}
		if n := len(f.requests("POST", "/v2/actors")) + len(f.requests("POST", "/v2/actors/A1/versions")); n != 0 {
			t.Errorf("created %d resources that existed", n)
		}
		if q := f.one("POST", "/v2/actors/A1/builds").Query.Encode(); q != "tag=latest&version=3.4" {
			t.Errorf("build query %q", q)
		}
	})

	t.Run("ErrBuildFailed", func(t *testing.T) {
		t.Parallel()
		f := pushAPI(t, client.StatusFailed)
		out, _, err := f.run("push", dir, "-o", "json")
		if err == nil || cliErrorMessage(err) != "build 1.2.1 FAILED" {
			t.Errorf("got %v, want the build failure", err)
		}
		var b client.Build
		if err := json.Unmarshal([]byte(out), &b); err != nil || b.Status != client.StatusFailed {
			t.Errorf("-o json printed %q (%v)", out, err)
		}
	})

	t.Run("ErrBadVersion", func(t *testing.T) {
		t.Parallel()
		f := newFakeAPI(t)
		_, _, err := f.run("push", dir, "--version", "1")
		if err == nil || !strings.Contains(err.Error(), `version "1" is not MAJOR.MINOR`) {
			t.Errorf("got %v", err)
		}
	})
}
