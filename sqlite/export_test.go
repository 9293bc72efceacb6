package sqlite

import "context"

// WithSchemaVersion makes Open apply the migrations up to version v only.
func WithSchemaVersion(v int) Option { return func(o *options) { o.maxVersion = v } }

// Exec runs a statement on the write connection, outside any method.
func (db *DB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := db.w.ExecContext(ctx, query, args...)
	return err
}
