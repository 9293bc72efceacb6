package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/troupehq/troupe"
)

// Webhooks keep their object as JSON in data; act_id, task_id and run_id
// are its condition, which enqueueEvent matches on. A dispatch keeps its
// object in data and the request it sends in request; next_at is when it
// is due, NULL once it ended.

func condCols(c troupe.WebhookCondition) (act, task, run any) {
	v := func(p *string) any {
		if p == nil || *p == "" {
			return nil
		}
		return *p
	}
	return v(c.ActorID), v(c.ActorTaskID), v(c.ActorRunID)
}

func scanWebhook(row scanner) (*troupe.Webhook, error) {
	var data []byte
	if err := row.Scan(&data); err != nil {
		return nil, err
	}
	w := new(troupe.Webhook)
	if err := json.Unmarshal(data, w); err != nil {
		return nil, fmt.Errorf("decode webhook: %w", err)
	}
	return w, nil
}

// insertWebhook stores w in c; with an idempotency key a webhook of the
// user already has, it returns that webhook and false.
func (s *Store) insertWebhook(ctx context.Context, c conn, w *troupe.Webhook) (*troupe.Webhook, bool, error) {
	w.CreatedAt, w.ModifiedAt = norm(w.CreatedAt), norm(w.ModifiedAt)
	data, err := json.Marshal(w)
	if err != nil {
		return nil, false, err
	}
	act, task, run := condCols(w.Condition)
	var key any
	if w.IdempotencyKey != nil {
		key = *w.IdempotencyKey
	}
	res, err := c.Exec(ctx, `INSERT INTO webhooks (id, user_id, act_id, task_id, run_id, idempotency_key,
		created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, idempotency_key) DO NOTHING`,
		w.ID, w.UserID, act, task, run, key, s.t(w.CreatedAt), data)
	if err != nil {
		if s.unique(err, "webhooks_pkey") {
			return nil, false, troupe.Errorf(troupe.ErrConflict, "A webhook with id %s already exists.", w.ID)
		}
		return nil, false, fmt.Errorf("insert webhook: %w", err)
	}
	if affected(res) == 1 {
		return w, true, nil
	}
	got, err := scanWebhook(c.QueryRow(ctx,
		`SELECT data FROM webhooks WHERE user_id = ? AND idempotency_key = ?`, w.UserID, key))
	if err != nil {
		return nil, false, fmt.Errorf("read webhook by idempotency key: %w", err)
	}
	return got, false, nil
}

// CreateWebhook implements troupe.WebhookStore.
func (s *Store) CreateWebhook(ctx context.Context, w *troupe.Webhook) (*troupe.Webhook, bool, error) {
	var got *troupe.Webhook
	var created bool
	err := s.write(ctx, func(c conn, _ *sql.Tx) error {
		var err error
		got, created, err = s.insertWebhook(ctx, c, w)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if !created {
		if err := s.webhookStats(ctx, s.reader(), got); err != nil {
			return nil, false, err
		}
	}
	return got, created, nil
}

// webhookStats fills in w's stats and last dispatch.
func (s *Store) webhookStats(ctx context.Context, c conn, w *troupe.Webhook) error {
	if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM webhook_dispatches WHERE webhook_id = ?`, w.ID).
		Scan(&w.Stats.TotalDispatches); err != nil {
		return fmt.Errorf("count dispatches: %w", err)
	}
	w.LastDispatch = nil
	var status string
	var fin NullTime
	err := c.QueryRow(ctx, `SELECT status, finished_at FROM webhook_dispatches WHERE webhook_id = ?
		ORDER BY created_at DESC, seq DESC LIMIT 1`, w.ID).Scan(&status, &fin)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("last dispatch: %w", err)
	}
	w.LastDispatch = &troupe.WebhookLastDispatch{Status: status, FinishedAt: fin.Ptr()}
	return nil
}

// GetWebhook implements troupe.WebhookStore.
func (s *Store) GetWebhook(ctx context.Context, id string) (*troupe.Webhook, error) {
	var w *troupe.Webhook
	err := s.read(ctx, func(c conn) error {
		var err error
		if w, err = scanWebhook(c.QueryRow(ctx, `SELECT data FROM webhooks WHERE id = ?`, id)); err != nil {
			return s.notFound(err, "Webhook")
		}
		return s.webhookStats(ctx, c, w)
	})
	return w, err
}

// ListWebhooks implements troupe.WebhookStore.
func (s *Store) ListWebhooks(ctx context.Context, f troupe.WebhookFilter) ([]*troupe.Webhook, int, error) {
	offset, limit := page(f.ListOptions)
	cond, args := "", []any{}
	switch {
	case f.ActorID != "":
		cond, args = ` WHERE act_id = ?`, append(args, f.ActorID)
	case f.ActorTaskID != "":
		cond, args = ` WHERE task_id = ?`, append(args, f.ActorTaskID)
	case f.ActorRunID != "":
		cond, args = ` WHERE run_id = ?`, append(args, f.ActorRunID)
	}
	list := []*troupe.Webhook{}
	var total int
	err := s.read(ctx, func(c conn) error {
		if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM webhooks`+cond, args...).Scan(&total); err != nil {
			return fmt.Errorf("count webhooks: %w", err)
		}
		dir := order(f.Desc)
		rows, err := c.Query(ctx, `SELECT data FROM webhooks`+cond+` ORDER BY created_at `+dir+`, id `+dir+
			` LIMIT ? OFFSET ?`, append(args, limit, offset)...)
		if err != nil {
			return fmt.Errorf("list webhooks: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			w, err := scanWebhook(rows)
			if err != nil {
				return err
			}
			list = append(list, w)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		for _, w := range list {
			if err := s.webhookStats(ctx, c, w); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if s.badText(err) {
			return []*troupe.Webhook{}, 0, nil
		}
		return nil, 0, err
	}
	return list, total, nil
}

// UpdateWebhook implements troupe.WebhookStore: id, userId, createdAt and
// the idempotency key cannot change; modifiedAt becomes now.
func (s *Store) UpdateWebhook(ctx context.Context, id string, fn func(w *troupe.Webhook) error) (*troupe.Webhook, error) {
	var out *troupe.Webhook
	err := s.write(ctx, func(c conn, _ *sql.Tx) error {
		w, err := scanWebhook(c.QueryRow(ctx, `SELECT data FROM webhooks WHERE id = ?`+s.forUpdate(""), id))
		if err != nil {
			return s.notFound(err, "Webhook")
		}
		user, created, key := w.UserID, w.CreatedAt, w.IdempotencyKey
		if err := fn(w); err != nil {
			return err
		}
		w.ID, w.UserID, w.CreatedAt, w.IdempotencyKey = id, user, created, key
		w.ModifiedAt = norm(s.now())
		data, err := json.Marshal(w)
		if err != nil {
			return err
		}
		act, task, run := condCols(w.Condition)
		if _, err := c.Exec(ctx, `UPDATE webhooks SET act_id = ?, task_id = ?, run_id = ?, data = ? WHERE id = ?`,
			act, task, run, data, id); err != nil {
			return fmt.Errorf("update webhook: %w", err)
		}
		out = w
		return s.webhookStats(ctx, c, w)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteWebhook implements troupe.WebhookStore.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	return s.write(ctx, func(c conn, _ *sql.Tx) error {
		res, err := c.Exec(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
		if err != nil {
			if s.badText(err) {
				return s.notFound(err, "Webhook")
			}
			return fmt.Errorf("delete webhook: %w", err)
		}
		if affected(res) == 0 {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Webhook was not found")
		}
		return nil
	})
}

// insertDispatch stores d in c, due now when it is ACTIVE.
func (s *Store) insertDispatch(ctx context.Context, c conn, d *troupe.WebhookDispatch) error {
	d.CreatedAt = norm(d.CreatedAt)
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	req, err := json.Marshal(d.Request)
	if err != nil {
		return err
	}
	var next, fin any
	if d.Status == troupe.DispatchActive {
		next = s.t(d.CreatedAt)
	} else {
		fin = s.t(d.CreatedAt)
	}
	_, err = c.Exec(ctx, `INSERT INTO webhook_dispatches (id, webhook_id, created_at, status, next_at,
		finished_at, data, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.WebhookID, s.t(d.CreatedAt), d.Status, next, fin, data, req)
	if err != nil {
		return fmt.Errorf("insert webhook dispatch: %w", err)
	}
	return nil
}

// enqueueEvent inserts, in tx, a dispatch of ev for every webhook it
// triggers, and announces them on commit. It reports whether it inserted
// any (the caller publishes troupe.WebhookDispatchKey after commit).
func (s *Store) enqueueEvent(ctx context.Context, c conn, tx *sql.Tx, ev troupe.WebhookEvent) (bool, error) {
	if ev.Type == "" {
		return false, nil
	}
	rows, err := c.Query(ctx, `SELECT data FROM webhooks WHERE act_id = ? OR task_id = ? OR run_id = ?`,
		ev.ActorID, ev.TaskID, ev.RunID)
	if err != nil {
		return false, fmt.Errorf("match webhooks: %w", err)
	}
	var hooks []*troupe.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			rows.Close()
			return false, err
		}
		if w.Matches(ev) {
			hooks = append(hooks, w)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	for _, w := range hooks {
		if err := s.insertDispatch(ctx, c, troupe.NewDispatch(w, ev)); err != nil {
			return false, err
		}
	}
	if len(hooks) == 0 {
		return false, nil
	}
	return true, s.d.Notify(ctx, tx, troupe.WebhookDispatchKey)
}

// TestWebhook implements troupe.WebhookStore.
func (s *Store) TestWebhook(ctx context.Context, id string, resource any) (*troupe.WebhookDispatch, error) {
	var d *troupe.WebhookDispatch
	err := s.write(ctx, func(c conn, tx *sql.Tx) error {
		w, err := scanWebhook(c.QueryRow(ctx, `SELECT data FROM webhooks WHERE id = ?`, id))
		if err != nil {
			return s.notFound(err, "Webhook")
		}
		ev := troupe.WebhookEvent{Type: troupe.EventTest, UserID: w.UserID, CreatedAt: s.now(),
			Resource: resource} // no run: eventData null (an object must name an actor)
		if run, ok := resource.(*troupe.Run); ok { // eventData names the example run
			ev.Data = troupe.NewRunEvent(troupe.EventTest, run, ev.CreatedAt).Data
		}
		d = troupe.NewDispatch(w, ev)
		if err := s.insertDispatch(ctx, c, d); err != nil {
			return err
		}
		return s.d.Notify(ctx, tx, troupe.WebhookDispatchKey)
	})
	if err := s.commit(err, troupe.WebhookDispatchKey); err != nil {
		return nil, err
	}
	return d, nil
}

const dispatchColumns = `data, request, claim`

func scanDispatch(row scanner) (*troupe.WebhookDispatch, error) {
	var data, req []byte
	var claim int64
	if err := row.Scan(&data, &req, &claim); err != nil {
		return nil, err
	}
	d := new(troupe.WebhookDispatch)
	if err := json.Unmarshal(data, d); err != nil {
		return nil, fmt.Errorf("decode webhook dispatch: %w", err)
	}
	if err := json.Unmarshal(req, &d.Request); err != nil {
		return nil, fmt.Errorf("decode webhook request: %w", err)
	}
	d.Claim = claim
	return d, nil
}

// GetDispatch implements troupe.WebhookStore.
func (s *Store) GetDispatch(ctx context.Context, id string) (*troupe.WebhookDispatch, error) {
	d, err := scanDispatch(s.reader().QueryRow(ctx,
		`SELECT `+dispatchColumns+` FROM webhook_dispatches WHERE id = ?`, id))
	return d, s.notFound(err, "Webhook dispatch")
}

// ListDispatches implements troupe.WebhookStore.
func (s *Store) ListDispatches(ctx context.Context, webhookID string, o troupe.ListOptions) ([]*troupe.WebhookDispatch, int, error) {
	offset, limit := page(o)
	cond, args := "", []any{}
	if webhookID != "" {
		cond, args = ` WHERE webhook_id = ?`, append(args, webhookID)
	}
	list := []*troupe.WebhookDispatch{}
	var total int
	err := s.read(ctx, func(c conn) error {
		if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM webhook_dispatches`+cond, args...).Scan(&total); err != nil {
			return fmt.Errorf("count dispatches: %w", err)
		}
		dir := order(o.Desc)
		rows, err := c.Query(ctx, `SELECT `+dispatchColumns+` FROM webhook_dispatches`+cond+
			` ORDER BY created_at `+dir+`, seq `+dir+` LIMIT ? OFFSET ?`, append(args, limit, offset)...)
		if err != nil {
			return fmt.Errorf("list dispatches: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDispatch(rows)
			if err != nil {
				return err
			}
			list = append(list, d)
		}
		return rows.Err()
	})
	if err != nil {
		if s.badText(err) {
			return []*troupe.WebhookDispatch{}, 0, nil
		}
		return nil, 0, err
	}
	return list, total, nil
}

// ClaimDispatches implements troupe.WebhookStore. On a database that locks
// rows, the due rows are read FOR UPDATE SKIP LOCKED, so concurrent claims
// take different dispatches; with a single writer, claims take turns.
func (s *Store) ClaimDispatches(ctx context.Context, owner string, lease time.Duration, max int) ([]*troupe.WebhookDispatch, error) {
	now := norm(s.now())
	var out []*troupe.WebhookDispatch
	err := s.write(ctx, func(c conn, _ *sql.Tx) error {
		rows, err := c.Query(ctx, `SELECT `+dispatchColumns+` FROM webhook_dispatches
			WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at, seq LIMIT ?`+s.skipLocked(), s.t(now), max)
		if err != nil {
			return fmt.Errorf("claim dispatches: %w", err)
		}
		for rows.Next() {
			d, err := scanDispatch(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range out {
			d.Claim++
			if _, err := c.Exec(ctx, `UPDATE webhook_dispatches SET claim = ?, next_at = ? WHERE id = ?`,
				d.Claim, s.t(now.Add(lease)), d.ID); err != nil {
				return fmt.Errorf("claim dispatch: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FinishCall implements troupe.WebhookStore.
func (s *Store) FinishCall(ctx context.Context, d *troupe.WebhookDispatch, call troupe.WebhookCall, status string, retryAt time.Time) error {
	err := s.write(ctx, func(c conn, tx *sql.Tx) error {
		cur, err := scanDispatch(c.QueryRow(ctx, `SELECT `+dispatchColumns+` FROM webhook_dispatches
			WHERE id = ?`+s.forUpdate(""), d.ID))
		if err != nil {
			return s.notFound(err, "Webhook dispatch")
		}
		if cur.Claim != d.Claim || cur.Status != troupe.DispatchActive {
			return troupe.Errorf(troupe.ErrConflict, "Webhook dispatch %s was claimed again.", d.ID)
		}
		cur.Calls = append(cur.Calls, call)
		cur.Status = status
		data, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		var next, fin any
		if status == troupe.DispatchActive {
			next = s.t(norm(retryAt))
		} else {
			fin = s.tp(call.FinishedAt)
		}
		if _, err := c.Exec(ctx, `UPDATE webhook_dispatches SET status = ?, next_at = ?, finished_at = ?,
			data = ? WHERE id = ?`, status, next, fin, data, d.ID); err != nil {
			return fmt.Errorf("finish webhook call: %w", err)
		}
		*d = *cur
		return s.d.Notify(ctx, tx, troupe.WebhookDispatchKey)
	})
	return s.commit(err, troupe.WebhookDispatchKey)
}

// NextDispatchAt implements troupe.WebhookStore.
func (s *Store) NextDispatchAt(ctx context.Context) (time.Time, bool, error) {
	var at NullTime
	err := s.reader().QueryRow(ctx,
		`SELECT MIN(next_at) FROM webhook_dispatches WHERE next_at IS NOT NULL`).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next dispatch: %w", err)
	}
	return at.T, at.Valid, nil
}
