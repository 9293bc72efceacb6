package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/troupehq/troupe"
)

// AppendLog implements troupe.LogStore. Empty text is ignored. Appends to
// one job take turns (an advisory lock on the job id, held until commit),
// so a job's chunks get sequence numbers in the order they commit. It is
// one round trip: the lock, the insert and the notification go in one
// batch, which PostgreSQL runs as one transaction. Log watchers of the job
// (WatchLog) are signalled after commit, in every process.
func (db *DB) AppendLog(ctx context.Context, jobID string, text []byte) error {
	if len(text) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 1))`, jobID)
	b.Queue(`INSERT INTO logs (job_id, data) VALUES ($1, $2)`, jobID, text)
	b.Queue(`SELECT pg_notify($1, $2)`, Channel, db.origin+" "+logKey(jobID))
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return pgErr(fmt.Errorf("append log: %w", err))
	}
	db.publish(logKey(jobID))
	return nil
}

// ReadLog implements troupe.LogStore. Sequence numbers grow across all jobs,
// so they are increasing but not consecutive within one job's log. A job
// without a log reads as empty. A call returns about troupe.LogReadBytes
// at most.
func (db *DB) ReadLog(ctx context.Context, jobID string, afterSeq int64) ([]byte, int64, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT seq, data FROM logs WHERE job_id = $1 AND seq > $2 ORDER BY seq`, jobID, afterSeq)
	if err != nil {
		return nil, afterSeq, fmt.Errorf("read log: %w", err)
	}
	defer rows.Close()
	var out []byte
	last := afterSeq
	for rows.Next() {
		var seq int64
		var chunk []byte
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
		if badText(err) { // an id no job can have
			return nil, afterSeq, nil
		}
		return nil, afterSeq, fmt.Errorf("read log: %w", err)
	}
	return out, last, nil
}
