package postgres

import (
	"time"

	"github.com/troupehq/troupe/internal/sqlstore"
)

// WithListenPing makes the DB check its listening connection after d of
// silence and call pinged after each successful check.
func WithListenPing(d time.Duration, pinged func()) Option {
	return func(o *options) { o.listenPing, o.pinged = d, pinged }
}

// WithSchemaVersion makes Open apply the migrations up to version v only.
func WithSchemaVersion(v int) Option { return func(o *options) { o.maxVersion = v } }

// Driver returns the DB's side of the store core, for the driver suite.
func (db *DB) Driver() sqlstore.Driver { return sqlDriver{db} }
