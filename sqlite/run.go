package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/codec"
)

// activeStatuses are the statuses of runs that have not finished.
var activeStatuses = func() []any {
	var s []any
	for _, st := range troupe.Statuses {
		if !st.Terminal() {
			s = append(s, string(st))
		}
	}
	return s
}()

const runColumns = `data, control, version`

func scanRun(row scanner) (*troupe.Run, error) {
	var data, control []byte
	var version int64
	if err := row.Scan(&data, &control, &version); err != nil {
		return nil, err
	}
	return codec.DecodeRun(data, control, version)
}

// CreateRun implements troupe.RunStore. Empty ids (the run's and its default
// storages') are filled in, an empty status becomes READY and a zero
// StartedAt becomes now; Version starts at 1. A default storage whose id
// already exists is shared, not created again. The INPUT record is stored
// under input.Key, or "INPUT" when that is empty.
func (db *DB) CreateRun(ctx context.Context, r *troupe.Run, input *troupe.Record) error {
	codec.FillNewRun(r, db.now())
	data, control, err := codec.EncodeRun(r)
	if err != nil {
		return err
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO runs (id, act_id, status, started_at, version,
			default_dataset_id, default_key_value_store_id, default_request_queue_id, data, control, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM runs))`,
			r.ID, r.ActID, string(r.Status), ms(r.StartedAt), r.Version,
			r.DefaultDatasetID, r.DefaultKeyValueStoreID, r.DefaultRequestQueueID, data, control)
		if err != nil {
			if exists, _ := rowExists(ctx, tx, `SELECT 1 FROM runs WHERE id = ?`, r.ID); exists {
				return troupe.Errorf(troupe.ErrConflict, "A run with id %s already exists.", r.ID)
			}
			return fmt.Errorf("insert run: %w", err)
		}
		now := norm(db.now())
		for _, s := range []struct {
			kind troupe.StorageKind
			id   string
		}{
			{troupe.KindDataset, r.DefaultDatasetID},
			{troupe.KindKeyValueStore, r.DefaultKeyValueStoreID},
			{troupe.KindRequestQueue, r.DefaultRequestQueueID},
		} {
			actID, runID := r.ActID, r.ID
			st := &troupe.Storage{ID: s.id, Kind: s.kind, UserID: r.UserID, CreatedAt: now,
				ActID: &actID, ActRunID: &runID}
			if err := insertStorage(ctx, tx, st, true); err != nil {
				return err
			}
		}
		if input != nil {
			rec := *input
			if rec.Key == "" {
				rec.Key = "INPUT"
			}
			if err := putRecord(ctx, tx, now, r.DefaultKeyValueStoreID, &rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	db.hub.Publish(r.ID)
	return nil
}

func rowExists(ctx context.Context, q queryer, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// GetRun implements troupe.RunStore.
func (db *DB) GetRun(ctx context.Context, id string) (*troupe.Run, error) {
	r, err := scanRun(db.r.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	return r, notFound(err, "Run")
}

// RunVersion implements troupe.RunStore.
func (db *DB) RunVersion(ctx context.Context, id string) (int64, error) {
	var v int64
	err := db.r.QueryRowContext(ctx, `SELECT version FROM runs WHERE id = ?`, id).Scan(&v)
	return v, notFound(err, "Run")
}

// ListRuns implements troupe.RunStore: runs ordered by startedAt, then by
// creation order (seq), the page f asks for and the number of runs that
// match f.
//
// The total comes from per-(actor, status) counters unless f has a time
// range, in which case the matching index range is counted.
func (db *DB) ListRuns(ctx context.Context, f troupe.RunFilter) ([]*troupe.Run, int, error) {
	offset, limit := page(f.ListOptions)
	var where []string
	var args []any
	if f.ActorID != "" {
		where = append(where, "act_id = ?")
		args = append(args, f.ActorID)
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Statuses))+")")
		for _, s := range f.Statuses {
			args = append(args, string(s))
		}
	}
	timed := false
	if f.StartedAfter != nil {
		where = append(where, "started_at >= ?")
		args = append(args, ceilMS(*f.StartedAfter))
		timed = true
	}
	if f.StartedBefore != nil {
		where = append(where, "started_at <= ?")
		args = append(args, f.StartedBefore.UnixMilli())
		timed = true
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}

	list := []*troupe.Run{}
	var total int
	err := db.read(ctx, func(tx *sql.Tx) error {
		countQuery := `SELECT COUNT(*) FROM runs` + cond
		if !timed {
			countQuery = `SELECT COALESCE(SUM(n), 0) FROM run_counts` + cond
		}
		if err := tx.QueryRowContext(ctx, countQuery, args...).Scan(&total); err != nil {
			return fmt.Errorf("count runs: %w", err)
		}
		if offset >= total {
			return nil
		}
		dir := order(f.Desc)
		rows, err := tx.QueryContext(ctx, `SELECT `+runColumns+` FROM runs`+cond+
			` ORDER BY started_at `+dir+`, seq `+dir+` LIMIT ? OFFSET ?`,
			append(args, limit, offset)...)
		if err != nil {
			return fmt.Errorf("list runs: %w", err)
		}
		list, err = scanRuns(rows)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return list, total, nil
}

// ceilMS is t in unix milliseconds, rounded up, so that an inclusive lower
// bound between two milliseconds does not take in the earlier one.
func ceilMS(t time.Time) int64 {
	v := t.UnixMilli()
	if time.UnixMilli(v).Before(t) {
		v++
	}
	return v
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func scanRuns(rows *sql.Rows) ([]*troupe.Run, error) {
	defer rows.Close()
	list := []*troupe.Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, r)
	}
	return list, rows.Err()
}

// LastRun implements troupe.RunStore: of runs started in the same
// millisecond, the one created last.
func (db *DB) LastRun(ctx context.Context, actorID string, status troupe.Status) (*troupe.Run, error) {
	query := `SELECT ` + runColumns + ` FROM runs WHERE act_id = ?`
	args := []any{actorID}
	if status != "" {
		query += ` AND status = ?`
		args = append(args, string(status))
	}
	query += ` ORDER BY started_at DESC, seq DESC LIMIT 1`
	r, err := scanRun(db.r.QueryRowContext(ctx, query, args...))
	return r, notFound(err, "Run")
}

// ActiveRuns implements troupe.RunStore, ordered by startedAt.
func (db *DB) ActiveRuns(ctx context.Context) ([]*troupe.Run, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+runColumns+` FROM runs WHERE status IN (`+
		placeholders(len(activeStatuses))+`) ORDER BY started_at, seq`, activeStatuses...)
	if err != nil {
		return nil, fmt.Errorf("list active runs: %w", err)
	}
	return scanRuns(rows)
}

// UpdateRun implements troupe.RunStore. fn runs inside the write
// transaction; the run's id and default storages cannot change, and records
// fn writes through tx are committed with the run or not at all. Watchers of
// the run are signalled after commit.
func (db *DB) UpdateRun(ctx context.Context, id string, fn troupe.RunMutation) (*troupe.Run, error) {
	var out *troupe.Run
	err := db.write(ctx, func(tx *sql.Tx) error {
		r, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
		if err != nil {
			return notFound(err, "Run")
		}
		ds, kvs, rq := r.DefaultDatasetID, r.DefaultKeyValueStoreID, r.DefaultRequestQueueID
		prev := r.Version
		if err := fn(r, &storageTx{tx: tx, now: db.now}); err != nil {
			return err
		}
		r.ID, r.DefaultDatasetID, r.DefaultKeyValueStoreID, r.DefaultRequestQueueID = id, ds, kvs, rq
		r.Version = prev + 1
		data, control, err := codec.EncodeRun(r)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE runs SET act_id = ?, status = ?, started_at = ?,
			version = ?, data = ?, control = ? WHERE id = ? AND version = ?`,
			r.ActID, string(r.Status), ms(r.StartedAt), r.Version, data, control, id, prev)
		if err != nil {
			return fmt.Errorf("update run: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("update run: %w", err)
		} else if n == 0 {
			return troupe.Errorf(troupe.ErrConflict, "Run %s was changed at the same time; try again.", id)
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	db.hub.Publish(id)
	return out, nil
}

// storageTx is the troupe.StorageTx UpdateRun hands to its mutation.
type storageTx struct {
	tx  *sql.Tx
	now func() time.Time
}

func (s *storageTx) PutRecord(ctx context.Context, storeID string, rec *troupe.Record) error {
	return putRecord(ctx, s.tx, norm(s.now()), storeID, rec)
}

// DeleteRun implements troupe.RunStore. It deletes the run, its log and
// those of its default storages that no other run has as a default storage
// and that are still unnamed (a storage that was given a name is kept, as
// named storages are). Watchers of the run are signalled after commit.
func (db *DB) DeleteRun(ctx context.Context, id string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		var ids [3]string
		err := tx.QueryRowContext(ctx, `SELECT default_dataset_id, default_key_value_store_id,
			default_request_queue_id FROM runs WHERE id = ?`, id).Scan(&ids[0], &ids[1], &ids[2])
		if err != nil {
			return notFound(err, "Run")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete run: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM logs WHERE job_id = ?`, id); err != nil {
			return fmt.Errorf("delete run log: %w", err)
		}
		for _, sid := range ids {
			if _, err := tx.ExecContext(ctx,
				`UPDATE storages SET run_refs = run_refs - 1 WHERE id = ?`, sid); err != nil {
				return fmt.Errorf("release run storage: %w", err)
			}
			if _, err := tx.ExecContext(ctx,
				`DELETE FROM storages WHERE id = ? AND run_refs <= 0 AND name IS NULL`, sid); err != nil {
				return fmt.Errorf("delete run storage: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	db.hub.Publish(id)
	return nil
}
