package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/troupehq/troupe/sqlite"
)

// TestFileModes checks that the database and its -wal and -shm files are
// 0600, whether Open creates the file or finds it with a wider mode.
func TestFileModes(t *testing.T) {
	for _, existing := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "troupe.db")
		if existing {
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		db, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Setting(context.Background(), "k", "v"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("existing=%v: %v", existing, err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("existing=%v: %s has mode %o, want 600", existing, filepath.Base(p), m)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
