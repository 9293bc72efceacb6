package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Setting implements troupe.Store: the stored value of key, after storing
// def when key had none. Concurrent first calls, from any process, agree on
// one value: an insert that meets another waits for it to commit and keeps
// the value already there, which the last query (a new snapshot) reads.
func (db *DB) Setting(ctx context.Context, key, def string) (string, error) {
	var v string
	err := db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", pgErr(fmt.Errorf("read setting: %w", err))
	}
	err = db.pool.QueryRow(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO NOTHING RETURNING value`, key, def).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", pgErr(fmt.Errorf("store setting: %w", err))
	}
	if err := db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v); err != nil {
		return "", fmt.Errorf("read setting: %w", err)
	}
	return v, nil
}
