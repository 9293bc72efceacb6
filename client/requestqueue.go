package client

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RequestQueueClient reads and changes one request queue. Get it with
// [Client.RequestQueue] or [RunClient.RequestQueue].
//
// A queue tells its clients apart by a client key: locks belong to the key
// that took them, and a queue used by two keys reports hadMultipleClients.
// Set one with [RequestQueueClient.WithClientKey]; without one, every call
// counts as a new client (which, for instance, can never release a lock it
// took).
type RequestQueueClient struct {
	r         resource
	clientKey string
}

// RequestQueue returns the client of the request queue with this id (or
// "username/name").
func (c *Client) RequestQueue(id string) *RequestQueueClient {
	return &RequestQueueClient{r: resource{c: c, path: "/request-queues"}.sub(safeID(id))}
}

// RequestQueue returns the client of the run's default request queue.
func (rc *RunClient) RequestQueue() *RequestQueueClient {
	return &RequestQueueClient{r: rc.r.sub("request-queue")}
}

// WithClientKey returns a copy of the client that sends key (1 to 32
// characters) as its clientKey.
func (q *RequestQueueClient) WithClientKey(key string) *RequestQueueClient {
	c := *q
	c.clientKey = key
	return &c
}

// ClientKey returns the client key the client sends ("" for none).
func (q *RequestQueueClient) ClientKey() string { return q.clientKey }

// params returns the query of a call: the client key and extra.
func (q *RequestQueueClient) params(extra url.Values) url.Values {
	if extra == nil {
		extra = url.Values{}
	}
	if q.clientKey != "" {
		extra.Set("clientKey", q.clientKey)
	}
	return extra
}

func forefrontParam(forefront bool) url.Values {
	return url.Values{"forefront": {boolParam(forefront)}}
}

func lockParam(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// Get returns the queue with its counters (totalRequestCount,
// handledRequestCount, pendingRequestCount, hadMultipleClients), or nil and
// no error when there is no such queue.
func (q *RequestQueueClient) Get(ctx context.Context) (*Storage, error) {
	return get[Storage](ctx, q.r, nil)
}

// AddRequestOptions are the options of adding or updating requests.
type AddRequestOptions struct {
	// Forefront puts the request at the front of the queue instead of its
	// end.
	Forefront bool
}

func (o *AddRequestOptions) forefront() bool { return o != nil && o.Forefront }

// uniqueKeyOf is the uniqueKey the server uses for a request.
func uniqueKeyOf(r *Request) string {
	if r.UniqueKey != "" {
		return r.UniqueKey
	}
	return r.URL
}

// requestOp sends a request object and completes the answer with the
// request's uniqueKey.
func (q *RequestQueueClient) requestOp(ctx context.Context, r resource, method string, req *Request, opts *AddRequestOptions) (*RequestResult, error) {
	res, err := fetch[RequestResult](ctx, r, method, q.params(forefrontParam(opts.forefront())), req)
	if err != nil {
		return nil, err
	}
	res.UniqueKey = uniqueKeyOf(req)
	return res, nil
}

// AddRequest adds a request without an id (its uniqueKey defaults to its
// URL). When the queue already has a request with that uniqueKey nothing
// changes and the result says WasAlreadyPresent (and WasAlreadyHandled).
func (q *RequestQueueClient) AddRequest(ctx context.Context, req *Request, opts *AddRequestOptions) (*RequestResult, error) {
	return q.requestOp(ctx, q.r.sub("requests"), http.MethodPost, req, opts)
}

// GetRequest returns a request, or nil and no error when the queue has no
// request with this id.
func (q *RequestQueueClient) GetRequest(ctx context.Context, id string) (*Request, error) {
	return get[Request](ctx, q.r.sub("requests", id), nil)
}

// UpdateRequest replaces the request with req.ID (which must be set) with
// req. Setting HandledAt marks it handled, which takes it out of the head
// and releases its lock.
func (q *RequestQueueClient) UpdateRequest(ctx context.Context, req *Request, opts *AddRequestOptions) (*RequestResult, error) {
	if req.ID == "" {
		return nil, errors.New("client: UpdateRequest needs the request's id")
	}
	return q.requestOp(ctx, q.r.sub("requests", req.ID), http.MethodPut, req, opts)
}

// DeleteRequest deletes a request; record-not-found when there is none.
func (q *RequestQueueClient) DeleteRequest(ctx context.Context, id string) error {
	return q.r.sub("requests", id).call(ctx, http.MethodDelete, q.params(nil), nil, nil)
}

// BatchAddRequests adds requests like AddRequest, in batches of at most 25,
// one after the other, and returns the results of all of them. Requests
// the server refused (e.g. without a URL) are in UnprocessedRequests. On an
// error it returns what the batches before it did, with the error.
func (q *RequestQueueClient) BatchAddRequests(ctx context.Context, reqs []*Request, opts *AddRequestOptions) (*BatchAddResult, error) {
	out := &BatchAddResult{ProcessedRequests: []RequestResult{}, UnprocessedRequests: []UnprocessedRequest{}}
	for chunk := range slices.Chunk(reqs, MaxBatchRequests) {
		res, err := fetch[BatchAddResult](ctx, q.r.sub("requests", "batch"), http.MethodPost,
			q.params(forefrontParam(opts.forefront())), chunk)
		if err != nil {
			return out, err
		}
		out.ProcessedRequests = append(out.ProcessedRequests, res.ProcessedRequests...)
		out.UnprocessedRequests = append(out.UnprocessedRequests, res.UnprocessedRequests...)
	}
	return out, nil
}

// BatchDeleteRequests deletes the requests named by id or uniqueKey, in
// batches of at most 25. On an error it returns what the batches before it
// did, with the error.
func (q *RequestQueueClient) BatchDeleteRequests(ctx context.Context, refs []RequestRef) (*BatchDeleteResult, error) {
	out := &BatchDeleteResult{ProcessedRequests: []RequestRef{}, UnprocessedRequests: []RequestRef{}}
	for chunk := range slices.Chunk(refs, MaxBatchRequests) {
		res, err := fetch[BatchDeleteResult](ctx, q.r.sub("requests", "batch"), http.MethodDelete, q.params(nil), chunk)
		if err != nil {
			return out, err
		}
		out.ProcessedRequests = append(out.ProcessedRequests, res.ProcessedRequests...)
		out.UnprocessedRequests = append(out.UnprocessedRequests, res.UnprocessedRequests...)
	}
	return out, nil
}

// ListRequestsOptions select and page a request list; zero fields are not
// sent.
type ListRequestsOptions struct {
	// Limit is the page size (server default 1000, at most 10000).
	Limit int
	// Cursor continues a list: the NextCursor of the previous page.
	Cursor string
	// ExclusiveStartID starts the list after this request id (deprecated by
	// the API in favour of Cursor).
	ExclusiveStartID string
	// Filter keeps only "locked" and/or "pending" requests.
	Filter []string
}

// RequestsPage is one page of a request list. NextCursor is empty on the
// last page.
type RequestsPage struct {
	Items            []*Request `json:"items"`
	Limit            int        `json:"limit"`
	Cursor           string     `json:"cursor,omitempty"`
	ExclusiveStartID string     `json:"exclusiveStartId,omitempty"`
	NextCursor       string     `json:"nextCursor,omitempty"`
}

// ListRequests returns one page of the queue's requests, ordered by id.
func (q *RequestQueueClient) ListRequests(ctx context.Context, opts *ListRequestsOptions) (*RequestsPage, error) {
	v := url.Values{}
	if opts != nil {
		if opts.Limit > 0 {
			v.Set("limit", strconv.Itoa(opts.Limit))
		}
		if opts.Cursor != "" {
			v.Set("cursor", opts.Cursor)
		}
		if opts.ExclusiveStartID != "" {
			v.Set("exclusiveStartId", opts.ExclusiveStartID)
		}
		if len(opts.Filter) > 0 {
			v.Set("filter", strings.Join(opts.Filter, ","))
		}
	}
	return fetch[RequestsPage](ctx, q.r.sub("requests"), http.MethodGet, q.params(v), nil)
}

// ListRequestsIter yields every request of the queue from where opts start
// (pages of opts.Limit), following the pages' cursors. It stops at the
// first error, which it yields.
func (q *RequestQueueClient) ListRequestsIter(ctx context.Context, opts *ListRequestsOptions) iter.Seq2[*Request, error] {
	o := ListRequestsOptions{}
	if opts != nil {
		o = *opts
		o.Filter = append([]string(nil), opts.Filter...)
	}
	return func(yield func(*Request, error) bool) {
		for {
			page, err := q.ListRequests(ctx, &o)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, r := range page.Items {
				if !yield(r, nil) {
					return
				}
			}
			if page.NextCursor == "" || len(page.Items) == 0 {
				return
			}
			o.Cursor, o.ExclusiveStartID = page.NextCursor, ""
		}
	}
}

// QueueHead is the head of a queue: its first unhandled requests that no
// client holds a lock on, forefront ones first. ClientKey, LockSecs and
// QueueHasLockedRequests are set by ListAndLockHead only, and so are the
// items' LockExpiresAt.
type QueueHead struct {
	Limit                  int        `json:"limit"`
	QueueModifiedAt        time.Time  `json:"queueModifiedAt"`
	HadMultipleClients     bool       `json:"hadMultipleClients"`
	QueueHasLockedRequests bool       `json:"queueHasLockedRequests"`
	ClientKey              string     `json:"clientKey"`
	LockSecs               float64    `json:"lockSecs"`
	Items                  []HeadItem `json:"items"`
}

// ListHead returns up to limit (0: the server's default, 100; at most 1000)
// requests of the queue's head without locking them.
func (q *RequestQueueClient) ListHead(ctx context.Context, limit int) (*QueueHead, error) {
	v := url.Values{}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	return fetch[QueueHead](ctx, q.r.sub("head"), http.MethodGet, q.params(v), nil)
}

// ListAndLockHead returns up to limit (0 or more than 25: 25) requests of
// the head and locks them for lock on behalf of the client key: until the
// lock expires no other client gets them. Without a client key the server
// makes one up and returns it in ClientKey.
func (q *RequestQueueClient) ListAndLockHead(ctx context.Context, lock time.Duration, limit int) (*QueueHead, error) {
	v := url.Values{"lockSecs": {lockParam(lock)}}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	return fetch[QueueHead](ctx, q.r.sub("head", "lock"), http.MethodPost, q.params(v), nil)
}

// ProlongLock makes the client's lock of a request expire lock from now
// (locking it when no client holds it) and returns the new expiry. With
// forefront the request goes to the front of the queue for when the lock
// ends. It fails with an *Error of type conflict when another client holds
// the lock or the request was handled.
func (q *RequestQueueClient) ProlongLock(ctx context.Context, id string, lock time.Duration, forefront bool) (time.Time, error) {
	v := forefrontParam(forefront)
	v.Set("lockSecs", lockParam(lock))
	res, err := fetch[struct {
		LockExpiresAt time.Time `json:"lockExpiresAt"`
	}](ctx, q.r.sub("requests", id, "lock"), http.MethodPut, q.params(v), nil)
	if err != nil {
		return time.Time{}, err
	}
	return res.LockExpiresAt, nil
}

// DeleteLock releases the client's lock of a request; with forefront the
// request goes to the front of the queue. A request no client holds a lock
// on is left as it is; another client's lock is a conflict error.
func (q *RequestQueueClient) DeleteLock(ctx context.Context, id string, forefront bool) error {
	return q.r.sub("requests", id, "lock").call(ctx, http.MethodDelete, q.params(forefrontParam(forefront)), nil, nil)
}

// Unlock releases every lock the client key holds in the queue and returns
// how many it released.
func (q *RequestQueueClient) Unlock(ctx context.Context) (int, error) {
	res, err := fetch[struct {
		UnlockedCount int `json:"unlockedCount"`
	}](ctx, q.r.sub("requests", "unlock"), http.MethodPost, q.params(nil), nil)
	if err != nil {
		return 0, err
	}
	return res.UnlockedCount, nil
}
