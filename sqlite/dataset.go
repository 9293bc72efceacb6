package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/troupehq/troupe"
)

// Datasets. A push is one write transaction: it reads the dataset's
// item_count (the seq of its next item), inserts the items and adds to the
// counters. Items are validated and compacted before the write lock is
// taken. A read turns its window into a seq range once and then reads it in
// chunks, each a short query whose rows are copied out and closed before the
// caller sees them, so no read snapshot stays open while a slow client
// consumes a large dataset.

const dsKind = string(troupe.KindDataset)

// Chunks of a dataset read: at most this many items, and no more rows once
// this many bytes are buffered (a single larger item is still read whole).
const (
	readChunkItems = 1000
	readChunkBytes = 1 << 20
)

// chunkBuf holds the items of one chunk of a read; chunkBufs keeps them
// between reads.
type chunkBuf struct {
	data []byte
	ends []int
}

var chunkBufs = sync.Pool{New: func() any {
	return &chunkBuf{data: make([]byte, 0, 64<<10), ends: make([]int, 0, 64)}
}}

// insertBatchRows is how many items one INSERT statement writes.
const insertBatchRows = 64

// PushItems implements troupe.DatasetStore.
func (db *DB) PushItems(ctx context.Context, datasetID string, items []json.RawMessage) error {
	size := 0
	for _, it := range items {
		size += len(it)
	}
	var buf bytes.Buffer
	buf.Grow(size)
	ends := make([]int, len(items))
	clean := 0
	for i, it := range items {
		start := buf.Len()
		if err := json.Compact(&buf, it); err != nil {
			return troupe.Errorf(troupe.ErrInvalidInput, "Item %d of the batch (counting from 0) is not valid JSON: %v.", i, err)
		}
		if buf.Len() == start || buf.Bytes()[start] != '{' {
			return troupe.Errorf(troupe.ErrInvalidInput, "Item %d of the batch (counting from 0) is not a JSON object; dataset items must be objects.", i)
		}
		if troupe.CleanItem(buf.Bytes()[start:]) {
			clean++
		}
		ends[i] = buf.Len()
	}
	data := buf.Bytes()
	now := ms(db.now())
	return db.write(ctx, func(tx *sql.Tx) error {
		var next int64
		err := tx.QueryRowContext(ctx, `SELECT item_count FROM storages WHERE id = ? AND kind = ?`,
			datasetID, dsKind).Scan(&next)
		if err != nil {
			return notFound(err, "Dataset")
		}
		if len(items) == 0 {
			return nil
		}
		if err := insertItems(ctx, tx, datasetID, next, data, ends); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE storages SET item_count = item_count + ?,
			clean_item_count = clean_item_count + ?, modified_at = ?, accessed_at = ? WHERE id = ?`,
			len(items), clean, now, now, datasetID)
		if err != nil {
			return fmt.Errorf("count items: %w", err)
		}
		return nil
	})
}

// insertItems inserts the items data[ends[i-1]:ends[i]] with seq from
// first, insertBatchRows per statement.
func insertItems(ctx context.Context, tx *sql.Tx, datasetID string, first int64, data []byte, ends []int) error {
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
				return fmt.Errorf("insert items: %w", err)
			}
			stmts[n] = stmt
		}
		args = args[:0]
		for j := i; j < i+n; j++ {
			args = append(args, datasetID, first+int64(j), data[start:ends[j]])
			start = ends[j]
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert items: %w", err)
		}
	}
	return nil
}

// ReadItems implements troupe.DatasetStore.
func (db *DB) ReadItems(ctx context.Context, datasetID string, o troupe.ItemWindow, fn func(p troupe.ItemPage, item []byte) error) (troupe.ItemPage, error) {
	var total int
	err := db.r.QueryRowContext(ctx, `SELECT item_count FROM storages WHERE id = ? AND kind = ?`,
		datasetID, dsKind).Scan(&total)
	if err != nil {
		return troupe.ItemPage{}, notFound(err, "Dataset")
	}
	if o.UpTo > 0 && o.UpTo < total {
		total = o.UpTo
	}
	offset := max(o.Offset, 0)
	count := max(total-offset, 0)
	if o.Limit > 0 {
		count = min(count, o.Limit)
	}
	p := troupe.ItemPage{Total: total, Count: count}
	// The window is the seq range [lo, hi).
	lo, hi := offset, offset+count
	if o.Desc {
		lo, hi = total-offset-count, total-offset
	}

	query := `SELECT seq, data FROM dataset_items WHERE dataset_id = ? AND seq >= ? AND seq < ? ORDER BY seq LIMIT ?`
	if o.Desc {
		query = `SELECT seq, data FROM dataset_items WHERE dataset_id = ? AND seq >= ? AND seq < ? ORDER BY seq DESC LIMIT ?`
	}
	cb := chunkBufs.Get().(*chunkBuf)
	defer chunkBufs.Put(cb)
	buf, ends := cb.data[:0], cb.ends[:0]
	defer func() {
		// Keep the grown buffers for the next read, unless one huge item
		// made them too large to be worth keeping.
		if cap(buf) <= 2*readChunkBytes {
			cb.data, cb.ends = buf[:0], ends[:0]
		}
	}()
	for lo < hi {
		buf, ends = buf[:0], ends[:0]
		last, err := readChunk(ctx, db.r, query, datasetID, lo, hi, &buf, &ends)
		if err != nil {
			return p, err
		}
		if len(ends) == 0 {
			break // the dataset was deleted meanwhile
		}
		if o.Desc {
			hi = last
		} else {
			lo = last + 1
		}
		start := 0
		for _, end := range ends {
			if err := fn(p, buf[start:end]); err != nil {
				return p, err
			}
			start = end
		}
		if err := ctx.Err(); err != nil {
			return p, err
		}
	}
	return p, nil
}

// readChunk reads up to readChunkItems items of the seq range [lo, hi) in
// the query's order, appending their data to buf and each end offset to
// ends, until readChunkBytes are buffered. It returns the seq of the last
// item read.
func readChunk(ctx context.Context, q queryer, query, datasetID string, lo, hi int, buf *[]byte, ends *[]int) (int, error) {
	rows, err := q.QueryContext(ctx, query, datasetID, lo, hi, readChunkItems)
	if err != nil {
		return 0, fmt.Errorf("read items: %w", err)
	}
	defer rows.Close()
	last := 0
	for rows.Next() {
		var data sql.RawBytes
		if err := rows.Scan(&last, &data); err != nil {
			return 0, fmt.Errorf("read items: %w", err)
		}
		*buf = append(*buf, data...)
		*ends = append(*ends, len(*buf))
		if len(*buf) >= readChunkBytes {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read items: %w", err)
	}
	return last, nil
}

// ListKeys implements troupe.RecordStore. Keys compare as bytes (SQLite's
// BINARY collation), which is UTF-8 byte order.
func (db *DB) ListKeys(ctx context.Context, storeID, exclusiveStartKey, prefix string, limit int) (*troupe.KeyPage, error) {
	if limit <= 0 || limit > troupe.MaxKeyListLimit {
		limit = troupe.MaxKeyListLimit
	}
	query := `SELECT key, size FROM records WHERE store_id = ?`
	args := []any{storeID}
	if exclusiveStartKey != "" {
		query += ` AND key > ?`
		args = append(args, exclusiveStartKey)
	}
	if prefix != "" {
		query += ` AND key >= ?`
		args = append(args, prefix)
		if end, ok := prefixEnd(prefix); ok {
			query += ` AND key < ?`
			args = append(args, end)
		}
	}
	query += ` ORDER BY key LIMIT ?`
	args = append(args, limit+1)

	page := &troupe.KeyPage{Keys: []troupe.KeyInfo{}}
	err := db.read(ctx, func(tx *sql.Tx) error {
		exists, err := rowExists(ctx, tx, `SELECT 1 FROM storages WHERE id = ? AND kind = ?`,
			storeID, string(troupe.KindKeyValueStore))
		if err != nil {
			return fmt.Errorf("find store: %w", err)
		}
		if !exists {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Key-value store was not found")
		}
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var k troupe.KeyInfo
			if err := rows.Scan(&k.Key, &k.Size); err != nil {
				return fmt.Errorf("list keys: %w", err)
			}
			page.Keys = append(page.Keys, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	if len(page.Keys) > limit {
		page.Keys = page.Keys[:limit]
		page.IsTruncated = true
		page.NextExclusiveStartKey = page.Keys[limit-1].Key
	}
	return page, nil
}

// prefixEnd returns the least string greater than every string that starts
// with prefix, in byte order; false when there is none (prefix is all 0xff
// bytes).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
