package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDataFolderModes: the data folder becomes 0700 and the generated admin
// token file 0600, also when they existed with wider modes.
func TestDataFolderModes(t *testing.T) {
	t.Setenv("TROUPE_TOKEN", "")
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := privateDir(dir); err != nil {
		t.Fatal(err)
	}
	tok, err := adminToken(dir)
	if err != nil || tok == "" {
		t.Fatalf("adminToken = %q, %v", tok, err)
	}
	path := filepath.Join(dir, "token")
	for _, p := range []struct {
		path string
		want os.FileMode
	}{{dir, 0o700}, {path, 0o600}} {
		fi, err := os.Stat(p.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != p.want {
			t.Errorf("%s: mode %o, want %o", p.path, got, p.want)
		}
	}
	// A token file left readable by others is narrowed at the next start.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := adminToken(dir)
	if err != nil || again != tok {
		t.Fatalf("adminToken again = %q, %v; want %q", again, err, tok)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %o after restart, want 600", fi.Mode().Perm())
	}
}
