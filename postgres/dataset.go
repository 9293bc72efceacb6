package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/troupehq/troupe"
)

// Datasets. A push is one transaction: it locks the dataset's storages row
// (so pushes to one dataset, from any process, take turns), reads its
// item_count (the seq of its next item), inserts the whole batch with one
// statement and adds to the counters. Items are validated and compacted
// before the transaction begins. A read turns its window into a seq range
// once and then reads it in chunks, each one short query bounded in items
// and in bytes, so that no snapshot stays open while a slow client consumes
// a large dataset.

const dsKind = string(troupe.KindDataset)

// Chunks of a dataset read: at most this many items, and no item that
// starts after this many bytes (a single larger item is still read whole).
const (
	readChunkItems = 1000
	readChunkBytes = 4 << 20
)

// PushItems implements troupe.DatasetStore.
func (db *DB) PushItems(ctx context.Context, datasetID string, items []json.RawMessage) error {
	size := 0
	for _, it := range items {
		size += len(it)
	}
	var buf bytes.Buffer
	buf.Grow(size)
	rows := make([][]byte, len(items))
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
		rows[i] = buf.Bytes()[start:buf.Len():buf.Len()]
	}
	// The buffer never grew past size, so the slices point into its final
	// array.
	now := norm(db.now())
	return db.write(ctx, func(tx pgx.Tx) error {
		var next int64
		err := tx.QueryRow(ctx, `SELECT item_count FROM storages WHERE id = $1 AND kind = $2 FOR UPDATE`,
			datasetID, dsKind).Scan(&next)
		if err != nil {
			return notFound(err, "Dataset")
		}
		if len(items) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO dataset_items (dataset_id, seq, data)
			SELECT $1, $2 + u.i - 1, u.d FROM unnest($3::bytea[]) WITH ORDINALITY AS u(d, i)`,
			datasetID, next, rows); err != nil {
			return fmt.Errorf("insert items: %w", err)
		}
		_, err = tx.Exec(ctx, `UPDATE storages SET item_count = item_count + $1,
			clean_item_count = clean_item_count + $2, modified_at = $3, accessed_at = $3 WHERE id = $4`,
			len(items), clean, now, datasetID)
		if err != nil {
			return fmt.Errorf("count items: %w", err)
		}
		return nil
	})
}

// ReadItems implements troupe.DatasetStore.
func (db *DB) ReadItems(ctx context.Context, datasetID string, o troupe.ItemWindow, fn func(p troupe.ItemPage, item []byte) error) (troupe.ItemPage, error) {
	var total int
	err := db.pool.QueryRow(ctx, `SELECT item_count FROM storages WHERE id = $1 AND kind = $2`,
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

	// The running sum stops a chunk at readChunkBytes without reading the
	// items after it: only the rows the outer query keeps are detoasted.
	dir := "ASC"
	if o.Desc {
		dir = "DESC"
	}
	query := `SELECT seq, data FROM (
			SELECT seq, data, SUM(octet_length(data)) OVER (ORDER BY seq ` + dir + ` ROWS UNBOUNDED PRECEDING)
				- octet_length(data) AS before
			FROM dataset_items WHERE dataset_id = $1 AND seq >= $2 AND seq < $3
			ORDER BY seq ` + dir + ` LIMIT $4
		) chunk WHERE before < $5 ORDER BY seq ` + dir
	var buf []byte
	var ends []int
	for lo < hi {
		buf, ends = buf[:0], ends[:0]
		last, err := readChunk(ctx, db, query, datasetID, lo, hi, &buf, &ends)
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

// readChunk reads one chunk of the seq range [lo, hi) in the query's order,
// appending the items' data to buf and each end offset to ends. It returns
// the seq of the last item read.
func readChunk(ctx context.Context, db *DB, query, datasetID string, lo, hi int, buf *[]byte, ends *[]int) (int, error) {
	rows, err := db.pool.Query(ctx, query, datasetID, lo, hi, readChunkItems, readChunkBytes)
	if err != nil {
		return 0, fmt.Errorf("read items: %w", err)
	}
	defer rows.Close()
	var last int64
	for rows.Next() {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return 0, fmt.Errorf("read items: %w", err)
		}
		last = seq
		*buf = append(*buf, data...)
		*ends = append(*ends, len(*buf))
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read items: %w", err)
	}
	return int(last), nil
}

// ListKeys implements troupe.RecordStore. Keys are bytea, which compare as
// bytes: UTF-8 byte order.
func (db *DB) ListKeys(ctx context.Context, storeID, exclusiveStartKey, prefix string, limit int) (*troupe.KeyPage, error) {
	if limit <= 0 || limit > troupe.MaxKeyListLimit {
		limit = troupe.MaxKeyListLimit
	}
	query := `SELECT key, size FROM records WHERE store_id = $1`
	args := []any{storeID}
	if exclusiveStartKey != "" {
		args = append(args, []byte(exclusiveStartKey))
		query += fmt.Sprintf(` AND key > $%d`, len(args))
	}
	if prefix != "" {
		args = append(args, []byte(prefix))
		query += fmt.Sprintf(` AND key >= $%d`, len(args))
		if end, ok := prefixEnd(prefix); ok {
			args = append(args, []byte(end))
			query += fmt.Sprintf(` AND key < $%d`, len(args))
		}
	}
	args = append(args, limit+1)
	query += fmt.Sprintf(` ORDER BY key LIMIT $%d`, len(args))

	page := &troupe.KeyPage{Keys: []troupe.KeyInfo{}}
	err := db.read(ctx, func(tx pgx.Tx) error {
		exists, err := rowExists(ctx, tx, `SELECT 1 FROM storages WHERE id = $1 AND kind = $2`,
			storeID, string(troupe.KindKeyValueStore))
		if err != nil {
			return notFound(fmt.Errorf("find store: %w", err), "Key-value store")
		}
		if !exists {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Key-value store was not found")
		}
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var key []byte
			var k troupe.KeyInfo
			if err := rows.Scan(&key, &k.Size); err != nil {
				return fmt.Errorf("list keys: %w", err)
			}
			k.Key = string(key)
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
