package sqlite

import (
	"context"
	"database/sql"

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

// WithCheckpointHook calls hook after every background WAL checkpoint with
// its mode and result.
func WithCheckpointHook(hook func(mode string, logPages, copied int, err error)) Option {
	return func(o *options) { o.ckptHook = hook }
}

// WithWALLimit sets the WAL size, in pages, past which a checkpoint
// restarts the WAL.
func WithWALLimit(pages int) Option { return func(o *options) { o.walLimit = pages } }

// ReadTx begins a read transaction on the read pool and reads from it, so
// that it holds its snapshot until done is called.
func (db *DB) ReadTx(ctx context.Context) (done func(), err error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM runs").Scan(&n); err != nil {
		tx.Rollback()
		return nil, err
	}
	return func() { _ = tx.Rollback() }, nil
}

// AutoCheckpoint is the write connection's wal_autocheckpoint setting.
func (db *DB) AutoCheckpoint(ctx context.Context) (int, error) {
	var n int
	err := db.w.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&n)
	return n, err
}
