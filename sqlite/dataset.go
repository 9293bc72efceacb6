package sqlite

import (
	"context"
	"database/sql"

	"github.com/troupehq/troupe/internal/sqlstore"
)

// Dataset items in SQLite: a push inserts insertBatchRows items per
// statement, each statement prepared once per push; a read chunk is one
// query bounded in items, and stops once readChunkBytes are buffered.

// insertBatchRows is how many items one INSERT statement writes.
const insertBatchRows = 64

// Chunks of a dataset read: at most this many items, and no more rows once
// this many bytes are buffered (a single larger item is still read whole).
const (
	readChunkItems = 1000
	readChunkBytes = 1 << 20
)

// InsertItems inserts the items data[ends[i-1]:ends[i]] with seq from
// first, insertBatchRows per statement.
func (d sqlDriver) InsertItems(ctx context.Context, tx *sql.Tx, datasetID string, first int64, data []byte, ends []int) error {
	const one = `(?, ?, ?)`
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, s := range stmts {
			s.Close()
		}
	}()
	args := make([]any, 0, 3*insertBatchRows)
	start := 0
	for i := 0; i < len(ends); i += insertBatchRows {
		n := min(insertBatchRows, len(ends)-i)
		stmt := stmts[n]
		if stmt == nil {
			q := `INSERT INTO dataset_items (dataset_id, seq, data) VALUES ` + one
			for range n - 1 {
				q += `, ` + one
			}
			var err error
			if stmt, err = tx.PrepareContext(ctx, q); err != nil {
				return err
			}
			stmts[n] = stmt
		}
		args = args[:0]
		for j := i; j < i+n; j++ {
			args = append(args, datasetID, first+int64(j), data[start:ends[j]])
			start = ends[j]
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

const (
	readItemsAsc  = `SELECT seq, data FROM dataset_items WHERE dataset_id = ? AND seq >= ? AND seq < ? ORDER BY seq LIMIT ?`
	readItemsDesc = `SELECT seq, data FROM dataset_items WHERE dataset_id = ? AND seq >= ? AND seq < ? ORDER BY seq DESC LIMIT ?`
)

// ReadItems reads up to readChunkItems items of the seq range [lo, hi),
// until readChunkBytes are buffered.
func (d sqlDriver) ReadItems(ctx context.Context, datasetID string, lo, hi int, desc bool, buf *[]byte, ends *[]int) (int, error) {
	query := readItemsAsc
	if desc {
		query = readItemsDesc
	}
	rows, err := d.db.r.QueryContext(ctx, query, datasetID, lo, hi, readChunkItems)
	if err != nil {
		return 0, err
	}
	return sqlstore.ScanItems(rows, readChunkBytes, buf, ends)
}
