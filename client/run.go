package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// RunClient steers one run: /v2/actor-runs/{id}, or an actor's last run
// (see [ActorClient.LastRun]). Get it with [Client.Run].
type RunClient struct{ r resource }

// Run returns the client of the run with this id.
func (c *Client) Run(id string) *RunClient {
	return &RunClient{r: resource{c: c, path: "/actor-runs"}.sub(id)}
}

// Get returns the run, or nil and no error when there is no such run (a 404
// of type record-not-found).
func (rc *RunClient) Get(ctx context.Context) (*Run, error) {
	return get[Run](ctx, rc.r, nil)
}

// WaitForFinish waits until the run is terminal (SUCCEEDED, FAILED,
// TIMED-OUT or ABORTED) or waitSecs seconds have passed (0: no limit), and
// returns the run as last seen, which is not terminal when the time ran out.
// It repeats GET ?waitForFinish=N (N at most 60), so the server holds each
// request until the run finishes. A run that is not found is looked for
// again for a few seconds (it may not be visible yet right after it was
// started); after that the not-found error is returned. Cancelling ctx
// stops the wait and returns ctx.Err().
func (rc *RunClient) WaitForFinish(ctx context.Context, waitSecs int) (*Run, error) {
	return waitForFinish(ctx, rc.r, waitSecs, func(r *Run) Status { return r.Status })
}

// Abort aborts the run (POST abort?gracefully=1|0) and returns it, usually
// ABORTING or ABORTED. Gracefully, the actor is sent the aborting and
// persistState events and stopped after a grace period; otherwise at once.
// A run that has already finished is returned as it is.
func (rc *RunClient) Abort(ctx context.Context, gracefully bool) (*Run, error) {
	q := url.Values{"gracefully": {boolParam(gracefully)}}
	return fetch[Run](ctx, rc.r.sub("abort"), http.MethodPost, q, nil)
}

// Delete deletes a finished run with its log. A run that does not exist is
// not an error.
func (rc *RunClient) Delete(ctx context.Context) error {
	return remove(ctx, rc.r)
}

// MetamorphOptions are the optional parameters of [RunClient.Metamorph].
type MetamorphOptions struct {
	// Build is the target actor's build tag or number (default: the build of
	// its default run options).
	Build string
	// ContentType of the input (default "application/json; charset=utf-8"
	// when there is an input).
	ContentType string
}

// Metamorph turns the running run into a run of the target actor ("id" or
// "username/name"), keeping its id and storages; input (nil: none) becomes
// the new input record. It returns the run.
func (rc *RunClient) Metamorph(ctx context.Context, targetActorID string, input []byte, opts *MetamorphOptions) (*Run, error) {
	if opts == nil {
		opts = &MetamorphOptions{}
	}
	q := url.Values{"targetActorId": {safeID(targetActorID)}}
	if opts.Build != "" {
		q.Set("build", opts.Build)
	}
	return sendInput[Run](ctx, rc.r.sub("metamorph"), q, input, opts.ContentType)
}

// Reboot restarts the process of a RUNNING run (same run id and storages)
// and returns the run.
func (rc *RunClient) Reboot(ctx context.Context) (*Run, error) {
	return fetch[Run](ctx, rc.r.sub("reboot"), http.MethodPost, nil, nil)
}

// ResurrectOptions are the optional parameters of [RunClient.Resurrect]; a
// zero or nil field keeps the value the run had.
type ResurrectOptions struct {
	// Build tag or number (default: the exact build the run used).
	Build             string
	MemoryMbytes      *int
	TimeoutSecs       *int
	MaxItems          *int
	MaxTotalChargeUsd *float64
	RestartOnError    *bool
}

// Resurrect brings a finished run back to RUNNING with the same storages
// and returns it.
func (rc *RunClient) Resurrect(ctx context.Context, opts *ResurrectOptions) (*Run, error) {
	q := url.Values{}
	if opts != nil {
		if opts.Build != "" {
			q.Set("build", opts.Build)
		}
		setInt(q, "memory", opts.MemoryMbytes)
		setInt(q, "timeout", opts.TimeoutSecs)
		setInt(q, "maxItems", opts.MaxItems)
		setFloat(q, "maxTotalChargeUsd", opts.MaxTotalChargeUsd)
		setBool(q, "restartOnError", opts.RestartOnError)
	}
	return fetch[Run](ctx, rc.r.sub("resurrect"), http.MethodPost, q, nil)
}

// RunUpdate holds the run fields [RunClient.Update] changes; nil fields are
// left as they are.
type RunUpdate struct {
	StatusMessage           *string `json:"statusMessage,omitempty"`
	IsStatusMessageTerminal *bool   `json:"isStatusMessageTerminal,omitempty"`
	// GeneralAccess is FOLLOW_USER_SETTING, ANYONE_WITH_ID_CAN_READ or
	// RESTRICTED.
	GeneralAccess *string `json:"generalAccess,omitempty"`
}

// Update changes the run (PUT with the non-nil fields of u) and returns it.
func (rc *RunClient) Update(ctx context.Context, u *RunUpdate) (*Run, error) {
	if u == nil {
		u = &RunUpdate{}
	}
	return fetch[Run](ctx, rc.r, http.MethodPut, nil, u)
}

// Log returns the client of the run's log.
func (rc *RunClient) Log() *LogClient { return &LogClient{r: rc.r.sub("log")} }

// KeyValueStore returns the client of the run's default key-value store.
func (rc *RunClient) KeyValueStore() *KeyValueStoreClient {
	return &KeyValueStoreClient{r: rc.r.sub("key-value-store")}
}

// RunCollectionClient lists runs: all of the user's ([Client.Runs]) or one
// actor's ([ActorClient.Runs]).
type RunCollectionClient struct{ r resource }

// Runs returns the client of the user's runs across all actors.
func (c *Client) Runs() *RunCollectionClient {
	return &RunCollectionClient{r: resource{c: c, path: "/actor-runs"}}
}

// RunListOptions filter and page a run list; zero fields are not sent.
type RunListOptions struct {
	Offset int
	Limit  int
	Desc   bool
	// Status keeps runs with any of these statuses.
	Status []string
	// StartedAfter and StartedBefore bound startedAt, inclusive.
	StartedAfter  *time.Time
	StartedBefore *time.Time
}

// RunList is a page of runs.
type RunList = Page[*Run]

// List returns a page of runs ordered by startedAt.
func (rcc *RunCollectionClient) List(ctx context.Context, opts *RunListOptions) (*RunList, error) {
	q := url.Values{}
	if opts != nil {
		q = (&ListOptions{Offset: opts.Offset, Limit: opts.Limit, Desc: opts.Desc}).values()
		if len(opts.Status) > 0 {
			q.Set("status", strings.Join(opts.Status, ","))
		}
		if opts.StartedAfter != nil {
			q.Set("startedAfter", timeParam(*opts.StartedAfter))
		}
		if opts.StartedBefore != nil {
			q.Set("startedBefore", timeParam(*opts.StartedBefore))
		}
	}
	return fetch[RunList](ctx, rcc.r, http.MethodGet, q, nil)
}

// sendInput POSTs a raw input body (nil: no body) with its content type and
// returns the answer's data.
func sendInput[T any](ctx context.Context, r resource, q url.Values, input []byte, contentType string) (*T, error) {
	if input != nil && contentType == "" {
		contentType = jsonContentType
	}
	v := new(T)
	if err := r.send(ctx, http.MethodPost, q, input, contentType, v); err != nil {
		return nil, err
	}
	return v, nil
}

func setInt(q url.Values, name string, v *int) {
	if v != nil {
		q.Set(name, strconv.Itoa(*v))
	}
}

func setFloat(q url.Values, name string, v *float64) {
	if v != nil {
		q.Set(name, strconv.FormatFloat(*v, 'f', -1, 64))
	}
}

func setBool(q url.Values, name string, v *bool) {
	if v != nil {
		q.Set(name, boolParam(*v))
	}
}
