package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/troupehq/troupe"
)

// AppendLog implements troupe.LogStore. Empty text is ignored. Log
// watchers of the job (WatchLog) are signalled after commit.
func (db *DB) AppendLog(ctx context.Context, jobID string, text []byte) error {
	if len(text) == 0 {
		return nil
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO logs (job_id, data) VALUES (?, ?)`, jobID, text); err != nil {
			return fmt.Errorf("append log: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	db.hub.Publish(logKey(jobID))
	return nil
}

// ReadLog implements troupe.LogStore. Sequence numbers grow across all jobs,
// so they are increasing but not consecutive within one job's log. A job
// without a log reads as empty. A call returns about troupe.LogReadBytes
// at most.
func (db *DB) ReadLog(ctx context.Context, jobID string, afterSeq int64) ([]byte, int64, error) {
	rows, err := db.r.QueryContext(ctx,
		`SELECT seq, data FROM logs WHERE job_id = ? AND seq > ? ORDER BY seq`, jobID, afterSeq)
	if err != nil {
		return nil, afterSeq, fmt.Errorf("read log: %w", err)
	}
	defer rows.Close()
	var out []byte
	last := afterSeq
	for rows.Next() {
		var seq int64
		var chunk sql.RawBytes
		if err := rows.Scan(&seq, &chunk); err != nil {
			return nil, afterSeq, fmt.Errorf("read log: %w", err)
		}
		out = append(out, chunk...)
		last = seq
		if len(out) >= troupe.LogReadBytes {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, afterSeq, fmt.Errorf("read log: %w", err)
	}
	return out, last, nil
}
