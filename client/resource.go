package client

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// resource is an API path plus the query parameters every request on it and
// on its sub-resources carries (e.g. status of a last-run client). All
// resource clients are built on it.
type resource struct {
	c     *Client
	path  string     // below /v2, starting with "/", segments escaped
	query url.Values // inherited by sub-resources; never modified in place
}

// sub returns the resource at path/seg1/seg2..., each segment escaped, with
// the same inherited query.
func (r resource) sub(segments ...string) resource {
	p := r.path
	for _, s := range segments {
		p += "/" + url.PathEscape(s)
	}
	return resource{c: r.c, path: p, query: r.query}
}

// params returns the inherited query merged with extra (extra wins).
func (r resource) params(extra url.Values) url.Values {
	if len(r.query) == 0 {
		return extra
	}
	q := make(url.Values, len(r.query)+len(extra))
	for k, v := range r.query {
		q[k] = v
	}
	for k, v := range extra {
		q[k] = v
	}
	return q
}

// request builds a request on the resource.
func (r resource) request(ctx context.Context, method string, query url.Values, body []byte, contentType string) (*http.Request, error) {
	return r.c.newRequest(ctx, method, r.path, r.params(query), body, contentType)
}

// call sends a request with an optional JSON body (in; nil: none) and
// decodes the answer's data into out (nil: dropped).
func (r resource) call(ctx context.Context, method string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = b
	}
	return r.send(ctx, method, query, body, jsonContentType, out)
}

// send sends a request with a raw body and decodes the answer's data into
// out (nil: dropped).
func (r resource) send(ctx context.Context, method string, query url.Values, body []byte, contentType string, out any) error {
	req, err := r.request(ctx, method, query, body, contentType)
	if err != nil {
		return err
	}
	return r.c.do(req, out)
}

// get fetches the resource into a new T; nil and no error when it does not
// exist.
func get[T any](ctx context.Context, r resource, query url.Values) (*T, error) {
	v := new(T)
	if err := r.call(ctx, http.MethodGet, query, nil, v); err != nil {
		if IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return v, nil
}

// fetch sends a request with a JSON body (nil: none) and returns the
// answer's data as a new T.
func fetch[T any](ctx context.Context, r resource, method string, query url.Values, in any) (*T, error) {
	v := new(T)
	if err := r.call(ctx, method, query, in, v); err != nil {
		return nil, err
	}
	return v, nil
}

// remove deletes the resource; a resource that does not exist is not an
// error.
func remove(ctx context.Context, r resource) error {
	err := r.call(ctx, http.MethodDelete, nil, nil, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// Page is one page of an offset-paginated list.
type Page[T any] struct {
	Total  int  `json:"total"`
	Offset int  `json:"offset"`
	Limit  int  `json:"limit"`
	Count  int  `json:"count"`
	Desc   bool `json:"desc"`
	Items  []T  `json:"items"`
}

// ListOptions page through a list. Zero values are not sent, so the server's
// defaults apply (offset 0, limit 1000, ascending).
type ListOptions struct {
	Offset int
	Limit  int
	Desc   bool
}

func (o *ListOptions) values() url.Values {
	q := url.Values{}
	if o == nil {
		return q
	}
	if o.Offset > 0 {
		q.Set("offset", strconv.Itoa(o.Offset))
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Desc {
		q.Set("desc", "1")
	}
	return q
}

// Waiting for jobs (runs and builds).
const (
	// maxWaitSecs is the longest wait the server honours per request.
	maxWaitSecs = 60
	// notFoundGrace is how long a job may be missing while waiting for it
	// (it may not be visible yet right after it was started).
	notFoundGrace = 3 * time.Second
	// pollGap is the least time between two polls that find the job
	// unfinished, in case a server answers at once.
	pollGap = 250 * time.Millisecond
)

// waitForFinish polls the job at r with GET ?waitForFinish=N, N being the
// remaining wait rounded and capped at 60 s, until the job is terminal or
// waitSecs elapsed (0: no limit). It returns the last job seen. A job that
// is not found is polled again for up to notFoundGrace, then the not-found
// error is returned.
func waitForFinish[T any](ctx context.Context, r resource, waitSecs int, status func(*T) Status) (*T, error) {
	var deadline time.Time
	if waitSecs > 0 {
		deadline = time.Now().Add(time.Duration(waitSecs) * time.Second)
	}
	var missingSince time.Time
	for {
		wait := maxWaitSecs
		if !deadline.IsZero() {
			rem := int(math.Round(time.Until(deadline).Seconds()))
			wait = max(min(rem, maxWaitSecs), 0)
		}
		polled := time.Now()
		job := new(T)
		err := r.call(ctx, http.MethodGet, url.Values{"waitForFinish": {strconv.Itoa(wait)}}, nil, job)
		expired := !deadline.IsZero() && !time.Now().Before(deadline)
		switch {
		case err == nil:
			if status(job).Terminal() || expired {
				return job, nil
			}
			missingSince = time.Time{}
		case IsNotFound(err):
			if missingSince.IsZero() {
				missingSince = polled
			}
			if expired || time.Since(missingSince) >= notFoundGrace {
				return nil, err
			}
		default:
			return nil, err
		}
		if gap := pollGap - time.Since(polled); gap > 0 {
			if err := sleep(ctx, gap); err != nil {
				return nil, err
			}
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
