package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/troupehq/troupe"
)

type entry struct {
	name, link string
	typ        byte
	body       string
}

// archive is a gzip-compressed tar of entries, written as given.
func archive(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func file(name, body string) entry   { return entry{name: name, typ: tar.TypeReg, body: body} }
func dir(name string) entry          { return entry{name: name, typ: tar.TypeDir} }
func symlink(name, to string) entry  { return entry{name: name, typ: tar.TypeSymlink, link: to} }
func hardlink(name, to string) entry { return entry{name: name, typ: tar.TypeLink, link: to} }

// TestUnpackRefusesEscapes: an archive that would write, or link, outside
// its folder is refused and nothing appears next to the folder.
func TestUnpackRefusesEscapes(t *testing.T) {
	cases := map[string][]entry{
		"dot-dot path":            {file("../evil", "x")},
		"dot-dot inside path":     {dir("a/"), file("a/../../evil", "x")},
		"absolute path":           {file("/tmp/evil", "x")},
		"absolute link":           {symlink("l", "/etc")},
		"link up and out":         {dir("a/"), symlink("a/l", "../../evil")},
		"link climbing from link": {symlink("d", "."), symlink("l", "d/../evil")},
		"write through a link":    {symlink("d", "."), file("d/evil", "x")},
		"link then file beneath":  {dir("a/"), symlink("a/b", "."), file("a/b/c", "x")},
		"hard link":               {file("f", "x"), hardlink("h", "/etc/passwd")},
		"device":                  {{name: "dev", typ: tar.TypeChar}},
		"overwrite":               {file("f", "x"), file("f", "y")},
		"replace file by link":    {file("f", "x"), symlink("f", "/etc/passwd")},
		"backslash":               {file(`..\evil`, "x")},
		"empty name":              {file("", "x")},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dest := filepath.Join(parent, "out")
			if err := os.Mkdir(dest, 0o755); err != nil {
				t.Fatal(err)
			}
			err := Unpack(bytes.NewReader(archive(t, entries...)), dest)
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("Unpack = %v, want ErrRefused", err)
			}
			if got, _ := os.ReadDir(parent); len(got) != 1 {
				t.Fatalf("the folder's parent holds %d entries, want only the folder", len(got))
			}
			if _, err := os.Lstat("/tmp/evil"); err == nil {
				t.Fatal("/tmp/evil was written")
			}
		})
	}
}

// TestPackUnpack: a build folder with nested folders, an executable, a
// relative link as npm makes them and an empty file comes back the same,
// and packing it twice gives the same bytes.
func TestPackUnpack(t *testing.T) {
	src := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(src, "node_modules/pkg/bin"), 0o755))
	must(t, os.MkdirAll(filepath.Join(src, "node_modules/.bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "main.js"), []byte("console.log(1)\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "empty"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(src, "node_modules/pkg/bin/x.js"), []byte("#!/usr/bin/env node\n"), 0o755))
	must(t, os.Symlink("../pkg/bin/x.js", filepath.Join(src, "node_modules/.bin/x")))
	var a, b bytes.Buffer
	must(t, Pack(src, &a))
	must(t, Pack(src, &b))
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("packing the same folder twice gave different archives")
	}
	dest := t.TempDir()
	must(t, Unpack(bytes.NewReader(a.Bytes()), dest))
	if got, _ := os.ReadFile(filepath.Join(dest, "node_modules/.bin/x")); string(got) != "#!/usr/bin/env node\n" {
		t.Fatalf("through the link: %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dest, "node_modules/pkg/bin/x.js")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("executable: %v, %v", fi, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dest, "main.js")); string(got) != "console.log(1)\n" {
		t.Fatalf("main.js: %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dest, "empty")); err != nil || fi.Size() != 0 {
		t.Fatalf("empty: %v, %v", fi, err)
	}
}

// fakeStore serves one archive under a digest and counts the opens.
type fakeStore struct {
	troupe.ArtifactStore
	digest string
	data   []byte
	opens  atomic.Int32
}

func (f *fakeStore) OpenArtifact(_ context.Context, d string) (io.ReadCloser, int64, error) {
	if d != f.digest {
		return nil, 0, troupe.Errorf(troupe.ErrRecordNotFound, "Artifact was not found")
	}
	f.opens.Add(1)
	return io.NopCloser(bytes.NewReader(f.data)), int64(len(f.data)), nil
}

func digestOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestCacheOnce: concurrent first uses fetch and unpack the archive once
// and all get the same folder.
func TestCacheOnce(t *testing.T) {
	data := archive(t, file("main.js", "ok"))
	st := &fakeStore{digest: digestOf(data), data: data}
	c := &Cache{Dir: t.TempDir(), Store: st}
	var wg sync.WaitGroup
	paths := make([]string, 8)
	for i := range paths {
		wg.Go(func() {
			p, err := c.Path(t.Context(), st.digest)
			if err != nil {
				t.Error(err)
			}
			paths[i] = p
		})
	}
	wg.Wait()
	if n := st.opens.Load(); n != 1 {
		t.Fatalf("archive fetched %d times, want 1", n)
	}
	for _, p := range paths {
		if p != filepath.Join(c.Dir, st.digest) {
			t.Fatalf("path %s", p)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(paths[0], "main.js")); string(got) != "ok" {
		t.Fatalf("main.js: %q", got)
	}
}

// TestCacheRefuses: an archive kept under another digest, a hostile one and
// a digest not stored leave nothing in the cache.
func TestCacheRefuses(t *testing.T) {
	good := archive(t, file("main.js", "ok"))
	other := digestOf([]byte("something else"))
	hostile := archive(t, file("../evil", "x"))
	for name, tc := range map[string]struct {
		st     *fakeStore
		digest string
		want   func(error) bool
	}{
		"digest mismatch": {&fakeStore{digest: other, data: good}, other, func(err error) bool { return errors.Is(err, ErrDigest) }},
		"hostile":         {&fakeStore{digest: digestOf(hostile), data: hostile}, digestOf(hostile), func(err error) bool { return errors.Is(err, ErrRefused) }},
		"not stored":      {&fakeStore{}, other, func(err error) bool { return troupe.ErrorType(err) == troupe.ErrRecordNotFound }},
		"not a digest":    {&fakeStore{digest: "../x", data: good}, "../x", func(err error) bool { return troupe.ErrorType(err) == troupe.ErrRecordNotFound }},
	} {
		t.Run(name, func(t *testing.T) {
			c := &Cache{Dir: filepath.Join(t.TempDir(), "cache"), Store: tc.st}
			_, err := c.Path(t.Context(), tc.digest)
			if !tc.want(err) {
				t.Fatalf("Path = %v", err)
			}
			if got, _ := os.ReadDir(c.Dir); len(got) != 0 {
				t.Fatalf("the cache holds %d entries after a refusal", len(got))
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
