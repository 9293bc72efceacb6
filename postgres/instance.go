package postgres

import (
	"context"
	"fmt"
	"time"
)

// Heartbeat implements troupe.InstanceStore: it records that the instance
// is alive at now (the caller's clock, at millisecond precision).
func (db *DB) Heartbeat(ctx context.Context, instance string, now time.Time) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO instances (name, heartbeat_at) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`, instance, norm(now))
	if err != nil {
		return pgErr(fmt.Errorf("heartbeat: %w", err))
	}
	return nil
}

// Instances implements troupe.InstanceStore: the last heartbeat of every
// instance.
func (db *DB) Instances(ctx context.Context) (map[string]time.Time, error) {
	rows, err := db.pool.Query(ctx, `SELECT name, heartbeat_at FROM instances`)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var name string
		var at time.Time
		if err := rows.Scan(&name, &at); err != nil {
			return nil, fmt.Errorf("list instances: %w", err)
		}
		out[name] = at.UTC()
	}
	return out, rows.Err()
}
