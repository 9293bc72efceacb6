package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/postgres"
	"github.com/troupehq/troupe/sqlite"
)

// storeEnv names the environment variable that gives the default of
// --store.
const storeEnv = "TROUPE_STORE"

// defaultStore is the default of --store: $TROUPE_STORE, else "" (the
// SQLite file in the data folder).
func defaultStore() string { return os.Getenv(storeEnv) }

// openStore opens the store dsn names:
//
//   - "" : the SQLite file troupe.db in dataDir;
//   - "sqlite:PATH": the SQLite file at PATH;
//   - "postgres://…" or "postgresql://…": a PostgreSQL database, which
//     several troupe replicas may share (the URL may carry the usual libpq
//     parameters, e.g. sslmode, search_path, pool_max_conns).
//
// Errors never show a password the URL holds.
func openStore(ctx context.Context, dsn, dataDir string) (troupe.Store, error) {
	switch {
	case dsn == "", strings.HasPrefix(dsn, "sqlite:"):
		path := filepath.Join(dataDir, "troupe.db")
		if dsn != "" {
			if path = strings.TrimPrefix(dsn, "sqlite:"); path == "" {
				return nil, errors.New("--store sqlite:PATH needs a path")
			}
		}
		db, err := sqlite.Open(path)
		if err != nil {
			return nil, err
		}
		return db, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	scheme, _, _ := strings.Cut(dsn, ":")
	return nil, fmt.Errorf("--store: unknown store %q; use sqlite:PATH or a postgres:// URL", scheme)
}
