package sqlite

import (
	"context"

	"github.com/troupehq/troupe/internal/sqlstore"
)

// WithSchemaVersion makes Open apply the migrations up to version v only.
func WithSchemaVersion(v int) Option { return func(o *options) { o.maxVersion = v } }

// Exec runs a statement on the write connection, outside any method.
func (db *DB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := db.w.ExecContext(ctx, query, args...)
	return err
}

// Driver returns the DB's side of the store core, for the driver suite.
func (db *DB) Driver() sqlstore.Driver { return sqlDriver{db} }
