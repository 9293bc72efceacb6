package sqlstore

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
// item_count (the seq of its next item), locking the dataset's row where
// the database locks rows (so pushes to one dataset, from any process, take
// turns), has the driver insert the items and adds to the counters. Items
// are validated and compacted before the transaction begins. A read turns
// its window into a seq range once and then has the driver read it in
// chunks, each one short query bounded in items and in bytes whose rows are
// copied out and closed before the caller sees them, so that no snapshot
// stays open while a slow client consumes a large dataset.

const dsKind = string(troupe.KindDataset)

// keepChunkBytes bounds the read buffers kept for the next read.
const keepChunkBytes = 8 << 20

// chunkBuf holds the items of one chunk of a read; chunkBufs keeps them
// between reads.
type chunkBuf struct {
	data []byte
	ends []int
}

var chunkBufs = sync.Pool{New: func() any {
	return &chunkBuf{data: make([]byte, 0, 64<<10), ends: make([]int, 0, 64)}
}}

// PushItems implements troupe.DatasetStore.
func (s *Store) PushItems(ctx context.Context, datasetID string, items []json.RawMessage) error {
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
	now := s.t(norm(s.now()))
	return s.write(ctx, func(c conn, tx *sql.Tx) error {
		var next int64
		err := c.QueryRow(ctx, `SELECT item_count FROM storages WHERE id = ? AND kind = ?`+s.forUpdate(""),
			datasetID, dsKind).Scan(&next)
		if err != nil {
			return s.notFound(err, "Dataset")
		}
		if len(items) == 0 {
			return nil
		}
		if err := s.d.InsertItems(ctx, tx, datasetID, next, data, ends); err != nil {
			return fmt.Errorf("insert items: %w", err)
		}
		_, err = c.Exec(ctx, `UPDATE storages SET item_count = item_count + ?,
			clean_item_count = clean_item_count + ?, modified_at = ?, accessed_at = ? WHERE id = ?`,
			len(items), clean, now, now, datasetID)
		if err != nil {
			return fmt.Errorf("count items: %w", err)
		}
		return nil
	})
}

// ReadItems implements troupe.DatasetStore.
func (s *Store) ReadItems(ctx context.Context, datasetID string, o troupe.ItemWindow, fn func(p troupe.ItemPage, item []byte) error) (troupe.ItemPage, error) {
	var total int
	err := s.reader().QueryRow(ctx, `SELECT item_count FROM storages WHERE id = ? AND kind = ?`,
		datasetID, dsKind).Scan(&total)
	if err != nil {
		return troupe.ItemPage{}, s.notFound(err, "Dataset")
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

	cb := chunkBufs.Get().(*chunkBuf)
	defer chunkBufs.Put(cb)
	buf, ends := cb.data[:0], cb.ends[:0]
	defer func() {
		// Keep the grown buffers for the next read, unless one huge item
		// made them too large to be worth keeping.
		if cap(buf) <= keepChunkBytes {
			cb.data, cb.ends = buf[:0], ends[:0]
		}
	}()
	for lo < hi {
		buf, ends = buf[:0], ends[:0]
		last, err := s.d.ReadItems(ctx, datasetID, lo, hi, o.Desc, &buf, &ends)
		if err != nil {
			return p, fmt.Errorf("read items: %w", err)
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

// ScanItems reads rows of (seq, data) into buf, appending each item's end
// offset to ends, and stops once maxBytes are buffered (a single larger item
// is still read whole). It returns the seq of the last item read and closes
// rows.
func ScanItems(rows *sql.Rows, maxBytes int, buf *[]byte, ends *[]int) (int, error) {
	defer rows.Close()
	last := 0
	for rows.Next() {
		var data sql.RawBytes
		if err := rows.Scan(&last, &data); err != nil {
			return 0, err
		}
		*buf = append(*buf, data...)
		*ends = append(*ends, len(*buf))
		if len(*buf) >= maxBytes {
			break
		}
	}
	return last, rows.Err()
}
