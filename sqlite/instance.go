package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Heartbeat records that the instance is alive at now.
func (db *DB) Heartbeat(ctx context.Context, instance string, now time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO instances (name, heartbeat_at) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`, instance, now.UnixMilli())
		if err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		return nil
	})
}

// Instances returns the last heartbeat of every instance.
func (db *DB) Instances(ctx context.Context) (map[string]time.Time, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT name, heartbeat_at FROM instances`)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var name string
		var ms int64
		if err := rows.Scan(&name, &ms); err != nil {
			return nil, err
		}
		out[name] = time.UnixMilli(ms).UTC()
	}
	return out, rows.Err()
}
