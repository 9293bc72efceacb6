// Package sqlstore is the part of troupe's SQL stores written once: the
// rules of request queues, storages and their counters, datasets, records,
// actors, builds, runs, logs and migrations, above a thin Driver that each
// database (sqlite, postgres) implements.
//
// The core speaks database/sql and writes its SQL once, with ? placeholders
// and times, byte-ordered keys and row locks passed through the Dialect. A
// driver keeps only what differs between databases: its connections and
// transactions, its locking style (SQLite: one writer, so no row locks;
// PostgreSQL: SELECT … FOR UPDATE, SKIP LOCKED and advisory locks), its
// change notifications and the few statements whose SQL differs.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/codec"
)

// Driver is what a database gives the core.
type Driver interface {
	// Dialect returns how the database's SQL differs from the core's.
	Dialect() *Dialect
	// Write runs fn in a write transaction and commits when fn returns
	// nil. Errors the database reports about concurrency come back as
	// troupe conflict errors.
	Write(ctx context.Context, fn func(tx *sql.Tx) error) error
	// Read runs fn in a read-only transaction that sees one snapshot.
	Read(ctx context.Context, fn func(tx *sql.Tx) error) error
	// ReadDB is where single reads outside a transaction go.
	ReadDB() *sql.DB
	// Lock takes a lock named key that tx holds until it ends, so that
	// transactions that take the same key take turns. A database with a
	// single writer holds every lock already.
	Lock(ctx context.Context, tx *sql.Tx, key string) error
	// Notify makes tx announce to other processes, when it commits, that
	// the job, build or queue id (or a "log:" key) changed.
	Notify(ctx context.Context, tx *sql.Tx, id string) error
	// Publish signals this process's watchers of id; the core calls it
	// after the transaction that changed id committed.
	Publish(id string)

	// InsertItems inserts, in tx, the dataset items data[ends[i-1]:ends[i]]
	// with seq first+i.
	InsertItems(ctx context.Context, tx *sql.Tx, datasetID string, first int64, data []byte, ends []int) error
	// ReadItems reads one chunk, bounded in items and in bytes, of a
	// dataset's seq range [lo, hi), in seq order (descending with desc),
	// appending the items' data to buf and each end offset to ends. It
	// returns the seq of the last item read.
	ReadItems(ctx context.Context, datasetID string, lo, hi int, desc bool, buf *[]byte, ends *[]int) (int, error)
}

// Dialect is how a database's SQL and values differ from the core's.
type Dialect struct {
	// Rebind turns the core's ? placeholders into the database's; nil
	// keeps them.
	Rebind func(query string) string
	// Time is the value a time is stored as; stored times compare in
	// time order. Times scan through NullTime.
	Time func(t time.Time) any
	// Bytes is the value of a string kept in byte order (record keys).
	Bytes func(s string) any
	// RowLocks makes reads that precede a write lock the rows they read
	// (FOR UPDATE), and LockHead skip rows another transaction holds
	// (SKIP LOCKED). A database with a single writer needs neither.
	RowLocks bool
	// ValidText reports whether the database can take s as text; nil
	// takes any string. A key it cannot take names nothing stored.
	ValidText func(s string) bool
	// ByteOrder is the SQL expression of a text column's bytes, to
	// compare it with a key ValidText refuses; used only then.
	ByteOrder func(column string) string
	// BadText reports whether err is the database refusing text; nil
	// when it refuses none.
	BadText func(err error) bool
	// NextRunSeq is the SQL expression of the next number of the sequence
	// that orders runs created in the same millisecond.
	NextRunSeq string
	// Unique returns the constraint (or index) a unique violation names,
	// and whether err is one.
	Unique func(err error) (constraint string, ok bool)
}

// Store is the troupe.Store methods written once over a Driver. A
// database's store embeds it and adds connection handling, Watch and
// Close.
type Store struct {
	d   Driver
	dl  *Dialect
	now func() time.Time
	// actors keeps decoded actors (see actorCache).
	actors *actorCache
}

// New returns the core over d; now is the clock it stamps times with.
func New(d Driver, now func() time.Time) *Store {
	dl := d.Dialect()
	if dl.Rebind == nil {
		dl.Rebind = func(q string) string { return q }
	}
	return &Store{d: d, dl: dl, now: now, actors: &actorCache{}}
}

// Now returns the store's clock reading.
func (s *Store) Now() time.Time { return s.now() }

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs the core's SQL on a transaction or the read pool, with its
// placeholders rebound for the database.
type conn struct {
	q      querier
	rebind func(string) string
}

func (s *Store) tx(tx *sql.Tx) conn { return conn{tx, s.dl.Rebind} }
func (s *Store) reader() conn       { return conn{s.d.ReadDB(), s.dl.Rebind} }
func (c conn) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.q.ExecContext(ctx, c.rebind(query), args...)
}
func (c conn) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.q.QueryContext(ctx, c.rebind(query), args...)
}
func (c conn) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return c.q.QueryRowContext(ctx, c.rebind(query), args...)
}

// exists reports whether query returns a row.
func (c conn) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var one int
	err := c.QueryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// affected is the number of rows res changed.
func affected(res sql.Result) int64 {
	n, _ := res.RowsAffected()
	return n
}

// write runs fn in a write transaction.
func (s *Store) write(ctx context.Context, fn func(c conn, tx *sql.Tx) error) error {
	return s.d.Write(ctx, func(tx *sql.Tx) error { return fn(s.tx(tx), tx) })
}

// read runs fn in a read-only transaction.
func (s *Store) read(ctx context.Context, fn func(c conn) error) error {
	return s.d.Read(ctx, func(tx *sql.Tx) error { return fn(s.tx(tx)) })
}

// forUpdate is the clause that locks the rows a read is about to change
// (of table, when not empty), on a database that locks rows.
func (s *Store) forUpdate(table string) string {
	switch {
	case !s.dl.RowLocks:
		return ""
	case table != "":
		return " FOR UPDATE OF " + table
	}
	return " FOR UPDATE"
}

// skipLocked is the clause that locks the rows a read takes, skipping rows
// another transaction holds, on a database that locks rows.
func (s *Store) skipLocked() string {
	if !s.dl.RowLocks {
		return ""
	}
	return " FOR UPDATE SKIP LOCKED"
}

// t is the stored value of a time.
func (s *Store) t(v time.Time) any { return s.dl.Time(v) }

// tp is the stored value of an optional time.
func (s *Store) tp(v *time.Time) any {
	if v == nil {
		return nil
	}
	return s.dl.Time(*v)
}

// bytes is the stored value of a byte-ordered key.
func (s *Store) bytes(v string) any {
	if s.dl.Bytes == nil {
		return v
	}
	return s.dl.Bytes(v)
}

// validText reports whether the database can take v as text.
func (s *Store) validText(v string) bool { return s.dl.ValidText == nil || s.dl.ValidText(v) }

// badText reports whether err is the database refusing text.
func (s *Store) badText(err error) bool { return s.dl.BadText != nil && s.dl.BadText(err) }

// unique reports whether err violates the named unique constraint.
func (s *Store) unique(err error, constraint string) bool {
	if s.dl.Unique == nil {
		return false
	}
	c, ok := s.dl.Unique(err)
	return ok && c == constraint
}

// notFound turns "no rows" into a record-not-found error that names what.
// A key the database cannot even compare names nothing that exists, so it
// is not found either.
func (s *Store) notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) || s.badText(err) {
		return troupe.Errorf(troupe.ErrRecordNotFound, "%s was not found", what)
	}
	return err
}

// commit publishes ids to this process's watchers after the transaction
// that changed them committed (err == nil).
func (s *Store) commit(err error, ids ...string) error {
	if err == nil {
		for _, id := range ids {
			s.d.Publish(id)
		}
	}
	return err
}

// NullTime scans a stored time, which may be NULL: a driver hands it over
// as unix milliseconds (SQLite) or as a time (PostgreSQL). Times come back
// in UTC.
type NullTime struct {
	T     time.Time
	Valid bool
}

// Scan implements sql.Scanner.
func (n *NullTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		n.T, n.Valid = time.Time{}, false
	case int64:
		n.T, n.Valid = time.UnixMilli(v).UTC(), true
	case time.Time:
		n.T, n.Valid = v.UTC(), true
	default:
		return fmt.Errorf("sqlstore: cannot scan %T as a time", src)
	}
	return nil
}

// Ptr returns the time, or nil when it was NULL.
func (n NullTime) Ptr() *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.T
	return &t
}

// page normalises list options: offset ≥ 0, limit in 1..1000.
func page(o troupe.ListOptions) (offset, limit int) {
	offset, limit = o.Offset, o.Limit
	if offset < 0 {
		offset = 0
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return offset, limit
}

func order(desc bool) string {
	if desc {
		return "DESC"
	}
	return "ASC"
}

// marks returns n placeholders separated by commas.
func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// norm puts a time in UTC truncated to milliseconds, as it reads back.
var norm = codec.Norm

// RebindDollar turns ? placeholders into $1, $2, … (the core's SQL has no
// ? inside string literals).
func RebindDollar(query string) string {
	n := strings.Count(query, "?")
	if n == 0 {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 2*n)
	i := 0
	for {
		j := strings.IndexByte(query, '?')
		if j < 0 {
			b.WriteString(query)
			return b.String()
		}
		i++
		b.WriteString(query[:j])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(i))
		query = query[j+1:]
	}
}

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface{ Scan(dest ...any) error }
