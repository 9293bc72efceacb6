package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/troupehq/troupe"
)

// Setting implements troupe.Store: the stored value of key, after storing
// def when key had none. Concurrent first calls, from any process, agree on
// one value: an insert that meets another waits for it to commit and keeps
// the value already there, which the next statement reads.
func (s *Store) Setting(ctx context.Context, key, def string) (string, error) {
	var v string
	err := s.reader().QueryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read setting: %w", err)
	}
	err = s.write(ctx, func(c conn, _ *sql.Tx) error {
		err := c.QueryRow(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO NOTHING RETURNING value`, key, def).Scan(&v)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store setting: %w", err)
		}
		if err := c.QueryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v); err != nil {
			return fmt.Errorf("read setting: %w", err)
		}
		return nil
	})
	return v, err
}

// Heartbeat implements troupe.InstanceStore: it records that the instance
// is alive at now (the caller's clock, at millisecond precision).
func (s *Store) Heartbeat(ctx context.Context, instance string, now time.Time) error {
	return s.write(ctx, func(c conn, _ *sql.Tx) error {
		_, err := c.Exec(ctx, `INSERT INTO instances (name, heartbeat_at) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`, instance, s.t(norm(now)))
		if err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		return nil
	})
}

// Instances implements troupe.InstanceStore: the last heartbeat of every
// instance.
func (s *Store) Instances(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.reader().Query(ctx, `SELECT name, heartbeat_at FROM instances`)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var name string
		var at NullTime
		if err := rows.Scan(&name, &at); err != nil {
			return nil, fmt.Errorf("list instances: %w", err)
		}
		out[name] = at.T
	}
	return out, rows.Err()
}

// LogKey is the hub key (and notification payload) on which appends to a
// job's log are announced; no job or queue id contains a colon, so it meets
// no other key.
func LogKey(jobID string) string { return "log:" + jobID }

// AppendLog implements troupe.LogStore. Empty text is ignored. Appends to
// one job take turns (the lock "log:" and the job id, held until commit),
// so a job's chunks get sequence numbers in the order they commit. Log
// watchers of the job (WatchLog) are signalled after commit, in every
// process.
func (s *Store) AppendLog(ctx context.Context, jobID string, text []byte) error {
	return s.appendLog(ctx, jobID, text, nil)
}

// AppendMarkedLog implements troupe.LogStore: the mark is kept in the
// chunk's row. Empty text is ignored (and so is its mark).
func (s *Store) AppendMarkedLog(ctx context.Context, jobID string, text []byte, mark troupe.LogMark) error {
	return s.appendLog(ctx, jobID, text, &mark)
}

// LogMarkArgs are the values of the columns proc_gen and proc_lines of a
// log chunk with mark (NULL without one).
func LogMarkArgs(mark *troupe.LogMark) (gen, lines any) {
	if mark == nil {
		return nil, nil
	}
	return mark.Generation, mark.Lines
}

func (s *Store) appendLog(ctx context.Context, jobID string, text []byte, mark *troupe.LogMark) error {
	if len(text) == 0 {
		return nil
	}
	key := LogKey(jobID)
	gen, lines := LogMarkArgs(mark)
	err := s.write(ctx, func(c conn, tx *sql.Tx) error {
		if err := s.d.Lock(ctx, tx, key); err != nil {
			return fmt.Errorf("lock log: %w", err)
		}
		if _, err := c.Exec(ctx, `INSERT INTO logs (job_id, data, proc_gen, proc_lines) VALUES (?, ?, ?, ?)`,
			jobID, text, gen, lines); err != nil {
			return fmt.Errorf("append log: %w", err)
		}
		return s.d.Notify(ctx, tx, key)
	})
	return s.commit(err, key)
}

// LastLogMark implements troupe.LogStore.
func (s *Store) LastLogMark(ctx context.Context, jobID string) (troupe.LogMark, error) {
	var m troupe.LogMark
	err := s.reader().QueryRow(ctx, `SELECT proc_gen, proc_lines FROM logs
		WHERE job_id = ? AND proc_gen IS NOT NULL ORDER BY seq DESC LIMIT 1`, jobID).Scan(&m.Generation, &m.Lines)
	if errors.Is(err, sql.ErrNoRows) || (err != nil && s.badText(err)) {
		return troupe.LogMark{}, nil
	}
	if err != nil {
		return troupe.LogMark{}, fmt.Errorf("read log mark: %w", err)
	}
	return m, nil
}

// ReadLog implements troupe.LogStore. Sequence numbers grow across all jobs,
// so they are increasing but not consecutive within one job's log. A job
// without a log (or with an id no job can have) reads as empty. A call
// returns about troupe.LogReadBytes at most.
func (s *Store) ReadLog(ctx context.Context, jobID string, afterSeq int64) ([]byte, int64, error) {
	out, last, err := s.readLog(ctx, jobID, afterSeq)
	if err != nil {
		if s.badText(err) {
			return nil, afterSeq, nil
		}
		return nil, afterSeq, fmt.Errorf("read log: %w", err)
	}
	return out, last, nil
}

func (s *Store) readLog(ctx context.Context, jobID string, afterSeq int64) ([]byte, int64, error) {
	rows, err := s.reader().Query(ctx,
		`SELECT seq, data FROM logs WHERE job_id = ? AND seq > ? ORDER BY seq`, jobID, afterSeq)
	if err != nil {
		return nil, afterSeq, err
	}
	defer rows.Close()
	var out []byte
	last := afterSeq
	for rows.Next() {
		var seq int64
		var chunk sql.RawBytes
		if err := rows.Scan(&seq, &chunk); err != nil {
			return nil, afterSeq, err
		}
		out = append(out, chunk...)
		last = seq
		if len(out) >= troupe.LogReadBytes {
			break
		}
	}
	return out, last, rows.Err()
}
