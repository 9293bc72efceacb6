package sqlstore

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
// transaction: it reads the queue's row and state (locking the row where
// the database locks rows, so that operations on one queue take turns
// whichever process makes them; with a single writer they take turns
// anyway), does its work, and ends with one update of the storages row
// (counters, hadMultipleClients, modifiedAt) and, when needed, one upsert of
// the state row. So two head/lock calls can never see the same unlocked
// request. LockHead also reads the head with SKIP LOCKED where rows are
// locked, so it never waits for a request row another transaction holds.
// Head and list are reads; they turn into a write only when they bring a
// client the queue has not recorded yet.

const rqKind = string(troupe.KindRequestQueue)

// Defaults of the request queue listings.
const (
	defaultHeadLimit = 100
	defaultListLimit = 1000
)

// queueTx is one operation on one queue inside a transaction.
type queueTx struct {
	ctx context.Context
	s   *Store
	tx  conn
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

// loadQueue reads a queue's row and state, locking the row when lock is
// set. record-not-found when there is no such request queue.
func (s *Store) loadQueue(ctx context.Context, tx conn, id string, now time.Time, lock bool) (*queueTx, error) {
	q := &queueTx{ctx: ctx, s: s, tx: tx, id: id, now: now, front: 1}
	var modified NullTime
	var front, back sql.NullInt64
	query := `SELECT s.modified_at, s.had_multiple_clients, st.front_seq, st.back_seq, st.first_client
		FROM storages s LEFT JOIN request_queue_state st ON st.queue_id = s.id
		WHERE s.id = ? AND s.kind = ?`
	if lock {
		query += s.forUpdate("s")
	}
	err := tx.QueryRow(ctx, query, id, rqKind).Scan(&modified, &q.multi, &front, &back, &q.first)
	if err != nil {
		return nil, s.notFound(err, "Request queue")
	}
	q.modifiedAt = modified.T
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
		if _, err := q.tx.Exec(q.ctx, `INSERT INTO request_queue_state (queue_id, front_seq, back_seq, first_client)
			VALUES (?, ?, ?, ?) ON CONFLICT (queue_id) DO UPDATE SET front_seq = excluded.front_seq,
			back_seq = excluded.back_seq, first_client = excluded.first_client`,
			q.id, q.front, q.back, q.first); err != nil {
			return fmt.Errorf("write queue state: %w", err)
		}
	}
	if q.modified {
		q.modifiedAt = q.now
	}
	_, err := q.tx.Exec(q.ctx, `UPDATE storages SET accessed_at = ?, modified_at = ?, had_multiple_clients = ?,
		total_request_count = total_request_count + ?, handled_request_count = handled_request_count + ?,
		pending_request_count = pending_request_count + ? WHERE id = ?`,
		q.s.t(q.now), q.s.t(q.modifiedAt), q.multi, q.dTotal, q.dHandled, q.dTotal-q.dHandled, q.id)
	if err != nil {
		return fmt.Errorf("update queue: %w", err)
	}
	return nil
}

// callTime is the time of a queue operation: the caller's, else the
// store's clock, at millisecond precision.
func (s *Store) callTime(c troupe.QueueCaller) time.Time {
	if c.Now.IsZero() {
		return norm(s.now())
	}
	return norm(c.Now)
}

// queueWrite runs fn on the locked queue in a write transaction, on behalf
// of c.ClientKey, and announces the queue's id when fn changed it.
func (s *Store) queueWrite(ctx context.Context, queueID string, c troupe.QueueCaller, fn func(q *queueTx) error) error {
	modified := false
	err := s.write(ctx, func(cn conn, tx *sql.Tx) error {
		q, err := s.loadQueue(ctx, cn, queueID, s.callTime(c), true)
		if err != nil {
			return err
		}
		q.recordClient(c.ClientKey)
		if err := fn(q); err != nil {
			return err
		}
		if err := q.finish(); err != nil {
			return err
		}
		if modified = q.modified; modified {
			return s.d.Notify(ctx, tx, queueID)
		}
		return nil
	})
	if modified {
		return s.commit(err, queueID)
	}
	return err
}

// queueRead runs fn on the queue in a read transaction, or in a write
// transaction when the call brings a client the queue has not recorded.
// fn must not write.
func (s *Store) queueRead(ctx context.Context, queueID string, c troupe.QueueCaller, fn func(q *queueTx) error) error {
	needWrite := false
	err := s.read(ctx, func(cn conn) error {
		q, err := s.loadQueue(ctx, cn, queueID, s.callTime(c), false)
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
	return s.queueWrite(ctx, queueID, c, fn)
}

// storedRequest is what a lookup by id finds of a request.
type storedRequest struct {
	uniqueKey   string
	handled     bool
	lockExpires NullTime
	lockClient  sql.NullString
}

// lockedAt reports whether the request holds an unexpired lock at now.
func (s *storedRequest) lockedAt(now time.Time) bool {
	return s.lockExpires.Valid && s.lockExpires.T.After(now)
}

// ownsLock reports whether clientKey holds the request's unexpired lock.
func (s *storedRequest) ownsLock(clientKey string, now time.Time) bool {
	return clientKey != "" && s.lockedAt(now) && s.lockClient.Valid && s.lockClient.String == clientKey
}

// find looks a request up by id; nil when there is none.
func (q *queueTx) find(id string) (*storedRequest, error) {
	if !q.s.validText(id) {
		return nil, nil // no request has such an id; asking would abort the transaction
	}
	var s storedRequest
	err := q.tx.QueryRow(q.ctx, `SELECT unique_key, handled_at IS NOT NULL, lock_expires_at, lock_client
		FROM requests WHERE queue_id = ? AND id = ?`, q.id, id).Scan(&s.uniqueKey, &s.handled, &s.lockExpires, &s.lockClient)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find request: %w", err)
	}
	return &s, nil
}

// insert stores a new, prepared request at order.
func (q *queueTx) insert(r *troupe.Request, order int64) error {
	data, err := codec.EncodeRequest(r)
	if err != nil {
		return err
	}
	if _, err := q.tx.Exec(q.ctx, `INSERT INTO requests (queue_id, id, unique_key, order_no, url, method,
		retry_count, handled_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		q.id, r.ID, r.UniqueKey, order, r.URL, r.Method, r.RetryCount, q.s.tp(r.HandledAt), data); err != nil {
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
func (s *Store) AddRequest(ctx context.Context, queueID string, r *troupe.Request, forefront bool, c troupe.QueueCaller) (*troupe.RequestResult, error) {
	p, err := codec.PrepareRequest(r)
	if err != nil {
		return nil, err
	}
	var res troupe.RequestResult
	err = s.queueWrite(ctx, queueID, c, func(q *queueTx) error {
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
func (s *Store) BatchAddRequests(ctx context.Context, queueID string, rs []*troupe.Request, forefront bool, c troupe.QueueCaller) (*troupe.BatchAddResult, error) {
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
	err := s.queueWrite(ctx, queueID, c, func(q *queueTx) error {
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
	var lock NullTime
	if err := row.Scan(&data, &lock); err != nil {
		return nil, err
	}
	r := new(troupe.Request)
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	r.LockExpiresAt = lock.Ptr()
	return r, nil
}

// GetRequest implements troupe.QueueStore.
func (s *Store) GetRequest(ctx context.Context, queueID, requestID string) (*troupe.Request, error) {
	r, err := scanRequest(s.reader().QueryRow(ctx,
		`SELECT data, lock_expires_at FROM requests WHERE queue_id = ? AND id = ?`, queueID, requestID))
	if err != nil {
		return nil, s.notFound(err, "Request")
	}
	return r, nil
}

// UpdateRequest implements troupe.QueueStore.
func (s *Store) UpdateRequest(ctx context.Context, queueID string, r *troupe.Request, forefront bool, c troupe.QueueCaller) (*troupe.RequestResult, error) {
	p, err := codec.PrepareRequest(r)
	if err != nil {
		return nil, err
	}
	res := &troupe.RequestResult{RequestID: p.ID, UniqueKey: p.UniqueKey}
	err = s.queueWrite(ctx, queueID, c, func(q *queueTx) error {
		old, err := q.find(p.ID)
		if err != nil {
			return err
		}
		if old == nil {
			_, err := q.add([]*troupe.Request{p}, forefront)
			return err
		}
		if old.uniqueKey != p.UniqueKey {
			return errCollision(p)
		}
		res.WasAlreadyPresent, res.WasAlreadyHandled = true, old.handled
		data, err := codec.EncodeRequest(p)
		if err != nil {
			return err
		}
		handled := p.HandledAt != nil
		switch {
		case handled:
			_, err = q.tx.Exec(q.ctx, `UPDATE requests SET url = ?, method = ?, retry_count = ?, handled_at = ?,
				lock_expires_at = NULL, lock_client = NULL, data = ? WHERE queue_id = ? AND id = ?`,
				p.URL, p.Method, p.RetryCount, q.s.tp(p.HandledAt), data, q.id, p.ID)
		default:
			_, err = q.tx.Exec(q.ctx, `UPDATE requests SET url = ?, method = ?, retry_count = ?, handled_at = NULL,
				order_no = ?, data = ? WHERE queue_id = ? AND id = ?`,
				p.URL, p.Method, p.RetryCount, q.nextOrder(forefront), data, q.id, p.ID)
		}
		if err != nil {
			return fmt.Errorf("update request: %w", err)
		}
		q.modified = true
		switch {
		case handled && !old.handled:
			q.dHandled++
		case !handled && old.handled:
			q.dHandled--
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// remove deletes a request by id; s is nil when there was none.
func (q *queueTx) remove(id string) (s *storedRequest, err error) {
	if s, err = q.find(id); err != nil || s == nil {
		return s, err
	}
	if _, err := q.tx.Exec(q.ctx, `DELETE FROM requests WHERE queue_id = ? AND id = ?`, q.id, id); err != nil {
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
func (s *Store) DeleteRequest(ctx context.Context, queueID, requestID string, c troupe.QueueCaller) error {
	return s.queueWrite(ctx, queueID, c, func(q *queueTx) error {
		old, err := q.remove(requestID)
		if err != nil {
			return err
		}
		if old == nil {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Request %s was not found.", requestID)
		}
		return nil
	})
}

// BatchDeleteRequests implements troupe.QueueStore.
func (s *Store) BatchDeleteRequests(ctx context.Context, queueID string, refs []troupe.RequestRef, c troupe.QueueCaller) (*troupe.BatchDeleteResult, error) {
	if len(refs) > troupe.MaxBatchRequests {
		return nil, troupe.Errorf(troupe.ErrInvalidValue, "A batch may hold at most %d requests; it has %d.", troupe.MaxBatchRequests, len(refs))
	}
	res := &troupe.BatchDeleteResult{ProcessedRequests: []troupe.RequestRef{}, UnprocessedRequests: []troupe.RequestRef{}}
	err := s.queueWrite(ctx, queueID, c, func(q *queueTx) error {
		for _, ref := range refs {
			id := ref.ID
			if id == "" && ref.UniqueKey != "" {
				id = troupe.RequestID(ref.UniqueKey)
			}
			if id == "" {
				res.UnprocessedRequests = append(res.UnprocessedRequests, ref)
				continue
			}
			old, err := q.remove(id)
			if err != nil {
				return err
			}
			done := troupe.RequestRef{ID: id, UniqueKey: ref.UniqueKey}
			if old != nil {
				done.UniqueKey = old.uniqueKey
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
func (s *Store) ListRequests(ctx context.Context, queueID string, o troupe.RequestListOptions) (*troupe.RequestPage, error) {
	limit := o.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, troupe.MaxListRequestsLimit)
	var page *troupe.RequestPage
	err := s.queueRead(ctx, queueID, o.QueueCaller, func(q *queueTx) error {
		query := `SELECT data, lock_expires_at FROM requests WHERE queue_id = ? AND id > ?`
		args := []any{q.id, o.After}
		if !s.validText(o.After) {
			// No id holds such bytes, but they still have a place in
			// the byte order the ids are listed in.
			query = `SELECT data, lock_expires_at FROM requests WHERE queue_id = ? AND ` + s.dl.ByteOrder("id") + ` > ?`
			args[1] = []byte(o.After)
		}
		var filters []string
		if o.Locked {
			filters = append(filters, `(handled_at IS NULL AND lock_expires_at > ?)`)
			args = append(args, s.t(q.now))
		}
		if o.Pending {
			filters = append(filters, `handled_at IS NULL`)
		}
		if len(filters) > 0 {
			query += ` AND (` + strings.Join(filters, ` OR `) + `)`
		}
		query += ` ORDER BY id LIMIT ?`
		args = append(args, limit+1)
		rows, err := q.tx.Query(q.ctx, query, args...)
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
// in queue order. With lock, it locks their rows, skipping rows another
// transaction holds.
func (q *queueTx) head(limit int, lock bool) ([]troupe.HeadItem, error) {
	query := `SELECT id, unique_key, url, method, retry_count FROM requests
		WHERE queue_id = ? AND handled_at IS NULL AND (lock_expires_at IS NULL OR lock_expires_at <= ?)
		ORDER BY order_no LIMIT ?`
	if lock {
		query += q.s.skipLocked()
	}
	rows, err := q.tx.Query(q.ctx, query, q.id, q.s.t(q.now), limit)
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
func (s *Store) Head(ctx context.Context, queueID string, limit int, c troupe.QueueCaller) (*troupe.QueueHead, error) {
	if limit <= 0 {
		limit = defaultHeadLimit
	}
	limit = min(limit, troupe.MaxHeadLimit)
	var h *troupe.QueueHead
	err := s.queueRead(ctx, queueID, c, func(q *queueTx) error {
		items, err := q.head(limit, false)
		if err != nil {
			return err
		}
		h = &troupe.QueueHead{Limit: limit, QueueModifiedAt: q.modifiedAt, HadMultipleClients: q.multi, Items: items}
		return nil
	})
	return h, err
}

// lockDuration checks a lock's length and returns it rounded up to whole
// milliseconds.
func lockDuration(d time.Duration) (time.Duration, error) {
	if d <= 0 {
		return 0, troupe.Errorf(troupe.ErrInvalidValue, "A lock must last more than 0 seconds.")
	}
	return (d + time.Millisecond - 1) / time.Millisecond * time.Millisecond, nil
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
func (s *Store) LockHead(ctx context.Context, queueID string, o troupe.LockOptions) (*troupe.QueueHead, error) {
	lock, err := lockDuration(o.Lock)
	if err != nil {
		return nil, err
	}
	limit := o.Limit
	if limit <= 0 || limit > troupe.MaxBatchRequests {
		limit = troupe.MaxBatchRequests
	}
	owner := lockOwner(o.ClientKey)
	var h *troupe.QueueHead
	err = s.queueWrite(ctx, queueID, o.QueueCaller, func(q *queueTx) error {
		items, err := q.head(limit, true)
		if err != nil {
			return err
		}
		at := q.now.Add(lock)
		if len(items) > 0 {
			args := make([]any, 0, len(items)+3)
			args = append(args, s.t(at), owner, q.id)
			for i := range items {
				items[i].LockExpiresAt = &at
				args = append(args, items[i].ID)
			}
			if _, err := q.tx.Exec(q.ctx, `UPDATE requests SET lock_expires_at = ?, lock_client = ?
				WHERE queue_id = ? AND id IN (`+marks(len(items))+`)`, args...); err != nil {
				return fmt.Errorf("lock requests: %w", err)
			}
			q.modified = true
		}
		h = &troupe.QueueHead{Limit: limit, QueueModifiedAt: q.modifiedAt, HadMultipleClients: q.multi, Items: items}
		if q.modified {
			h.QueueModifiedAt = q.now
		}
		if h.QueueHasLockedRequests, err = q.tx.exists(q.ctx,
			`SELECT 1 FROM requests WHERE queue_id = ? AND lock_expires_at > ? LIMIT 1`, q.id, s.t(q.now)); err != nil {
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
func (s *Store) ProlongRequestLock(ctx context.Context, queueID, requestID string, o troupe.LockOptions) (time.Time, error) {
	lock, err := lockDuration(o.Lock)
	if err != nil {
		return time.Time{}, err
	}
	var at time.Time
	err = s.queueWrite(ctx, queueID, o.QueueCaller, func(q *queueTx) error {
		r, err := q.find(requestID)
		if err != nil {
			return err
		}
		switch {
		case r == nil:
			return troupe.Errorf(troupe.ErrRecordNotFound, "Request %s was not found.", requestID)
		case r.handled:
			return troupe.Errorf(troupe.ErrConflict, "Request %s was already handled; it cannot be locked.", requestID)
		case r.lockedAt(q.now) && !r.ownsLock(o.ClientKey, q.now):
			return errLockedByOther(requestID)
		}
		owner := o.ClientKey
		if !r.ownsLock(owner, q.now) {
			owner = lockOwner(owner)
		}
		expires := q.now.Add(lock)
		query := `UPDATE requests SET lock_expires_at = ?, lock_client = ? WHERE queue_id = ? AND id = ?`
		args := []any{s.t(expires), owner, q.id, requestID}
		if o.Forefront {
			query = `UPDATE requests SET lock_expires_at = ?, lock_client = ?, order_no = ? WHERE queue_id = ? AND id = ?`
			args = []any{s.t(expires), owner, q.nextOrder(true), q.id, requestID}
		}
		if _, err := q.tx.Exec(q.ctx, query, args...); err != nil {
			return fmt.Errorf("prolong lock: %w", err)
		}
		q.modified = true
		at = expires
		return nil
	})
	return at, err
}

// DeleteRequestLock implements troupe.QueueStore.
func (s *Store) DeleteRequestLock(ctx context.Context, queueID, requestID string, forefront bool, c troupe.QueueCaller) error {
	return s.queueWrite(ctx, queueID, c, func(q *queueTx) error {
		r, err := q.find(requestID)
		if err != nil {
			return err
		}
		switch {
		case r == nil:
			return troupe.Errorf(troupe.ErrRecordNotFound, "Request %s was not found.", requestID)
		case !r.lockedAt(q.now):
			return nil
		case !r.ownsLock(c.ClientKey, q.now):
			return errLockedByOther(requestID)
		}
		query := `UPDATE requests SET lock_expires_at = NULL, lock_client = NULL WHERE queue_id = ? AND id = ?`
		args := []any{q.id, requestID}
		if forefront {
			query = `UPDATE requests SET lock_expires_at = NULL, lock_client = NULL, order_no = ? WHERE queue_id = ? AND id = ?`
			args = []any{q.nextOrder(true), q.id, requestID}
		}
		if _, err := q.tx.Exec(q.ctx, query, args...); err != nil {
			return fmt.Errorf("delete lock: %w", err)
		}
		q.modified = true
		return nil
	})
}

// UnlockRequests implements troupe.QueueStore.
func (s *Store) UnlockRequests(ctx context.Context, queueID string, c troupe.QueueCaller) (int, error) {
	var n int64
	err := s.queueWrite(ctx, queueID, c, func(q *queueTx) error {
		if c.ClientKey == "" {
			return nil
		}
		res, err := q.tx.Exec(q.ctx, `UPDATE requests SET lock_expires_at = NULL, lock_client = NULL
			WHERE queue_id = ? AND lock_expires_at > ? AND lock_client = ?`, q.id, s.t(q.now), c.ClientKey)
		if err != nil {
			return fmt.Errorf("unlock requests: %w", err)
		}
		n, _ = res.RowsAffected()
		q.modified = n > 0
		return nil
	})
	return int(n), err
}
