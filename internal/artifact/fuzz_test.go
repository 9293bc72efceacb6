package artifact

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzUnpack unpacks arbitrary tar streams and checks that nothing is
// written next to the folder and that every link in it that resolves stays
// inside it.
func FuzzUnpack(f *testing.F) {
	seeds := [][]entry{
		{dir("a/"), file("a/b", "x"), symlink("a/l", "b")},
		{symlink("d", "."), symlink("l", "d/../evil")},
		{symlink("d", "."), file("d/evil", "x")},
		{file("../evil", "x")},
		{dir("n/"), dir("n/.bin/"), symlink("n/.bin/x", "../x.js"), file("n/x.js", "js")},
	}
	for _, s := range seeds {
		f.Add(ungzip(f, archive(f, s...)))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(raw)
		_ = zw.Close()
		parent := t.TempDir()
		dest := filepath.Join(parent, "out")
		if err := os.Mkdir(dest, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = Unpack(&buf, dest)
		if got, _ := os.ReadDir(parent); len(got) != 1 {
			t.Fatalf("the folder's parent holds %d entries", len(got))
		}
		real, err := filepath.EvalSymlinks(dest)
		if err != nil {
			t.Fatal(err)
		}
		_ = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			if to, err := filepath.EvalSymlinks(p); err == nil && to != real && !strings.HasPrefix(to, real+string(filepath.Separator)) {
				t.Fatalf("link %s resolves to %s, outside the folder", p, to)
			}
			return nil
		})
	})
}

// ungzip returns the tar inside a gzip archive.
func ungzip(tb testing.TB, gz []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		tb.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
