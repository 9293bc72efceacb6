package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/codec"
)

const scheduleColumns = `data, next_run_at, action_runs`

func scanSchedule(row scanner) (*troupe.Schedule, error) {
	var data, runs []byte
	var next NullTime
	if err := row.Scan(&data, &next, &runs); err != nil {
		return nil, err
	}
	sc := new(troupe.Schedule)
	if err := json.Unmarshal(data, sc); err != nil {
		return nil, fmt.Errorf("decode schedule: %w", err)
	}
	var internal struct {
		Username   string            `json:"username"`
		ActionRuns map[string]string `json:"actionRuns"`
	}
	if err := json.Unmarshal(runs, &internal); err != nil {
		return nil, fmt.Errorf("decode schedule runs: %w", err)
	}
	sc.Username, sc.ActionRuns = internal.Username, internal.ActionRuns
	if sc.ActionRuns == nil {
		sc.ActionRuns = map[string]string{}
	}
	sc.NextRunAt = next.Ptr()
	return sc, nil
}

// encodeSchedule normalises sc's times (a disabled schedule has no next
// run) and returns its data and action_runs columns.
func encodeSchedule(sc *troupe.Schedule) (data, runs []byte, err error) {
	sc.CreatedAt, sc.ModifiedAt = norm(sc.CreatedAt), norm(sc.ModifiedAt)
	if !sc.IsEnabled {
		sc.NextRunAt = nil
	}
	sc.NextRunAt, sc.LastRunAt = codec.NormPtr(sc.NextRunAt), codec.NormPtr(sc.LastRunAt)
	if data, err = json.Marshal(sc); err != nil {
		return nil, nil, fmt.Errorf("encode schedule: %w", err)
	}
	runs, err = json.Marshal(map[string]any{"username": sc.Username, "actionRuns": sc.ActionRuns})
	if err != nil {
		return nil, nil, fmt.Errorf("encode schedule runs: %w", err)
	}
	return data, runs, nil
}

func errScheduleName(name string) error {
	return troupe.Errorf(troupe.ErrScheduleNameNotUnique, "A schedule named %q already exists.", name)
}

func (s *Store) scheduleNameCheck(ctx context.Context, c conn, sc *troupe.Schedule) error {
	ok, err := c.exists(ctx, `SELECT 1 FROM schedules WHERE username = ? AND name = ? AND id <> ?`, sc.Username, sc.Name, sc.ID)
	if err != nil {
		return fmt.Errorf("check schedule name: %w", err)
	}
	if ok {
		return errScheduleName(sc.Name)
	}
	return nil
}

func (s *Store) scheduleWriteErr(err error, sc *troupe.Schedule) error {
	switch {
	case s.unique(err, "schedules_username_name"):
		return errScheduleName(sc.Name)
	case s.unique(err, "schedules_pkey"):
		return troupe.Errorf(troupe.ErrConflict, "A schedule with id %s already exists.", sc.ID)
	}
	return err
}

// CreateSchedule implements troupe.ScheduleStore. An empty ID is filled
// in, a zero CreatedAt becomes now and a zero ModifiedAt becomes CreatedAt.
func (s *Store) CreateSchedule(ctx context.Context, sc *troupe.Schedule) error {
	if sc.ID == "" {
		sc.ID = troupe.NewID()
	}
	if sc.CreatedAt.IsZero() {
		sc.CreatedAt = s.now()
	}
	if sc.ModifiedAt.IsZero() {
		sc.ModifiedAt = sc.CreatedAt
	}
	if sc.ActionRuns == nil {
		sc.ActionRuns = map[string]string{}
	}
	data, runs, err := encodeSchedule(sc)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(c conn, tx *sql.Tx) error {
		if err := s.scheduleNameCheck(ctx, c, sc); err != nil {
			return err
		}
		_, err := c.Exec(ctx, `INSERT INTO schedules (id, username, name, created_at, next_run_at, data, action_runs)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			sc.ID, sc.Username, sc.Name, s.t(sc.CreatedAt), s.tp(sc.NextRunAt), data, runs)
		if err != nil {
			return s.scheduleWriteErr(fmt.Errorf("insert schedule: %w", err), sc)
		}
		return s.d.Notify(ctx, tx, troupe.SchedulesChanged)
	})
	return s.commit(err, troupe.SchedulesChanged)
}

// GetSchedule implements troupe.ScheduleStore.
func (s *Store) GetSchedule(ctx context.Context, id string) (*troupe.Schedule, error) {
	sc, err := scanSchedule(s.reader().QueryRow(ctx, `SELECT `+scheduleColumns+` FROM schedules WHERE id = ?`, id))
	return sc, s.notFound(err, "Schedule")
}

// GetScheduleByName implements troupe.ScheduleStore.
func (s *Store) GetScheduleByName(ctx context.Context, username, name string) (*troupe.Schedule, error) {
	sc, err := scanSchedule(s.reader().QueryRow(ctx,
		`SELECT `+scheduleColumns+` FROM schedules WHERE username = ? AND name = ?`, username, name))
	return sc, s.notFound(err, "Schedule")
}

func scanSchedules(rows *sql.Rows) ([]*troupe.Schedule, error) {
	defer rows.Close()
	list := []*troupe.Schedule{}
	for rows.Next() {
		sc, err := scanSchedule(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, sc)
	}
	return list, rows.Err()
}

// ListSchedules implements troupe.ScheduleStore, ordered by createdAt
// (then id).
func (s *Store) ListSchedules(ctx context.Context, o troupe.ListOptions) ([]*troupe.Schedule, int, error) {
	offset, limit := page(o)
	var list []*troupe.Schedule
	var total int
	err := s.read(ctx, func(c conn) error {
		if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM schedules`).Scan(&total); err != nil {
			return fmt.Errorf("count schedules: %w", err)
		}
		dir := order(o.Desc)
		rows, err := c.Query(ctx, `SELECT `+scheduleColumns+` FROM schedules
			ORDER BY created_at `+dir+`, id `+dir+` LIMIT ? OFFSET ?`, limit, offset)
		if err != nil {
			return fmt.Errorf("list schedules: %w", err)
		}
		list, err = scanSchedules(rows)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return list, total, nil
}

// DueSchedules implements troupe.ScheduleStore.
func (s *Store) DueSchedules(ctx context.Context, limit int) ([]*troupe.Schedule, error) {
	rows, err := s.reader().Query(ctx, `SELECT `+scheduleColumns+` FROM schedules
		WHERE next_run_at IS NOT NULL ORDER BY next_run_at, id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list due schedules: %w", err)
	}
	return scanSchedules(rows)
}

// UpdateSchedule implements troupe.ScheduleStore. The id, owner and
// creation time cannot change; ModifiedAt is set to now. The row is locked
// while fn runs.
func (s *Store) UpdateSchedule(ctx context.Context, id string, fn func(sc *troupe.Schedule) error) (*troupe.Schedule, error) {
	var out *troupe.Schedule
	err := s.write(ctx, func(c conn, tx *sql.Tx) error {
		sc, err := scanSchedule(c.QueryRow(ctx, `SELECT `+scheduleColumns+` FROM schedules WHERE id = ?`+s.forUpdate(""), id))
		if err != nil {
			return s.notFound(err, "Schedule")
		}
		user, created := sc.Username, sc.CreatedAt
		if err := fn(sc); err != nil {
			return err
		}
		sc.ID, sc.Username, sc.CreatedAt, sc.ModifiedAt = id, user, created, s.now()
		if err := s.scheduleNameCheck(ctx, c, sc); err != nil {
			return err
		}
		data, runs, err := encodeSchedule(sc)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, `UPDATE schedules SET name = ?, next_run_at = ?, data = ?, action_runs = ? WHERE id = ?`,
			sc.Name, s.tp(sc.NextRunAt), data, runs, id); err != nil {
			return s.scheduleWriteErr(fmt.Errorf("update schedule: %w", err), sc)
		}
		out = sc
		return s.d.Notify(ctx, tx, troupe.SchedulesChanged)
	})
	if err := s.commit(err, troupe.SchedulesChanged); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteSchedule implements troupe.ScheduleStore.
func (s *Store) DeleteSchedule(ctx context.Context, id string) error {
	err := s.write(ctx, func(c conn, tx *sql.Tx) error {
		res, err := c.Exec(ctx, `DELETE FROM schedules WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete schedule: %w", err)
		}
		if affected(res) == 0 {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Schedule was not found")
		}
		if _, err := c.Exec(ctx, `DELETE FROM schedule_log WHERE schedule_id = ?`, id); err != nil {
			return fmt.Errorf("delete schedule log: %w", err)
		}
		return s.d.Notify(ctx, tx, troupe.SchedulesChanged)
	})
	return s.commit(err, troupe.SchedulesChanged)
}

// FireSchedule implements troupe.ScheduleStore. The schedule's row is
// locked (where the database locks rows) and its next_run_at compared with
// f.Due, so of replicas that fire the same time at once exactly one writes.
func (s *Store) FireSchedule(ctx context.Context, f *troupe.ScheduleFiring) error {
	type encoded struct{ data, control []byte }
	enc := make([]encoded, len(f.Runs))
	ids := []string{troupe.SchedulesChanged}
	for i, nr := range f.Runs {
		codec.FillNewRun(nr.Run, s.now())
		data, control, err := codec.EncodeRun(nr.Run)
		if err != nil {
			return err
		}
		enc[i] = encoded{data, control}
		ids = append(ids, nr.Run.ID)
	}
	if len(f.Runs) > 0 {
		ids = append(ids, troupe.RunCreatedKey)
	}
	due := norm(f.Due)
	enqueued := false
	err := s.write(ctx, func(c conn, tx *sql.Tx) error {
		sc, err := scanSchedule(c.QueryRow(ctx, `SELECT `+scheduleColumns+` FROM schedules WHERE id = ?`+s.forUpdate(""), f.ScheduleID))
		if err != nil {
			return s.notFound(err, "Schedule")
		}
		if sc.NextRunAt == nil || !sc.NextRunAt.Equal(due) {
			return troupe.Errorf(troupe.ErrConflict, "Schedule %s is no longer due at %s.", f.ScheduleID, due.Format("2006-01-02T15:04:05.000Z"))
		}
		for i, nr := range f.Runs {
			enq, err := s.insertRun(ctx, c, tx, nr.Run, nr.Input, enc[i].data, enc[i].control)
			if err != nil {
				return err
			}
			if enq && !enqueued {
				enqueued = true
				ids = append(ids, troupe.WebhookDispatchKey)
			}
			sc.ActionRuns[nr.ActionID] = nr.Run.ID
		}
		at := f.At
		sc.LastRunAt, sc.NextRunAt = &at, f.NextRunAt
		data, runs, err := encodeSchedule(sc)
		if err != nil {
			return err
		}
		res, err := c.Exec(ctx, `UPDATE schedules SET next_run_at = ?, data = ?, action_runs = ? WHERE id = ? AND next_run_at = ?`,
			s.tp(sc.NextRunAt), data, runs, f.ScheduleID, s.t(due))
		if err != nil {
			return fmt.Errorf("fire schedule: %w", err)
		}
		if affected(res) == 0 {
			return troupe.Errorf(troupe.ErrConflict, "Schedule %s was fired at the same time elsewhere.", f.ScheduleID)
		}
		if err := s.appendScheduleLog(ctx, c, f.ScheduleID, f.Log); err != nil {
			return err
		}
		return s.d.Notify(ctx, tx, troupe.SchedulesChanged)
	})
	return s.commit(err, ids...)
}

// appendScheduleLog appends entries to a schedule's log and drops what is
// older than the last ScheduleLogLimit entries.
func (s *Store) appendScheduleLog(ctx context.Context, c conn, id string, entries []troupe.ScheduleLogEntry) error {
	for _, e := range entries {
		if _, err := c.Exec(ctx, `INSERT INTO schedule_log (schedule_id, created_at, level, message) VALUES (?, ?, ?, ?)`,
			id, s.t(norm(e.CreatedAt)), e.Level, e.Message); err != nil {
			return fmt.Errorf("append schedule log: %w", err)
		}
	}
	if len(entries) == 0 {
		return nil
	}
	_, err := c.Exec(ctx, `DELETE FROM schedule_log WHERE schedule_id = ? AND id < (
		SELECT MIN(id) FROM (SELECT id FROM schedule_log WHERE schedule_id = ? ORDER BY id DESC LIMIT ?) recent)`,
		id, id, troupe.ScheduleLogLimit)
	if err != nil {
		return fmt.Errorf("trim schedule log: %w", err)
	}
	return nil
}

// ScheduleLog implements troupe.ScheduleStore.
func (s *Store) ScheduleLog(ctx context.Context, id string) ([]troupe.ScheduleLogEntry, error) {
	out := []troupe.ScheduleLogEntry{}
	err := s.read(ctx, func(c conn) error {
		ok, err := c.exists(ctx, `SELECT 1 FROM schedules WHERE id = ?`, id)
		if err != nil {
			return s.notFound(err, "Schedule")
		}
		if !ok {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Schedule was not found")
		}
		rows, err := c.Query(ctx, `SELECT created_at, level, message FROM schedule_log
			WHERE schedule_id = ? ORDER BY id`, id)
		if err != nil {
			return fmt.Errorf("read schedule log: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var at NullTime
			var e troupe.ScheduleLogEntry
			if err := rows.Scan(&at, &e.Level, &e.Message); err != nil {
				return err
			}
			e.CreatedAt = at.T
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}
