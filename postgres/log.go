package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/sqlstore"
)

// AppendLog implements troupe.LogStore, as the core's AppendLog does, in
// one round trip: the job's lock, the insert and the notification go in one
// batch, which PostgreSQL runs as one transaction. Empty text is ignored.
// Appends to one job take turns (an advisory lock on the job id, held until
// commit), so a job's chunks get sequence numbers in the order they commit.
// Log watchers of the job (WatchLog) are signalled after commit, in every
// process.
func (db *DB) AppendLog(ctx context.Context, jobID string, text []byte) error {
	return db.appendLog(ctx, jobID, text, nil)
}

// AppendMarkedLog implements troupe.LogStore as AppendLog does, the mark in
// the chunk's row.
func (db *DB) AppendMarkedLog(ctx context.Context, jobID string, text []byte, mark troupe.LogMark) error {
	return db.appendLog(ctx, jobID, text, &mark)
}

func (db *DB) appendLog(ctx context.Context, jobID string, text []byte, mark *troupe.LogMark) error {
	if len(text) == 0 {
		return nil
	}
	key := sqlstore.LogKey(jobID)
	gen, lines := sqlstore.LogMarkArgs(mark)
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key)
	b.Queue(`INSERT INTO logs (job_id, data, proc_gen, proc_lines) VALUES ($1, $2, $3, $4)`, jobID, text, gen, lines)
	b.Queue(`SELECT pg_notify($1, $2)`, Channel, db.origin+" "+key)
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return pgErr(fmt.Errorf("append log: %w", err))
	}
	db.publish(key)
	return nil
}
