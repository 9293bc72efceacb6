// Package postgres is troupe's scale-out store: a troupe.Store kept in
// PostgreSQL through pgx, which several troupe replicas can share.
//
// Open applies the embedded migrations in one transaction that holds an
// advisory lock, so replicas that start together migrate once. Every
// exported method is one transaction (or one statement). Row locks make the
// read-modify-write methods safe across processes: UpdateRun locks the run
// (SELECT … FOR UPDATE) and writes it back with a compare-and-set on its
// version; a request queue operation locks the queue's row and LockHead
// also skips request rows another transaction holds (FOR UPDATE SKIP
// LOCKED); a dataset push locks the dataset's row; build numbers and log
// appends take a transaction-scoped advisory lock on the actor version or
// the job.
//
// Change notifications cross processes: every transaction that changes a
// run, a build, a log or a request queue sends pg_notify on the channel
// troupe_jobs with the job's id (a log append sends "log:" and the id), and
// each DB keeps one dedicated connection that LISTENs on it and feeds the
// in-process notify.Hub that Watch and WatchLog use. Changes made through
// this DB are also published on the hub directly after commit. When the
// listening connection drops, the DB reconnects and then wakes every watch
// made through Watch or WatchLog, so that a change made while it was
// away is not missed: watchers re-read what they watch after each signal.
//
// The store's rules live in internal/sqlstore; this package is its
// PostgreSQL driver: the pool (reached through database/sql with pgx's
// stdlib adapter), the locks and notifications above, the $n placeholders,
// and the SQL of dataset items and of the one-round-trip log append.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/sqlstore"
	"github.com/troupehq/troupe/notify"
)

//go:embed migration/*.sql
var migrations embed.FS

var _ troupe.Store = (*DB)(nil)

// Channel is the LISTEN/NOTIFY channel on which changes are announced. A
// payload is the id of the job (run or build) or request queue that
// changed, or "log:" and the id of a job whose log grew, optionally
// preceded by the sender's origin and a space.
const Channel = "troupe_jobs"

// Listener timing: how long the listening connection may stay silent before
// it is checked (by default), and the bounds of the delay between
// reconnection attempts.
const (
	defaultListenPing = 30 * time.Second
	reconnectMin      = 50 * time.Millisecond
	reconnectMax      = 5 * time.Second
	listenConnectMax  = 10 * time.Second
)

// DB is a troupe.Store backed by a PostgreSQL database. It is safe for
// concurrent use, also by several processes on the same database.
// Mutation callbacks (UpdateRun, UpdateActor, ...) run while the row they
// change is locked: they must be quick and must not call the DB.
type DB struct {
	*core // the rules written once, over sqlDriver{db}

	pool   *pgxpool.Pool
	sql    *sql.DB // database/sql over pool, for the core
	hub    *notify.Hub
	now    func() time.Time
	log    *slog.Logger
	origin string // this DB's tag in the payloads it sends

	listenCfg  *pgx.ConnConfig
	listenPing time.Duration
	pinged     func() // called after each successful check (tests)
	cancel     context.CancelFunc
	listenDone chan struct{}

	watchMu sync.Mutex
	watched map[string]int // ids with active watches, for wakeAll

	closeOnce sync.Once
}

// core is the store written once above the SQL drivers.
type core = sqlstore.Store

// Option configures Open.
type Option func(*options)

type options struct {
	hub      *notify.Hub
	now      func() time.Time
	logger   *slog.Logger
	maxConns int

	maxVersion int // apply migrations up to this version only (tests); 0: all

	listenPing time.Duration
	pinged     func()
}

// WithHub makes the DB publish changes on hub (by default it makes its own).
func WithHub(h *notify.Hub) Option { return func(o *options) { o.hub = h } }

// WithClock sets the clock the DB stamps storages and records with (default
// troupe.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger sets where the DB reports trouble it deals with by itself,
// such as a lost notification connection (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithMaxConns sets the size of the connection pool (default: pool_max_conns
// from the URL, else pgxpool's default, the larger of 4 and the number of
// CPUs). The DB uses one more connection to listen for notifications.
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string, as libpq and pgx accept them), brings its
// schema up to date and starts listening for changes. The schema goes where
// the connection's search_path puts it.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	o := options{now: troupe.Now, listenPing: defaultListenPing}
	for _, opt := range opts {
		opt(&o)
	}
	if o.hub == nil {
		o.hub = notify.New()
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if o.maxConns > 0 {
		cfg.MaxConns = int32(o.maxConns)
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "troupe"
	}
	listenCfg := cfg.ConnConfig.Copy()
	listenCfg.RuntimeParams["application_name"] = cfg.ConnConfig.RuntimeParams["application_name"] + " (listener)"

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{
		pool:       pool,
		sql:        stdlib.OpenDBFromPool(pool),
		hub:        o.hub,
		now:        o.now,
		log:        o.logger,
		origin:     troupe.NewID(),
		listenCfg:  listenCfg,
		listenPing: o.listenPing,
		pinged:     o.pinged,
		listenDone: make(chan struct{}),
		watched:    make(map[string]int),
	}
	db.core = sqlstore.New(sqlDriver{db}, o.now)
	if err := sqlstore.Migrate(ctx, db.core, migrations, "migration", o.maxVersion); err != nil {
		db.sql.Close()
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	conn, err := db.connectListener(ctx)
	if err != nil {
		db.sql.Close()
		pool.Close()
		return nil, fmt.Errorf("postgres: listen: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	db.cancel = cancel
	go db.listen(lctx, conn)
	return db, nil
}

// Close stops listening and closes the connections. Pending watches stay
// registered on the hub.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.cancel()
		<-db.listenDone
		db.sql.Close()
		db.pool.Close()
	})
	return nil
}

// Hub returns the hub the DB publishes changes on.
func (db *DB) Hub() *notify.Hub { return db.hub }

// Pool returns the DB's connection pool, for callers that keep their own
// tables next to troupe's.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Watch implements troupe.Store: the channel receives a value after the run
// or build with this id changes, through this DB or any other process that
// uses the same database.
func (db *DB) Watch(jobID string) (<-chan struct{}, func()) { return db.watch(jobID) }

// WatchLog implements troupe.Store: the channel receives a value after the
// job's log grows, through this DB or any other process that uses the same
// database.
func (db *DB) WatchLog(jobID string) (<-chan struct{}, func()) {
	return db.watch(sqlstore.LogKey(jobID))
}

// watch registers a watcher of the hub key, remembered so that wakeAll
// signals it after the listening connection comes back.
func (db *DB) watch(key string) (<-chan struct{}, func()) {
	ch, stop := db.hub.Watch(key)
	db.watchMu.Lock()
	db.watched[key]++
	db.watchMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			stop()
			db.watchMu.Lock()
			defer db.watchMu.Unlock()
			if db.watched[key]--; db.watched[key] <= 0 {
				delete(db.watched, key)
			}
		})
	}
}

// wakeAll signals every id watched through this DB.
func (db *DB) wakeAll() {
	db.watchMu.Lock()
	ids := make([]string, 0, len(db.watched))
	for id := range db.watched {
		ids = append(ids, id)
	}
	db.watchMu.Unlock()
	for _, id := range ids {
		db.hub.Publish(id)
	}
}

// publish signals the local watchers of ids; it is called after the
// transaction that changed them committed.
func (db *DB) publish(ids ...string) {
	for _, id := range ids {
		db.hub.Publish(id)
	}
}

// connectListener opens the listening connection.
func (db *DB) connectListener(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, listenConnectMax)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, db.listenCfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{Channel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// listen feeds notifications to the hub until ctx ends, reconnecting (and
// then waking every watcher) whenever the connection is lost.
func (db *DB) listen(ctx context.Context, conn *pgx.Conn) {
	defer close(db.listenDone)
	for {
		err := db.receive(ctx, conn)
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		db.log.Warn("postgres: lost the notification connection; reconnecting", "err", err)
		delay := reconnectMin
		for {
			timer := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
			conn, err = db.connectListener(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			db.log.Warn("postgres: reconnect the notification connection", "err", err)
			delay = min(2*delay, reconnectMax)
		}
		db.log.Info("postgres: notification connection restored")
		// Changes made while nobody listened were not announced here:
		// every watcher re-reads what it watches.
		db.wakeAll()
	}
}

// receive delivers notifications from conn until it fails or ctx ends. A
// connection that stays silent for db.listenPing is checked with a query, so a
// dead peer is noticed.
func (db *DB) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, db.listenPing)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err == nil {
			db.deliver(n.Payload)
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, context.DeadlineExceeded) || conn.IsClosed() {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, max(db.listenPing, listenConnectMax))
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return err
		}
		if db.pinged != nil {
			db.pinged()
		}
	}
}

// deliver publishes a notification's job id on the hub, unless this DB sent
// it (its changes are published on commit).
func (db *DB) deliver(payload string) {
	id := payload
	if origin, rest, ok := strings.Cut(payload, " "); ok {
		if origin == db.origin {
			return
		}
		id = rest
	}
	if id != "" {
		db.hub.Publish(id)
	}
}

// SQLSTATE codes the store handles.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlock             = "40P01"
	codeBadText              = "22021" // character_not_in_repertoire: NUL or invalid UTF-8
	codeUntranslatable       = "22P05"
)

// sqlState returns the SQLSTATE of a PostgreSQL error, "" for other errors.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// constraintOf returns the constraint a PostgreSQL error names.
func constraintOf(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ConstraintName
	}
	return ""
}

// validText reports whether PostgreSQL can take s as text: valid UTF-8
// without NUL.
func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// badText reports whether err is PostgreSQL refusing text (see validText).
func badText(err error) bool {
	c := sqlState(err)
	return c == codeBadText || c == codeUntranslatable
}

// pgErr turns the PostgreSQL errors a caller can act on into troupe errors.
func pgErr(err error) error {
	if err == nil {
		return nil
	}
	var te *troupe.Error
	if errors.As(err, &te) {
		return err
	}
	switch sqlState(err) {
	case codeSerializationFailure, codeDeadlock:
		return troupe.Errorf(troupe.ErrConflict, "The change collided with another one at the same time; try again.")
	case codeBadText, codeUntranslatable:
		return troupe.Errorf(troupe.ErrInvalidValue, "A value contains a character that cannot be stored (such as NUL).")
	}
	return err
}

// sqlDriver is the PostgreSQL side of the core: database/sql over the
// pool, row locks (FOR UPDATE, SKIP LOCKED), transaction-scoped advisory
// locks, and changes announced with pg_notify.
type sqlDriver struct{ db *DB }

// rebound caches the core's SQL texts with $n placeholders.
var rebound sync.Map

func rebind(query string) string {
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	q := sqlstore.RebindDollar(query)
	rebound.Store(query, q)
	return q
}

func (d sqlDriver) Dialect() *sqlstore.Dialect {
	return &sqlstore.Dialect{
		Rebind:     rebind,
		Time:       func(t time.Time) any { return t },
		Bytes:      func(s string) any { return []byte(s) },
		RowLocks:   true,
		NextRunSeq: `nextval('runs_seq')`,
		ValidText:  validText,
		ByteOrder:  func(column string) string { return "convert_to(" + column + ", 'UTF8')" },
		BadText:    badText,
		Unique: func(err error) (string, bool) {
			return constraintOf(err), sqlState(err) == codeUniqueViolation
		},
	}
}

// Write runs fn in a read-committed transaction and commits when fn
// returns nil. Errors PostgreSQL reports about concurrency (a deadlock, a
// serialization failure) come back as conflict, and text it cannot store
// (a NUL character) as invalid-value.
func (d sqlDriver) Write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.db.sql.BeginTx(ctx, nil)
	if err != nil {
		return pgErr(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return pgErr(err)
	}
	return pgErr(tx.Commit())
}

// Read runs fn in a read-only transaction that sees one snapshot.
func (d sqlDriver) Read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.db.sql.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

func (d sqlDriver) ReadDB() *sql.DB { return d.db.sql }

// Lock takes a transaction-scoped advisory lock on key.
func (d sqlDriver) Lock(ctx context.Context, tx *sql.Tx, key string) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key)
	return err
}

// Notify sends the change of id on Channel when tx commits.
func (d sqlDriver) Notify(ctx context.Context, tx *sql.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, Channel, d.db.origin+" "+id); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

func (d sqlDriver) Publish(id string) { d.db.hub.Publish(id) }
