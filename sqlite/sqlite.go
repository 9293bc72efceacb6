// Package sqlite is troupe's embedded store: a troupe.Store kept in one
// SQLite file through the pure-Go modernc.org/sqlite driver.
//
// The file is opened in WAL mode. All writes go through one connection, one
// transaction per exported method, begun with BEGIN IMMEDIATE, so writes
// queue up in Go instead of failing with SQLITE_BUSY; reads use a separate
// pool of read-only connections and never wait for a writer. Changes to runs,
// builds and logs are published to watchers after their transaction commits.
//
// The store's rules live in internal/sqlstore; this package is its SQLite
// driver: the connections and transactions above, times kept as unix
// milliseconds, and the SQL of dataset items.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/sqlstore"
	"github.com/troupehq/troupe/notify"
)

// Page cache sizes (SQLite allocates them only as pages are used).
const (
	writeCacheKiB = 64 << 10
	readCacheKiB  = 16 << 10
)

//go:embed migration/*.sql
var migrations embed.FS

var _ troupe.Store = (*DB)(nil)

// DB is a troupe.Store backed by a SQLite file. It is safe for concurrent
// use. Mutation callbacks (UpdateRun, UpdateActor, ...) run while the write
// lock is held: they must be quick and must not call the DB.
type DB struct {
	*core // the rules written once, over sqlDriver{db}

	w   *sql.DB // one connection: every write transaction
	r   *sql.DB // read-only connections
	hub *notify.Hub
	now func() time.Time
	// ckpt runs the WAL checkpoints off the commit path (nil in memory).
	ckpt *checkpointer
}

// core is the store written once above the SQL drivers.
type core = sqlstore.Store

// Option configures Open.
type Option func(*options)

type options struct {
	hub         *notify.Hub
	now         func() time.Time
	readConns   int
	busyTimeout time.Duration
	maxVersion  int // apply migrations up to this version only (tests); 0: all
	walLimit    int // walLimitPages unless set (tests)
	ckptHook    func(mode string, logPages, copied int, err error)
}

// WithHub makes the DB publish changes on hub (by default it makes its own).
func WithHub(h *notify.Hub) Option { return func(o *options) { o.hub = h } }

// WithClock sets the clock the DB stamps storages and records with (default
// troupe.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithReadConns sets the size of the read pool (default: the number of CPUs,
// at least 4).
func WithReadConns(n int) Option { return func(o *options) { o.readConns = n } }

// WithBusyTimeout sets how long a statement waits for a lock held by another
// process that has the same file open (default 10s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// Open opens (creating it if needed) the SQLite database at path, brings its
// schema up to date and returns the store. The file and its -wal and -shm
// files are readable by the server's user only (0600). path is a file name;
// ":memory:" gives a private in-memory database (reads then share the one
// write connection).
func Open(path string, opts ...Option) (*DB, error) {
	o := options{
		now:         troupe.Now,
		readConns:   max(4, runtime.NumCPU()),
		busyTimeout: 10 * time.Second,
		walLimit:    walLimitPages,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.hub == nil {
		o.hub = notify.New()
	}
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}

	params := func(readOnly bool) string {
		q := url.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "temp_store(MEMORY)")
		switch {
		case readOnly:
			// WAL mode is a property of the file, set by the writer.
			q.Add("_pragma", "query_only(1)")
			q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -readCacheKiB))
		case path != ":memory:":
			// Ids are random, so inserts touch index pages all over the
			// file; a larger cache keeps them from being read again and again.
			q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -writeCacheKiB))
			q.Add("_pragma", "journal_mode(WAL)")
			q.Add("_pragma", "synchronous(NORMAL)")
			// Checkpoints run in the background (checkpoint.go).
			q.Add("_pragma", "wal_autocheckpoint(0)")
			fallthrough
		default:
			q.Set("_txlock", "immediate")
		}
		return q.Encode()
	}

	if path != ":memory:" {
		if err := restrictFiles(path); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	db := &DB{hub: o.hub, now: o.now}
	db.core = sqlstore.New(sqlDriver{db}, o.now)
	var err error
	if path == ":memory:" {
		db.w, err = openDB("file::memory:?" + params(false))
	} else {
		db.w, err = openDB("file:" + escapePath(path) + "?" + params(false))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)

	if path == ":memory:" {
		db.r = db.w
	} else {
		db.r, err = openDB("file:" + escapePath(path) + "?" + params(true))
		if err != nil {
			db.w.Close()
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		db.r.SetMaxOpenConns(o.readConns)
		db.r.SetMaxIdleConns(o.readConns)

		q := url.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", checkpointWait.Milliseconds()))
		cdb, err := openDB("file:" + escapePath(path) + "?" + q.Encode())
		if err != nil {
			db.r.Close()
			db.w.Close()
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		cdb.SetMaxOpenConns(1)
		cdb.SetMaxIdleConns(1)
		cdb.SetConnMaxLifetime(0)
		cdb.SetConnMaxIdleTime(0)
		db.ckpt = newCheckpointer(cdb, o.walLimit, o.ckptHook)
	}

	if err := sqlstore.Migrate(context.Background(), db.core, migrations, "migration", o.maxVersion); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return db, nil
}

// escapePath makes path safe inside a file: URI.
func escapePath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// Close closes the database. Pending watches stay registered on the hub.
func (db *DB) Close() error {
	// No ANALYZE or PRAGMA optimize: statistics gathered while the tables
	// were small mislead the planner once they have grown (e.g. into
	// scanning every run in startedAt order to find the few active ones),
	// and the indexes are laid out so that the planner's defaults pick them.
	var errs []error
	if db.ckpt != nil {
		db.ckpt.close()
	}
	if db.r != nil && db.r != db.w {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	return errors.Join(errs...)
}

// Hub returns the hub the DB publishes changes on.
func (db *DB) Hub() *notify.Hub { return db.hub }

// Watch implements troupe.Store: the channel receives a value after the run
// or build with this id changes.
func (db *DB) Watch(jobID string) (<-chan struct{}, func()) { return db.hub.Watch(jobID) }

// WatchLog implements troupe.Store: the channel receives a value after the
// job's log grows.
func (db *DB) WatchLog(jobID string) (<-chan struct{}, func()) {
	return db.hub.Watch(sqlstore.LogKey(jobID))
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on the single write
// connection) and commits when fn returns nil. fn must use only tx: db.w has
// that one connection, so any use of db.w inside fn (a query, a Prepare, a
// nested write) waits for itself forever.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if db.ckpt != nil {
		db.ckpt.committed()
	}
	return nil
}

// read runs fn in a read-only transaction, so that the queries of one
// method see one snapshot.
func (db *DB) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// sqlDriver is the SQLite side of the core: one writer, so no row or
// advisory locks, and changes published on the in-process hub. Times are
// stored as unix milliseconds; text keys compare in byte order (the BINARY
// collation); runs are numbered by the largest number so far, which the
// single writer makes safe.
type sqlDriver struct{ db *DB }

func (d sqlDriver) Dialect() *sqlstore.Dialect {
	return &sqlstore.Dialect{
		Time:       func(t time.Time) any { return t.UnixMilli() },
		NextRunSeq: `(SELECT COALESCE(MAX(seq), 0) + 1 FROM runs)`,
	}
}

func (d sqlDriver) Write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return d.db.write(ctx, fn)
}
func (d sqlDriver) Read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return d.db.read(ctx, fn)
}

// ReleaseWriteMemory implements sqlstore.WriteMemory: the write connection
// frees the pages of its cache that no transaction holds. It is only a
// saving: when it fails (ctx ended) the pages stay cached, as before.
func (d sqlDriver) ReleaseWriteMemory(ctx context.Context) {
	_, _ = d.db.w.ExecContext(ctx, `PRAGMA shrink_memory`)
}
func (d sqlDriver) ReadDB() *sql.DB                               { return d.db.r }
func (d sqlDriver) Lock(context.Context, *sql.Tx, string) error   { return nil }
func (d sqlDriver) Notify(context.Context, *sql.Tx, string) error { return nil }
func (d sqlDriver) Publish(id string)                             { d.db.hub.Publish(id) }
