package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Setting implements troupe.Store: the stored value of key, after storing
// def when key had none.
func (db *DB) Setting(ctx context.Context, key, def string) (string, error) {
	var v string
	err := db.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read setting: %w", err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, def); err != nil {
			return fmt.Errorf("store setting: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v); err != nil {
			return fmt.Errorf("read setting: %w", err)
		}
		return nil
	})
	return v, err
}
