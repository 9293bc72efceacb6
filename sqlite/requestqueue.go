package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/codec"
)

// Request queues. Every operation that changes a queue is one write
// transaction: it reads the queue's row and state, does its work, and ends
// with one update of the storages row (counters, hadMultipleClients,
// modifiedAt) and, when needed, one upsert of the state row. Because all
// writes go through the single write connection, two head/lock calls can
// never see the same unlocked request. Head and list are reads; they turn
// into a write only when they bring a client the queue has not recorded yet.

const rqKind = string(troupe.KindRequestQueue)

// Defaults of the request queue listings.
const (
	defaultHeadLimit = 100
	defaultListLimit = 1000
)

// queueTx is one operation on one queue inside a transaction.
type queueTx struct {
	ctx context.Context
	tx  *sql.Tx
	id  string
	now time.Time

	modifiedAt time.Time
	multi      bool
	front      int64 // next forefront order_no is front-1
	back       int64 // next order_no at the back is back+1
	first      sql.NullString

	stateChanged bool
	multiChanged bool
	modified     bool
	dTotal       int64
	dHandled     int64
}

// loadQueue reads a queue's row and state. record-not-found when there is
// no such request queue.
func loadQueue(ctx context.Context, tx *sql.Tx, id string, now time.Time) (*queueTx, error) {
	q := &queueTx{ctx: ctx, tx: tx, id: id, now: now, front: 1}
	var modified int64
	var front, back sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT s.modified_at, s.had_multiple_clients, st.front_seq, st.back_seq,
		st.first_client FROM storages s LEFT JOIN request_queue_state st ON st.queue_id = s.id
		WHERE s.id = ? AND s.kind = ?`, id, rqKind).Scan(&modified, &q.multi, &front, &back, &q.first)
	if err != nil {
		return nil, notFound(err, "Request queue")
	}
	q.modifiedAt = fromMS(modified)
	if front.Valid {
		q.front, q.back = front.Int64, back.Int64
	}
	return q, nil
}

// seesNewClient reports whether a call by clientKey would change what the
// queue records about its clients.
func (q *queueTx) seesNewClient(clientKey string) bool {
	if !q.first.Valid {
		return true
	}
	return !q.multi && (clientKey == "" || q.first.String == "" || q.first.String != clientKey)
}

// recordClient notes that clientKey used the queue.
func (q *queueTx) recordClient(clientKey string) {
	switch {
	case !q.first.Valid:
		q.first = sql.NullString{String: clientKey, Valid: true}
		q.stateChanged = true
	case q.seesNewClient(clientKey):
		q.multi, q.multiChanged = true, true
	}
}

// nextOrder hands out the order_no of a request put at the front or the
// back of the queue.
func (q *queueTx) nextOrder(forefront bool) int64 {
	q.stateChanged = true
	if forefront {
		q.front--
		return q.front
	}
	q.back++
	return q.back
}

// finish writes what the operation changed about the queue itself.
func (q *queueTx) finish() error {
	if q.stateChanged {
		if _, err := q.tx.ExecContext(q.ctx, `INSERT INTO request_queue_state (queue_id, front_seq, back_seq, first_client)
			VALUES (?, ?, ?, ?) ON CONFLICT (queue_id) DO UPDATE SET front_seq = excluded.front_seq,
			back_seq = excluded.back_seq, first_client = excluded.first_client`,
			q.id, q.front, q.back, q.first); err != nil {
			return fmt.Errorf("write queue state: %w", err)
		}
	}
	if q.modified {
		q.modifiedAt = q.now
	}
	now := ms(q.now)
	_, err := q.tx.ExecContext(q.ctx, `UPDATE storages SET accessed_at = ?, modified_at = ?, had_multiple_clients = ?,
		total_request_count = total_request_count + ?, handled_request_count = handled_request_count + ?,
		pending_request_count = pending_request_count + ? WHERE id = ?`,
		now, ms(q.modifiedAt), q.multi, q.dTotal, q.dHandled, q.dTotal-q.dHandled, q.id)
	if err != nil {
		return fmt.Errorf("update queue: %w", err)
	}
	return nil
}

// callTime is the time of a queue operation: the caller's, else the
// store's clock, at millisecond precision.
func (db *DB) callTime(c troupe.QueueCaller) time.Time {
	if c.Now.IsZero() {
		return norm(db.now())
	}
	return norm(c.Now)
}

// queueWrite runs fn on the queue in a write transaction, on behalf of
// c.ClientKey, and publishes the queue's id when fn changed it.
func (db *DB) queueWrite(ctx context.Context, queueID string, c troupe.QueueCaller, fn func(q *queueTx) error) error {
	modified := false
	err := db.write(ctx, func(tx *sql.Tx) error {
		q, err := loadQueue(ctx, tx, queueID, db.callTime(c))
		if err != nil {
			return err
		}
		q.recordClient(c.ClientKey)
		if err := fn(q); err != nil {
			return err
		}
		modified = q.modified
		return q.finish()
	})
	if err == nil && modified {
		db.hub.Publish(queueID)
	}
	return err
}

// queueRead runs fn on the queue in a read transaction, or in a write
// transaction when the call brings a client the queue has not recorded.
// fn must not write.
func (db *DB) queueRead(ctx context.Context, queueID string, c troupe.QueueCaller, fn func(q *queueTx) error) error {
	needWrite := false
	err := db.read(ctx, func(tx *sql.Tx) error {
		q, err := loadQueue(ctx, tx, queueID, db.callTime(c))
		if err != nil {
			return err
		}
		if q.seesNewClient(c.ClientKey) {
			needWrite = true
			return nil
		}
		return fn(q)
	})
	if err != nil || !needWrite {
		return err
	}
	return db.queueWrite(ctx, queueID, c, fn)
}

// storedRequest is what a lookup by id finds of a request.
type storedRequest struct {
	uniqueKey   string
	handled     bool
	lockExpires sql.NullInt64
	lockClient  sql.NullString
}

// lockedAt reports whether the request holds an unexpired lock at now.
func (s *storedRequest) lockedAt(now time.Time) bool {
	return s.lockExpires.Valid && s.lockExpires.Int64 > ms(now)
}

// ownsLock reports whether clientKey holds the request's unexpired lock.
func (s *storedRequest) ownsLock(clientKey string, now time.Time) bool {
	return clientKey != "" && s.lockedAt(now) && s.lockClient.Valid && s.lockClient.String == clientKey
}

// find looks a request up by id; nil when there is none.
func (q *queueTx) find(id string) (*storedRequest, error) {
	var s storedRequest
	err := q.tx.QueryRowContext(q.ctx, `SELECT unique_key, handled_at IS NOT NULL, lock_expires_at, lock_client
		FROM requests WHERE queue_id = ? AND id = ?`, q.id, id).Scan(&s.uniqueKey, &s.handled, &s.lockExpires, &s.lockClient)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find request: %w", err)
	}
	return &s, nil
}

func handledMS(r *troupe.Request) any {
	if r.HandledAt == nil {
		return nil
	}
	return ms(*r.HandledAt)
}

// insert stores a new, prepared request at order.
func (q *queueTx) insert(r *troupe.Request, order int64) error {
	data, err := codec.EncodeRequest(r)
	if err != nil {
		return err
	}
	if _, err := q.tx.ExecContext(q.ctx, `INSERT INTO requests (queue_id, id, unique_key, order_no, url, method,
		retry_count, handled_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		q.id, r.ID, r.UniqueKey, order, r.URL, r.Method, r.RetryCount, handledMS(r), data); err != nil {
		return fmt.Errorf("insert request: %w", err)
	}
	q.modified = true
	q.dTotal++
	if r.HandledAt != nil {
		q.dHandled++
	}
	return nil
}

// errCollision is the (astronomically unlikely) case of two uniqueKeys with
// the same request id.
func errCollision(r *troupe.Request) error {
	return troupe.Errorf(troupe.ErrConflict, "Another request of the queue has the id %s of uniqueKey %q.", r.ID, r.UniqueKey)
}

// add adds prepared requests in one go; see troupe.QueueStore.AddRequest.
// A forefront batch keeps its order at the front of the queue.
func (q *queueTx) add(rs []*troupe.Request, forefront bool) ([]troupe.RequestResult, error) {
	out := make([]troupe.RequestResult, len(rs))
	var fresh []int
	seen := make(map[string]int, len(rs))
	for i, r := range rs {
		out[i] = troupe.RequestResult{RequestID: r.ID, UniqueKey: r.UniqueKey}
		if j, ok := seen[r.ID]; ok {
			if rs[j].UniqueKey != r.UniqueKey {
				return nil, errCollision(r)
			}
			// The same request twice in one batch: the second finds the first.
			out[i].WasAlreadyPresent = true
			if out[j].WasAlreadyPresent {
				out[i].WasAlreadyHandled = out[j].WasAlreadyHandled
			} else {
				out[i].WasAlreadyHandled = rs[j].HandledAt != nil
			}
			continue
		}
		seen[r.ID] = i
		s, err := q.find(r.ID)
		if err != nil {
			return nil, err
		}
		if s != nil {
			if s.uniqueKey != r.UniqueKey {
				return nil, errCollision(r)
			}
			out[i].WasAlreadyPresent, out[i].WasAlreadyHandled = true, s.handled
			continue
		}
		fresh = append(fresh, i)
	}
	orders := make([]int64, len(fresh))
	if forefront {
		for k := len(fresh) - 1; k >= 0; k-- {
			orders[k] = q.nextOrder(true)
		}
	} else {
		for k := range fresh {
			orders[k] = q.nextOrder(false)
		}
	}
	for k, i := range fresh {
		if err := q.insert(rs[i], orders[k]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AddRequest implements troupe.QueueStore.
func (db *DB) AddRequest(ctx context.Context, queueID string, r *troupe.Request, forefront bool, c troupe.QueueCaller) (*troupe.RequestResult, error) {
	p, err := codec.PrepareRequest(r)
	if err != nil {
		return nil, err
	}
	var res troupe.RequestResult
	err = db.queueWrite(ctx, queueID, c, func(q *queueTx) error {
		out, err := q.add([]*troupe.Request{p}, forefront)
		if err != nil {
			return err
		}
		res = out[0]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// BatchAddRequests implements troupe.QueueStore.
func (db *DB) BatchAddRequests(ctx context.Context, queueID string, rs []*troupe.Request, forefront bool, c troupe.QueueCaller) (*troupe.BatchAddResult, error) {
	if len(rs) > troupe.MaxBatchRequests {
		return nil, troupe.Errorf(troupe.ErrInvalidValue, "A batch may hold at most %d requests; it has %d.", troupe.MaxBatchRequests, len(rs))
	}
	res := &troupe.BatchAddResult{ProcessedRequests: []troupe.RequestResult{}, UnprocessedRequests: []troupe.UnprocessedRequest{}}
	var ok []*troupe.Request
	for _, r := range rs {
		p, err := codec.PrepareRequest(r)
		if err != nil {
			var u troupe.UnprocessedRequest
			if r != nil {
				u = troupe.UnprocessedRequest{UniqueKey: r.UniqueKey, URL: r.URL, Method: r.Method}
			}
			res.UnprocessedRequests = append(res.UnprocessedRequests, u)
			continue
		}
		ok = append(ok, p)
	}
	err := db.queueWrite(ctx, queueID, c, func(q *queueTx) error {
		out, err := q.add(ok, forefront)
		if err != nil {
			return err
		}
		res.ProcessedRequests = append(res.ProcessedRequests, out...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// scanRequest decodes a request's data and lock expiry.
func scanRequest(row scanner) (*troupe.Request, error) {
	var data []byte
	var lock sql.NullInt64
	if err := row.Scan(&data, &lock); err != nil {
		return nil, err
	}
	r := new(troupe.Request)
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	if lock.Valid {
		t := fromMS(lock.Int64)
		r.LockExpiresAt = &t
	}
	return r, nil
}

// GetRequest implements troupe.QueueStore.
func (db *DB) GetRequest(ctx context.Context, queueID, requestID string) (*troupe.Request, error) {
	r, err := scanRequest(db.r.QueryRowContext(ctx,
		`SELECT data, lock_expires_at FROM requests WHERE queue_id = ? AND id = ?`, queueID, requestID))
	if err != nil {
		return nil, notFound(err, "Request")
	}
	return r, nil
}

// UpdateRequest implements troupe.QueueStore.
func (db *DB) UpdateRequest(ctx context.Context, queueID string, r *troupe.Request, forefront bool, c troupe.QueueCaller) (*troupe.RequestResult, error) {
	p, err := codec.PrepareRequest(r)
	if err != nil {
		return nil, err
	}
	res := &troupe.RequestResult{RequestID: p.ID, UniqueKey: p.UniqueKey}
	err = db.queueWrite(ctx, queueID, c, func(q *queueTx) error {
		s, err := q.find(p.ID)
		if err != nil {
			return err
		}
		if s == nil {
			_, err := q.add([]*troupe.Request{p}, forefront)
			return err
		}
		if s.uniqueKey != p.UniqueKey {
			return errCollision(p)
		}
		res.WasAlreadyPresent, res.WasAlreadyHandled = true, s.handled
		data, err := codec.EncodeRequest(p)
		if err != nil {
			return err
		}
		handled := p.HandledAt != nil
		switch {
		case handled:
			_, err = q.tx.ExecContext(q.ctx, `UPDATE requests SET url = ?, method = ?, retry_count = ?, handled_at = ?,
				lock_expires_at = NULL, lock_client = NULL, data = ? WHERE queue_id = ? AND id = ?`,
				p.URL, p.Method, p.RetryCount, handledMS(p), data, q.id, p.ID)
		default:
			_, err = q.tx.ExecContext(q.ctx, `UPDATE requests SET url = ?, method = ?, retry_count = ?, handled_at = NULL,
				order_no = ?, data = ? WHERE queue_id = ? AND id = ?`,
				p.URL, p.Method, p.RetryCount, q.nextOrder(forefront), data, q.id, p.ID)
		}
		if err != nil {
			return fmt.Errorf("update request: %w", err)
		}
		q.modified = true
		switch {
		case handled && !s.handled:
			q.dHandled++
		case !handled && s.handled:
			q.dHandled--
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// remove deletes a request by id; found is false when there was none.
func (q *queueTx) remove(id string) (s *storedRequest, err error) {
	if s, err = q.find(id); err != nil || s == nil {
		return s, err
	}
	if _, err := q.tx.ExecContext(q.ctx, `DELETE FROM requests WHERE queue_id = ? AND id = ?`, q.id, id); err != nil {
		return nil, fmt.Errorf("delete request: %w", err)
	}
	q.modified = true
	q.dTotal--
	if s.handled {
		q.dHandled--
	}
	return s, nil
}

// DeleteRequest implements troupe.QueueStore.
func (db *DB) DeleteRequest(ctx context.Context, queueID, requestID string, c troupe.QueueCaller) error {
	return db.queueWrite(ctx, queueID, c, func(q *queueTx) error {
		s, err := q.remove(requestID)
		if err != nil {
			return err
		}
		if s == nil {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Request %s was not found.", requestID)
		}
		return nil
	})
}

// BatchDeleteRequests implements troupe.QueueStore.
func (db *DB) BatchDeleteRequests(ctx context.Context, queueID string, refs []troupe.RequestRef, c troupe.QueueCaller) (*troupe.BatchDeleteResult, error) {
	if len(refs) > troupe.MaxBatchRequests {
		return nil, troupe.Errorf(troupe.ErrInvalidValue, "A batch may hold at most %d requests; it has %d.", troupe.MaxBatchRequests, len(refs))
	}
	res := &troupe.BatchDeleteResult{ProcessedRequests: []troupe.RequestRef{}, UnprocessedRequests: []troupe.RequestRef{}}
	err := db.queueWrite(ctx, queueID, c, func(q *queueTx) error {
		for _, ref := range refs {
			id := ref.ID
			if id == "" && ref.UniqueKey != "" {
				id = troupe.RequestID(ref.UniqueKey)
			}
			if id == "" {
				res.UnprocessedRequests = append(res.UnprocessedRequests, ref)
				continue
			}
			s, err := q.remove(id)
			if err != nil {
				return err
			}
			done := troupe.RequestRef{ID: id, UniqueKey: ref.UniqueKey}
			if s != nil {
				done.UniqueKey = s.uniqueKey
			}
			res.ProcessedRequests = append(res.ProcessedRequests, done)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ListRequests implements troupe.QueueStore.
func (db *DB) ListRequests(ctx context.Context, queueID string, o troupe.RequestListOptions) (*troupe.RequestPage, error) {
	limit := o.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, troupe.MaxListRequestsLimit)
	var page *troupe.RequestPage
	err := db.queueRead(ctx, queueID, o.QueueCaller, func(q *queueTx) error {
		query := `SELECT data, lock_expires_at FROM requests WHERE queue_id = ? AND id > ?`
		args := []any{q.id, o.After}
		var filters []string
		if o.Locked {
			filters = append(filters, `(handled_at IS NULL AND lock_expires_at > ?)`)
			args = append(args, ms(q.now))
		}
		if o.Pending {
			filters = append(filters, `handled_at IS NULL`)
		}
		if len(filters) > 0 {
			query += ` AND (` + strings.Join(filters, ` OR `) + `)`
		}
		query += ` ORDER BY id LIMIT ?`
		args = append(args, limit+1)
		rows, err := q.tx.QueryContext(q.ctx, query, args...)
		if err != nil {
			return fmt.Errorf("list requests: %w", err)
		}
		defer rows.Close()
		page = &troupe.RequestPage{Items: []*troupe.Request{}}
		for rows.Next() {
			r, err := scanRequest(rows)
			if err != nil {
				return err
			}
			if len(page.Items) == limit {
				page.More = true
				break
			}
			page.Items = append(page.Items, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// head reads up to limit unhandled requests that hold no unexpired lock,
// in queue order.
func (q *queueTx) head(limit int) ([]troupe.HeadItem, error) {
	rows, err := q.tx.QueryContext(q.ctx, `SELECT id, unique_key, url, method, retry_count FROM requests
		WHERE queue_id = ? AND handled_at IS NULL AND (lock_expires_at IS NULL OR lock_expires_at <= ?)
		ORDER BY order_no LIMIT ?`, q.id, ms(q.now), limit)
	if err != nil {
		return nil, fmt.Errorf("read queue head: %w", err)
	}
	defer rows.Close()
	items := []troupe.HeadItem{}
	for rows.Next() {
		var it troupe.HeadItem
		if err := rows.Scan(&it.ID, &it.UniqueKey, &it.URL, &it.Method, &it.RetryCount); err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, rows.Err()
}

// Head implements troupe.QueueStore.
func (db *DB) Head(ctx context.Context, queueID string, limit int, c troupe.QueueCaller) (*troupe.QueueHead, error) {
	if limit <= 0 {
		limit = defaultHeadLimit
	}
	limit = min(limit, troupe.MaxHeadLimit)
	var h *troupe.QueueHead
	err := db.queueRead(ctx, queueID, c, func(q *queueTx) error {
		items, err := q.head(limit)
		if err != nil {
			return err
		}
		h = &troupe.QueueHead{Limit: limit, QueueModifiedAt: q.modifiedAt, HadMultipleClients: q.multi, Items: items}
		return nil
	})
	return h, err
}

// lockDuration checks a lock's length and returns it in whole milliseconds.
func lockDuration(d time.Duration) (int64, error) {
	if d <= 0 {
		return 0, troupe.Errorf(troupe.ErrInvalidValue, "A lock must last more than 0 seconds.")
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond), nil
}

// lockOwner is whom a lock is taken for: the client, or for an anonymous
// client a key nobody else will ever use.
func lockOwner(clientKey string) string {
	if clientKey == "" {
		return "anonymous:" + troupe.NewID()
	}
	return clientKey
}

// LockHead implements troupe.QueueStore.
func (db *DB) LockHead(ctx context.Context, queueID string, o troupe.LockOptions) (*troupe.QueueHead, error) {
	lockMS, err := lockDuration(o.Lock)
	if err != nil {
		return nil, err
	}
	limit := o.Limit
	if limit <= 0 || limit > troupe.MaxBatchRequests {
		limit = troupe.MaxBatchRequests
	}
	owner := lockOwner(o.ClientKey)
	var h *troupe.QueueHead
	err = db.queueWrite(ctx, queueID, o.QueueCaller, func(q *queueTx) error {
		items, err := q.head(limit)
		if err != nil {
			return err
		}
		expires := ms(q.now) + lockMS
		at := fromMS(expires)
		if len(items) > 0 {
			ids := make([]any, 0, len(items)+3)
			ids = append(ids, expires, owner, q.id)
			for i := range items {
				items[i].LockExpiresAt = &at
				ids = append(ids, items[i].ID)
			}
			marks := strings.TrimSuffix(strings.Repeat("?, ", len(items)), ", ")
			if _, err := q.tx.ExecContext(q.ctx, `UPDATE requests SET lock_expires_at = ?, lock_client = ?
				WHERE queue_id = ? AND id IN (`+marks+`)`, ids...); err != nil {
				return fmt.Errorf("lock requests: %w", err)
			}
			q.modified = true
		}
		h = &troupe.QueueHead{Limit: limit, QueueModifiedAt: q.modifiedAt, HadMultipleClients: q.multi, Items: items}
		if q.modified {
			h.QueueModifiedAt = q.now
		}
		if h.QueueHasLockedRequests, err = rowExists(q.ctx, q.tx,
			`SELECT 1 FROM requests WHERE queue_id = ? AND lock_expires_at > ? LIMIT 1`, q.id, ms(q.now)); err != nil {
			return fmt.Errorf("find locks: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

func errLockedByOther(id string) error {
	return troupe.Errorf(troupe.ErrConflict, "Request %s is locked by another client.", id)
}

// ProlongRequestLock implements troupe.QueueStore.
func (db *DB) ProlongRequestLock(ctx context.Context, queueID, requestID string, o troupe.LockOptions) (time.Time, error) {
	lockMS, err := lockDuration(o.Lock)
	if err != nil {
		return time.Time{}, err
	}
	var at time.Time
	err = db.queueWrite(ctx, queueID, o.QueueCaller, func(q *queueTx) error {
		s, err := q.find(requestID)
		if err != nil {
			return err
		}
		switch {
		case s == nil:
			return troupe.Errorf(troupe.ErrRecordNotFound, "Request %s was not found.", requestID)
		case s.handled:
			return troupe.Errorf(troupe.ErrConflict, "Request %s was already handled; it cannot be locked.", requestID)
		case s.lockedAt(q.now) && !s.ownsLock(o.ClientKey, q.now):
			return errLockedByOther(requestID)
		}
		owner := o.ClientKey
		if !s.ownsLock(owner, q.now) {
			owner = lockOwner(owner)
		}
		expires := ms(q.now) + lockMS
		query := `UPDATE requests SET lock_expires_at = ?, lock_client = ? WHERE queue_id = ? AND id = ?`
		args := []any{expires, owner, q.id, requestID}
		if o.Forefront {
			query = `UPDATE requests SET lock_expires_at = ?, lock_client = ?, order_no = ? WHERE queue_id = ? AND id = ?`
			args = []any{expires, owner, q.nextOrder(true), q.id, requestID}
		}
		if _, err := q.tx.ExecContext(q.ctx, query, args...); err != nil {
			return fmt.Errorf("prolong lock: %w", err)
		}
		q.modified = true
		at = fromMS(expires)
		return nil
	})
	return at, err
}

// DeleteRequestLock implements troupe.QueueStore.
func (db *DB) DeleteRequestLock(ctx context.Context, queueID, requestID string, forefront bool, c troupe.QueueCaller) error {
	return db.queueWrite(ctx, queueID, c, func(q *queueTx) error {
		s, err := q.find(requestID)
		if err != nil {
			return err
		}
		switch {
		case s == nil:
			return troupe.Errorf(troupe.ErrRecordNotFound, "Request %s was not found.", requestID)
		case !s.lockedAt(q.now):
			return nil
		case !s.ownsLock(c.ClientKey, q.now):
			return errLockedByOther(requestID)
		}
		query := `UPDATE requests SET lock_expires_at = NULL, lock_client = NULL WHERE queue_id = ? AND id = ?`
		args := []any{q.id, requestID}
		if forefront {
			query = `UPDATE requests SET lock_expires_at = NULL, lock_client = NULL, order_no = ? WHERE queue_id = ? AND id = ?`
			args = []any{q.nextOrder(true), q.id, requestID}
		}
		if _, err := q.tx.ExecContext(q.ctx, query, args...); err != nil {
			return fmt.Errorf("delete lock: %w", err)
		}
		q.modified = true
		return nil
	})
}

// UnlockRequests implements troupe.QueueStore.
func (db *DB) UnlockRequests(ctx context.Context, queueID string, c troupe.QueueCaller) (int, error) {
	var n int64
	err := db.queueWrite(ctx, queueID, c, func(q *queueTx) error {
		if c.ClientKey == "" {
			return nil
		}
		res, err := q.tx.ExecContext(q.ctx, `UPDATE requests SET lock_expires_at = NULL, lock_client = NULL
			WHERE queue_id = ? AND lock_expires_at > ? AND lock_client = ?`, q.id, ms(q.now), c.ClientKey)
		if err != nil {
			return fmt.Errorf("unlock requests: %w", err)
		}
		n, _ = res.RowsAffected()
		q.modified = n > 0
		return nil
	})
	return int(n), err
}
