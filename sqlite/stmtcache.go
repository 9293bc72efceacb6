package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net/url"
	"reflect"
	"strings"

	msqlite "modernc.org/sqlite"
)

// maxCachedStmts bounds the prepared statements kept per connection. The
// store's SQL is a small set of texts (lists vary by filter shape); past
// the bound, further texts are prepared per call as without a cache.
const maxCachedStmts = 256

// openConnector returns a connector for dsn whose connections keep their
// prepared statements. database/sql prepares, runs and finalizes a statement
// for every Query and Exec that has no *sql.Stmt; with the pure-Go SQLite,
// parsing the SQL text was about a sixth of the server's CPU time for a run's
// lifecycle and for GET run. A connection here prepares each SQL text with
// arguments once and reuses it.
func openConnector(dsn string) (driver.Connector, error) {
	base, err := msqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	begin := "BEGIN"
	if _, query, ok := strings.Cut(dsn, "?"); ok {
		if q, err := url.ParseQuery(query); err == nil && q.Get("_txlock") != "" {
			begin = "BEGIN " + strings.ToUpper(q.Get("_txlock"))
		}
	}
	return stmtCacheConnector{base, begin}, nil
}

type stmtCacheConnector struct {
	base  driver.Connector
	begin string // the BEGIN of a transaction that may write
}

func (c stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newStmtCacheConn(dc, c.begin)
}

func (c stmtCacheConnector) Driver() driver.Driver { return c.base.Driver() }

// conn is what a connection of the SQLite driver implements.
type conn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// stmtCacheConn wraps a driver connection. database/sql uses a connection
// from one goroutine at a time, so the cache needs no lock.
type stmtCacheConn struct {
	conn
	stmts map[string]*cachedStmt
	begin string
}

// cachedStmt is a prepared statement; busy is set while rows read from it
// are open, during which the same SQL is prepared afresh instead.
type cachedStmt struct {
	stmt interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	}
	busy bool
}

func newStmtCacheConn(c driver.Conn, begin string) (driver.Conn, error) {
	full, ok := c.(conn)
	if !ok {
		c.Close()
		return nil, errors.New("sqlite: driver connection lacks the context interfaces")
	}
	return &stmtCacheConn{conn: full, stmts: map[string]*cachedStmt{}, begin: begin}, nil
}

// BeginTx begins a transaction whose BEGIN, COMMIT and ROLLBACK are cached
// statements too: the driver prepares each of them afresh, about 3% of the
// server's CPU per run. A read-only transaction is a plain BEGIN, a
// writable one the connection's own (_txlock). When BEGIN fails, or COMMIT
// does, a ROLLBACK follows, so that the connection is never left inside a
// transaction database/sql does not know of (BEGIN may have taken effect
// just as ctx ended).
func (c *stmtCacheConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	begin := c.begin
	if opts.ReadOnly {
		begin = "BEGIN"
	}
	if err := c.execTx(ctx, begin); err != nil {
		_ = c.execTx(context.Background(), "ROLLBACK")
		return nil, err
	}
	return &cachedTx{c: c}, nil
}

// execTx runs a BEGIN, COMMIT or ROLLBACK through its cached statement.
func (c *stmtCacheConn) execTx(ctx context.Context, query string) error {
	var err error
	if cs := c.cached(ctx, query); cs != nil {
		_, err = cs.stmt.ExecContext(ctx, nil)
	} else {
		_, err = c.conn.ExecContext(ctx, query, nil)
	}
	return err
}

// cachedTx is a transaction begun by stmtCacheConn.BeginTx. database/sql
// rolls it back instead of committing once the context given to BeginTx
// has ended; a COMMIT that has begun runs to its end, whatever that
// context: in WAL mode it waits for no lock of another connection, and an
// interrupted one could report a failure for a transaction that is
// committed.
type cachedTx struct{ c *stmtCacheConn }

func (t *cachedTx) Commit() error {
	err := t.c.execTx(context.Background(), "COMMIT")
	if err != nil {
		_ = t.c.execTx(context.Background(), "ROLLBACK")
	}
	return err
}

func (t *cachedTx) Rollback() error { return t.c.execTx(context.Background(), "ROLLBACK") }

// Unwrap returns the driver's own connection.
func (c *stmtCacheConn) Unwrap() driver.Conn { return c.conn }

// cached returns the prepared statement for query, preparing it on first
// use, or nil when it is in use or cannot be cached.
func (c *stmtCacheConn) cached(ctx context.Context, query string) *cachedStmt {
	if cs, ok := c.stmts[query]; ok {
		if cs.busy {
			return nil
		}
		return cs
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil
	}
	s, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil // the uncached path reports the error
	}
	st, ok := s.(interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	})
	if !ok {
		s.Close()
		return nil
	}
	cs := &cachedStmt{stmt: st}
	c.stmts[query] = cs
	return cs
}

// ExecContext runs query through its cached statement when it has
// arguments. SQL without arguments (migrations, pragmas, scripts of several
// statements) takes the driver's own path.
func (c *stmtCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		if cs := c.cached(ctx, query); cs != nil {
			return cs.stmt.ExecContext(ctx, args)
		}
	}
	return c.conn.ExecContext(ctx, query, args)
}

// QueryContext is ExecContext for queries; the statement is busy until the
// rows are closed.
func (c *stmtCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		if cs := c.cached(ctx, query); cs != nil {
			rows, err := cs.stmt.QueryContext(ctx, args)
			if err != nil {
				return nil, err
			}
			cs.busy = true
			return &cachedRows{Rows: rows, cs: cs}, nil
		}
	}
	return c.conn.QueryContext(ctx, query, args)
}

// Close finalizes the cached statements and closes the connection.
func (c *stmtCacheConn) Close() error {
	var errs []error
	for q, cs := range c.stmts {
		errs = append(errs, cs.stmt.Close())
		delete(c.stmts, q)
	}
	errs = append(errs, c.conn.Close())
	return errors.Join(errs...)
}

// cachedRows frees its statement for reuse when closed.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	return err
}

// The driver's rows describe their columns; pass that on.

type columnTyper interface {
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(columnTyper); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(columnTyper); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(columnTyper); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(columnTyper); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(columnTyper); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

// openDB opens dsn with connections that cache their prepared statements.
func openDB(dsn string) (*sql.DB, error) {
	c, err := openConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}
