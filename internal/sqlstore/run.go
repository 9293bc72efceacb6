package sqlstore

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
// StartedAt becomes now; Version starts at 1, and the run takes the next
// number of the sequence that orders runs started in the same millisecond.
// A default storage whose id already exists is shared, not created again.
// The INPUT record is stored under input.Key, or "INPUT" when that is
// empty. The run's ad-hoc webhooks are stored and the dispatches of
// ACTOR.RUN.CREATED enqueued in the same transaction. conflict when a run
// with r.ID exists.
func (s *Store) CreateRun(ctx context.Context, r *troupe.Run, input *troupe.Record) error {
	codec.FillNewRun(r, s.now())
	data, control, err := codec.EncodeRun(r)
	if err != nil {
		return err
	}
	enq := false
	err = s.write(ctx, func(c conn, tx *sql.Tx) error {
		var err error
		enq, err = s.insertRun(ctx, c, tx, r, input, data, control)
		return err
	})
	return s.commit(err, append(s.changed(enq, r.ID), troupe.RunCreatedKey)...)
}

// changed is the keys a transaction that changed id announces: id, and the
// dispatch key when it enqueued webhook dispatches.
func (s *Store) changed(enqueued bool, id string) []string {
	if enqueued {
		return []string{id, troupe.WebhookDispatchKey}
	}
	return []string{id}
}

// insertRun writes, in tx, a new run (encoded as data and control), its
// default storages, its ad-hoc webhooks, its ACTOR.RUN.CREATED event and
// its INPUT record, and announces the run (and RunCreatedKey). enq
// reports whether webhook dispatches were enqueued.
func (s *Store) insertRun(ctx context.Context, c conn, tx *sql.Tx, r *troupe.Run, input *troupe.Record, data, control []byte) (enq bool, err error) {
	// Storages first, then the run: every transaction locks storages
	// before run counters, so none waits for another in a circle.
	now := norm(s.now())
	for _, d := range []struct {
		kind troupe.StorageKind
		id   string
	}{
		{troupe.KindDataset, r.DefaultDatasetID},
		{troupe.KindKeyValueStore, r.DefaultKeyValueStoreID},
		{troupe.KindRequestQueue, r.DefaultRequestQueueID},
	} {
		actID, runID := r.ActID, r.ID
		st := &troupe.Storage{ID: d.id, Kind: d.kind, UserID: r.UserID, CreatedAt: now,
			ActID: &actID, ActRunID: &runID}
		if err := s.insertStorage(ctx, c, st, true); err != nil {
			return false, err
		}
	}
	res, err := c.Exec(ctx, `INSERT INTO runs (id, act_id, status, started_at, version,
		default_dataset_id, default_key_value_store_id, default_request_queue_id, data, control, actor_task_id, seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, `+s.dl.NextRunSeq+`) ON CONFLICT (id) DO NOTHING`,
		r.ID, r.ActID, string(r.Status), s.t(r.StartedAt), r.Version,
		r.DefaultDatasetID, r.DefaultKeyValueStoreID, r.DefaultRequestQueueID, data, control, r.ActorTaskID)
	if err != nil {
		return false, fmt.Errorf("insert run: %w", err)
	}
	if affected(res) == 0 {
		return false, troupe.Errorf(troupe.ErrConflict, "A run with id %s already exists.", r.ID)
	}
	for _, w := range r.AdHocWebhooks {
		w.Condition = troupe.WebhookCondition{ActorRunID: &r.ID}
		if _, _, err := s.insertWebhook(ctx, c, w); err != nil {
			return false, err
		}
	}
	if enq, err = s.enqueueEvent(ctx, c, tx, troupe.NewRunEvent(troupe.EventRunCreated, r, now)); err != nil {
		return false, err
	}
	if input != nil {
		rec := *input
		if rec.Key == "" {
			rec.Key = "INPUT"
		}
		if err := s.putRecord(ctx, c, now, r.DefaultKeyValueStoreID, &rec); err != nil {
			return false, err
		}
	}
	if err := s.d.Notify(ctx, tx, troupe.RunCreatedKey); err != nil {
		return false, err
	}
	return enq, s.d.Notify(ctx, tx, r.ID)
}

// GetRun implements troupe.RunStore.
func (s *Store) GetRun(ctx context.Context, id string) (*troupe.Run, error) {
	r, err := scanRun(s.reader().QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	return r, s.notFound(err, "Run")
}

// RunVersion implements troupe.RunStore.
func (s *Store) RunVersion(ctx context.Context, id string) (int64, error) {
	var v int64
	err := s.reader().QueryRow(ctx, `SELECT version FROM runs WHERE id = ?`, id).Scan(&v)
	return v, s.notFound(err, "Run")
}

// RunStatus implements troupe.RunStore: the status column, which every
// write of the run sets with its JSON.
func (s *Store) RunStatus(ctx context.Context, id string) (troupe.Status, error) {
	var st string
	err := s.reader().QueryRow(ctx, `SELECT status FROM runs WHERE id = ?`, id).Scan(&st)
	return troupe.Status(st), s.notFound(err, "Run")
}

// ListRuns implements troupe.RunStore: runs ordered by startedAt, then by
// creation order (seq), the page f asks for and the number of runs that
// match f.
//
// The total comes from per-(actor, status) counters unless f has a time
// range, in which case the matching index range is counted.
func (s *Store) ListRuns(ctx context.Context, f troupe.RunFilter) ([]*troupe.Run, int, error) {
	offset, limit := page(f.ListOptions)
	var where []string
	var args []any
	if f.ActorID != "" {
		where = append(where, "act_id = ?")
		args = append(args, f.ActorID)
	}
	counted := true // run_counts has the total
	if f.ActorTaskID != "" {
		where = append(where, "actor_task_id = ?")
		args = append(args, f.ActorTaskID)
		counted = false
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+marks(len(f.Statuses))+")")
		for _, st := range f.Statuses {
			args = append(args, string(st))
		}
	}
	timed := false
	if f.StartedAfter != nil {
		where = append(where, "started_at >= ?")
		args = append(args, s.t(time.UnixMilli(ceilMS(*f.StartedAfter))))
		timed = true
	}
	if f.StartedBefore != nil {
		where = append(where, "started_at <= ?")
		args = append(args, s.t(time.UnixMilli(f.StartedBefore.UnixMilli())))
		timed = true
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}

	list := []*troupe.Run{}
	var total int64
	err := s.read(ctx, func(c conn) error {
		countQuery := `SELECT COUNT(*) FROM runs` + cond
		if !timed && counted {
			countQuery = `SELECT COALESCE(SUM(n), 0) FROM run_counts` + cond
		}
		if err := c.QueryRow(ctx, countQuery, args...).Scan(&total); err != nil {
			return fmt.Errorf("count runs: %w", err)
		}
		if int64(offset) >= total {
			return nil
		}
		dir := order(f.Desc)
		rows, err := c.Query(ctx, `SELECT `+runColumns+` FROM runs`+cond+
			` ORDER BY started_at `+dir+`, seq `+dir+` LIMIT ? OFFSET ?`,
			append(args, limit, offset)...)
		if err != nil {
			return fmt.Errorf("list runs: %w", err)
		}
		list, err = scanRuns(rows)
		return err
	})
	if err != nil {
		if s.badText(err) { // an actor id no run can have
			return []*troupe.Run{}, 0, nil
		}
		return nil, 0, err
	}
	return list, int(total), nil
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
func (s *Store) LastRun(ctx context.Context, actorID string, status troupe.Status) (*troupe.Run, error) {
	query := `SELECT ` + runColumns + ` FROM runs WHERE act_id = ?`
	args := []any{actorID}
	if status != "" {
		query += ` AND status = ?`
		args = append(args, string(status))
	}
	query += ` ORDER BY started_at DESC, seq DESC LIMIT 1`
	r, err := scanRun(s.reader().QueryRow(ctx, query, args...))
	return r, s.notFound(err, "Run")
}

// ActiveRuns implements troupe.RunStore, ordered by startedAt.
func (s *Store) ActiveRuns(ctx context.Context) ([]*troupe.Run, error) {
	rows, err := s.reader().Query(ctx, `SELECT `+runColumns+` FROM runs WHERE status IN (`+
		marks(len(activeStatuses))+`) ORDER BY started_at, seq`, activeStatuses...)
	if err != nil {
		return nil, fmt.Errorf("list active runs: %w", err)
	}
	return scanRuns(rows)
}

// UpdateRun implements troupe.RunStore. The run's row is locked while fn
// runs (where the database locks rows; with a single writer, writes take
// turns anyway), so concurrent updates from any process take turns, and the
// write is a compare-and-set on the version read. The run's id and default
// storages cannot change, and records fn writes through tx are committed
// with the run or not at all. Watchers of the run are signalled after
// commit, in every process. A status change that is a webhook event
// (troupe.RunEvent) enqueues the dispatches of the webhooks it triggers in
// the same transaction.
func (s *Store) UpdateRun(ctx context.Context, id string, fn troupe.RunMutation) (*troupe.Run, error) {
	return s.updateRun(ctx, id, nil, fn)
}

// UpdateRunFrom implements troupe.RunStore: UpdateRun that reads only the
// run's version when base is still the stored one.
func (s *Store) UpdateRunFrom(ctx context.Context, base *troupe.Run, fn troupe.RunMutation) (*troupe.Run, error) {
	return s.updateRun(ctx, base.ID, base, fn)
}

func (s *Store) updateRun(ctx context.Context, id string, base *troupe.Run, fn troupe.RunMutation) (*troupe.Run, error) {
	var out *troupe.Run
	enq := false
	err := s.write(ctx, func(c conn, tx *sql.Tx) error {
		r, err := s.lockRun(ctx, c, id, base)
		if err != nil {
			return err
		}
		out, enq, err = s.applyRun(ctx, c, tx, r, fn)
		if errors.Is(err, errStaleRun) {
			return troupe.Errorf(troupe.ErrConflict, "Run %s was changed at the same time; try again.", id)
		}
		return err
	})
	if err := s.commit(err, s.changed(enq, id)...); err != nil {
		return nil, err
	}
	return out, nil
}

// lockRun locks the run's row (where the database locks rows) and returns
// the run as stored: a clone of base when base is at the stored version,
// else the row read and decoded. record-not-found.
func (s *Store) lockRun(ctx context.Context, c conn, id string, base *troupe.Run) (*troupe.Run, error) {
	if base != nil {
		var v int64
		err := c.QueryRow(ctx, `SELECT version FROM runs WHERE id = ?`+s.forUpdate(""), id).Scan(&v)
		if err != nil {
			return nil, s.notFound(err, "Run")
		}
		if v == base.Version {
			return base.Clone(), nil
		}
	}
	r, err := scanRun(c.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`+s.forUpdate(""), id))
	if err != nil {
		return nil, s.notFound(err, "Run")
	}
	return r, nil
}

// errStaleRun says that the run applyRun was given is no longer the stored
// version (a write that does not lock rows came in between).
var errStaleRun = errors.New("run changed")

// applyRun applies fn to r, the run as stored at r.Version, and writes the
// result as the next version, failing with errStaleRun when the stored run
// is no longer at r.Version. It enqueues the webhook dispatches of a status
// change that is an event (enq says whether it did).
func (s *Store) applyRun(ctx context.Context, c conn, tx *sql.Tx, r *troupe.Run, fn troupe.RunMutation) (out *troupe.Run, enq bool, err error) {
	id := r.ID
	ds, kvs, rq := r.DefaultDatasetID, r.DefaultKeyValueStoreID, r.DefaultRequestQueueID
	prev, oldStatus := r.Version, r.Status
	if err := fn(r, &storageTx{s: s, c: c}); err != nil {
		return nil, false, err
	}
	r.ID, r.DefaultDatasetID, r.DefaultKeyValueStoreID, r.DefaultRequestQueueID = id, ds, kvs, rq
	r.Version = prev + 1
	data, control, err := codec.EncodeRun(r)
	if err != nil {
		return nil, false, err
	}
	res, err := c.Exec(ctx, `UPDATE runs SET act_id = ?, status = ?, started_at = ?,
		version = ?, data = ?, control = ? WHERE id = ? AND version = ?`,
		r.ActID, string(r.Status), s.t(r.StartedAt), r.Version, data, control, id, prev)
	if err != nil {
		return nil, false, fmt.Errorf("update run: %w", err)
	}
	if affected(res) == 0 {
		return nil, false, errStaleRun
	}
	if ev := troupe.RunEvent(oldStatus, r); ev != "" {
		if enq, err = s.enqueueEvent(ctx, c, tx, troupe.NewRunEvent(ev, r, s.now())); err != nil {
			return nil, false, err
		}
	}
	return r, enq, s.d.Notify(ctx, tx, id)
}

// storageTx is the troupe.StorageTx UpdateRun hands to its mutation.
type storageTx struct {
	s *Store
	c conn
}

func (t *storageTx) PutRecord(ctx context.Context, storeID string, rec *troupe.Record) error {
	return t.s.putRecord(ctx, t.c, norm(t.s.now()), storeID, rec)
}

// DeleteRun implements troupe.RunStore. It deletes the run, its log and
// those of its default storages that no other run has as a default storage
// and that are still unnamed (a storage that was given a name is kept, as
// named storages are), and the ad-hoc webhooks of the run (their
// dispatches are kept). Watchers of the run are signalled after commit.
func (s *Store) DeleteRun(ctx context.Context, id string) error {
	err := s.write(ctx, func(c conn, tx *sql.Tx) error {
		var ids [3]string
		err := c.QueryRow(ctx, `SELECT default_dataset_id, default_key_value_store_id,
			default_request_queue_id FROM runs WHERE id = ?`+s.forUpdate(""), id).Scan(&ids[0], &ids[1], &ids[2])
		if err != nil {
			return s.notFound(err, "Run")
		}
		for _, sid := range ids {
			if _, err := c.Exec(ctx,
				`UPDATE storages SET run_refs = run_refs - 1 WHERE id = ?`, sid); err != nil {
				return fmt.Errorf("release run storage: %w", err)
			}
			if _, err := c.Exec(ctx,
				`DELETE FROM storages WHERE id = ? AND run_refs <= 0 AND name IS NULL`, sid); err != nil {
				return fmt.Errorf("delete run storage: %w", err)
			}
		}
		if _, err := c.Exec(ctx, `DELETE FROM runs WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete run: %w", err)
		}
		if _, err := c.Exec(ctx, `DELETE FROM logs WHERE job_id = ?`, id); err != nil {
			return fmt.Errorf("delete run log: %w", err)
		}
		if _, err := c.Exec(ctx, `DELETE FROM webhooks WHERE run_id = ?`, id); err != nil {
			return fmt.Errorf("delete run webhooks: %w", err)
		}
		return s.d.Notify(ctx, tx, id)
	})
	return s.commit(err, id)
}
