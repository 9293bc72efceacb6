package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/pgtest"
	"github.com/troupehq/troupe/postgres"
	"github.com/troupehq/troupe/sqlite"
)

func TestOpenStore(t *testing.T) {
	ctx := t.Context()
	use := func(t *testing.T, st troupe.Store) {
		t.Helper()
		defer st.Close()
		if v, err := st.Setting(ctx, "k", "v"); err != nil || v != "v" {
			t.Fatalf("Setting on the opened store: %q, %v", v, err)
		}
	}

	dir := t.TempDir()
	st, err := openStore(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*sqlite.DB); !ok {
		t.Fatalf("default store is %T, want *sqlite.DB", st)
	}
	use(t, st)
	if _, err := os.Stat(filepath.Join(dir, "troupe.db")); err != nil {
		t.Fatalf("the default store is not troupe.db in the data folder: %v", err)
	}

	st, err = openStore(ctx, "sqlite:"+filepath.Join(dir, "other.db"), "/nonexistent")
	if err != nil {
		t.Fatal(err)
	}
	use(t, st)

	srv, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	name, err := srv.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{srv.URL(name), strings.Replace(srv.URL(name), "postgres://", "postgresql://", 1)} {
		st, err := openStore(ctx, url, dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st.(*postgres.DB); !ok {
			t.Fatalf("store for %s is %T, want *postgres.DB", url, st)
		}
		use(t, st)
	}

	for _, bad := range []string{"mysql://x", "sqlite:", "postgres://user:secret@127.0.0.1:1/x?connect_timeout=1"} {
		_, err := openStore(ctx, bad, dir)
		if err == nil {
			t.Fatalf("openStore(%q) succeeded", bad)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Fatalf("error shows the password: %v", err)
		}
	}
}
