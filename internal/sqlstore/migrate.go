package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migrate applies to s, in order, every migration in dir of fsys newer than the
// schema's version (and, when maxVersion is not 0, up to maxVersion), all
// in one write transaction that holds the lock "schema", so that stores
// opened at the same time apply each migration once. Files are named
// NNNN_description.sql; NNNN is the version the file brings the schema to.
func Migrate(ctx context.Context, s *Store, fsys fs.FS, dir string, maxVersion int) error {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return err
	}
	type step struct {
		version int
		name    string
	}
	var steps []step
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		steps = append(steps, step{v, name})
	}
	slices.SortFunc(steps, func(a, b step) int { return a.version - b.version })
	for i := 1; i < len(steps); i++ {
		if steps[i].version == steps[i-1].version {
			return fmt.Errorf("migrations %s and %s have the same number", steps[i-1].name, steps[i].name)
		}
	}

	return s.write(ctx, func(c conn, tx *sql.Tx) error {
		if err := s.d.Lock(ctx, tx, "schema"); err != nil {
			return fmt.Errorf("lock schema: %w", err)
		}
		if _, err := c.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_version: %w", err)
		}
		var current int
		if err := c.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		applied := current
		for _, st := range steps {
			if st.version <= current || maxVersion > 0 && st.version > maxVersion {
				continue
			}
			text, err := fs.ReadFile(fsys, st.name)
			if err != nil {
				return err
			}
			// Without arguments, a file of several statements runs as one.
			if _, err := tx.ExecContext(ctx, string(text)); err != nil {
				return fmt.Errorf("migration %s: %w", path.Base(st.name), err)
			}
			applied = st.version
		}
		if applied == current {
			return nil
		}
		if _, err := c.Exec(ctx, `DELETE FROM schema_version`); err != nil {
			return err
		}
		_, err := c.Exec(ctx, `INSERT INTO schema_version (version) VALUES (?)`, applied)
		return err
	})
}

// SchemaVersion returns the version of the newest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.reader().QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}
