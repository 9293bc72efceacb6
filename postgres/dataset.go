package postgres

import (
	"context"
	"database/sql"
	"math"

	"github.com/troupehq/troupe/internal/sqlstore"
)

// Dataset items in PostgreSQL: a push inserts the whole batch with one
// statement (unnest of a bytea array); a read chunk is one query bounded in
// items and, by a running sum, in bytes, so that only the rows it returns
// are detoasted.

// Chunks of a dataset read: at most this many items, and no item that
// starts after this many bytes (a single larger item is still read whole).
const (
	readChunkItems = 1000
	readChunkBytes = 4 << 20
)

// InsertItems inserts the items data[ends[i-1]:ends[i]] with seq from
// first, in one statement.
func (d sqlDriver) InsertItems(ctx context.Context, tx *sql.Tx, datasetID string, first int64, data []byte, ends []int) error {
	rows := make([][]byte, len(ends))
	start := 0
	for i, end := range ends {
		rows[i] = data[start:end:end]
		start = end
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO dataset_items (dataset_id, seq, data)
		SELECT $1, $2 + u.i - 1, u.d FROM unnest($3::bytea[]) WITH ORDINALITY AS u(d, i)`,
		datasetID, first, rows)
	return err
}

// readItems reads a chunk of items in each order: the running sum stops it
// at readChunkBytes without reading the items after it.
var readItems = [2]string{readItemsQuery("ASC"), readItemsQuery("DESC")}

func readItemsQuery(dir string) string {
	return `SELECT seq, data FROM (
			SELECT seq, data, SUM(octet_length(data)) OVER (ORDER BY seq ` + dir + ` ROWS UNBOUNDED PRECEDING)
				- octet_length(data) AS before
			FROM dataset_items WHERE dataset_id = $1 AND seq >= $2 AND seq < $3
			ORDER BY seq ` + dir + ` LIMIT $4
		) chunk WHERE before < $5 ORDER BY seq ` + dir
}

// ReadItems reads one chunk of the seq range [lo, hi).
func (d sqlDriver) ReadItems(ctx context.Context, datasetID string, lo, hi int, desc bool, buf *[]byte, ends *[]int) (int, error) {
	query := readItems[0]
	if desc {
		query = readItems[1]
	}
	rows, err := d.db.sql.QueryContext(ctx, query, datasetID, lo, hi, readChunkItems, readChunkBytes)
	if err != nil {
		return 0, err
	}
	// The query bounds the chunk in bytes already.
	return sqlstore.ScanItems(rows, math.MaxInt, buf, ends)
}
