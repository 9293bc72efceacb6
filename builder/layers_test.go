package builder_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/troupehq/troupe"
)

// registry is a tiny npm registry on loopback serving one package, tiny@1.0.0.
type registry struct {
	url       string
	tarball   []byte
	integrity string
	hits      atomic.Int64
}

func newRegistry(t *testing.T) *registry {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{
		"package/package.json": `{"name":"tiny","version":"1.0.0","main":"index.js"}`,
		"package/index.js":     "module.exports = 'tiny';\n",
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512(buf.Bytes())
	r := &registry{tarball: buf.Bytes(), integrity: "sha512-" + base64.StdEncoding.EncodeToString(sum[:])}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		switch req.URL.Path {
		case "/tiny":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{
				"name": "tiny", "dist-tags": map[string]string{"latest": "1.0.0"},
				"versions": map[string]any{"1.0.0": map[string]any{
					"name": "tiny", "version": "1.0.0",
					"dist": map[string]string{"tarball": r.url + "/tiny/-/tiny-1.0.0.tgz", "integrity": r.integrity},
				}},
			})
		case "/tiny/-/tiny-1.0.0.tgz":
			_, _ = w.Write(r.tarball)
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// project returns the source files of a Node.js actor that depends on tiny;
// edit changes them before they are returned.
func (r *registry) project(edit func(files map[string]string)) []troupe.SourceFile {
	lock := fmt.Sprintf(`{"name":"p","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{`+
		`"":{"name":"p","version":"1.0.0","dependencies":{"tiny":"1.0.0"}},`+
		`"node_modules/tiny":{"version":"1.0.0","resolved":"%s/tiny/-/tiny-1.0.0.tgz","integrity":"%s"}}}`, r.url, r.integrity)
	files := map[string]string{
		"package.json":      `{"name":"p","version":"1.0.0","dependencies":{"tiny":"1.0.0"}}`,
		"package-lock.json": lock,
		".npmrc":            "registry=" + r.url + "/\n",
		"Dockerfile":        "FROM apify/actor-node:20\nCMD [\"node\", \"main.js\"]\n",
		"main.js":           "console.log(require('tiny'));\n",
	}
	if edit != nil {
		edit(files)
	}
	var out []troupe.SourceFile
	for name, content := range files {
		out = append(out, troupe.SourceFile{Name: name, Format: "TEXT", Content: content})
	}
	return out
}

// TestDependencyLayers checks that a build whose package.json, lockfile
// and .npmrc match an earlier build's reuses its installed node_modules
// without running npm, and that other projects are installed by npm.
func TestDependencyLayers(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t)
	st, b := setup(t, nil)

	// build builds an actor with these files and returns the build and its
	// log; the build must succeed and have node_modules/tiny.
	build := func(t *testing.T, name string, files []troupe.SourceFile) (*troupe.Build, string) {
		t.Helper()
		got, log := buildActor(t, st, b, name, files)
		if got.Status != troupe.StatusSucceeded {
			t.Fatalf("build of %s is %s:\n%s", name, got.Status, log)
		}
		index, err := os.ReadFile(filepath.Join(got.Dir, "node_modules", "tiny", "index.js"))
		if err != nil || !strings.Contains(string(index), "tiny") {
			t.Fatalf("build of %s has no node_modules/tiny (%v):\n%s", name, err, log)
		}
		return got, log
	}
	const installs, reuses = "Installing dependencies with npm install.", "Reusing the dependencies"

	_, log := build(t, "first", reg.project(nil))
	if !strings.Contains(log, installs) || strings.Contains(log, reuses) {
		t.Fatalf("the first build did not run npm install:\n%s", log)
	}

	t.Run("SameFilesReuse", func(t *testing.T) {
		before := reg.hits.Load()
		_, log := build(t, "same", reg.project(func(f map[string]string) { f["main.js"] = "console.log('other code');\n" }))
		if !strings.Contains(log, reuses) || strings.Contains(log, installs) {
			t.Fatalf("a build with the same package files installed again:\n%s", log)
		}
		if got := reg.hits.Load(); got != before {
			t.Fatalf("the reusing build made %d registry requests", got-before)
		}
	})

	for _, tc := range []struct {
		name string
		edit func(map[string]string)
	}{
		{"OtherPackageJSON", func(f map[string]string) {
			f["package.json"] = `{"name":"p","version":"1.0.1","dependencies":{"tiny":"1.0.0"}}`
		}},
		{"NoLockfile", func(f map[string]string) { delete(f, "package-lock.json") }},
		{"InstallScript", func(f map[string]string) {
			f["package.json"] = `{"name":"p","version":"1.0.0","dependencies":{"tiny":"1.0.0"},"scripts":{"postinstall":"node -e 1"}}`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, log := build(t, strings.ToLower(tc.name), reg.project(tc.edit))
			if !strings.Contains(log, installs) || strings.Contains(log, reuses) {
				t.Fatalf("the build did not run npm install:\n%s", log)
			}
		})
	}
}
