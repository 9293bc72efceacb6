package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

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
	if len(text) == 0 {
		return nil
	}
	key := sqlstore.LogKey(jobID)
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key)
	b.Queue(`INSERT INTO logs (job_id, data) VALUES ($1, $2)`, jobID, text)
	b.Queue(`SELECT pg_notify($1, $2)`, Channel, db.origin+" "+key)
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return pgErr(fmt.Errorf("append log: %w", err))
	}
	db.publish(key)
	return nil
}
