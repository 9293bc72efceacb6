package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is the API origin a client uses unless told otherwise.
const DefaultBaseURL = "https://api.apify.com"

// Defaults of the retry policy.
const (
	DefaultMaxRetries    = 8
	DefaultMinRetryDelay = 500 * time.Millisecond
)

// maxRetryDelay caps one backoff step.
const maxRetryDelay = 2 * time.Minute

// defaultUserAgent is sent when WithUserAgent is not used.
const defaultUserAgent = "troupe-go-client"

// jsonContentType is the content type of JSON request bodies.
const jsonContentType = "application/json; charset=utf-8"

// Client talks to one API server. It is safe for concurrent use; create it
// with New.
type Client struct {
	baseURL       string // origin + "/v2", no trailing slash
	token         string
	httpClient    *http.Client
	maxRetries    int
	minRetryDelay time.Duration
	userAgent     string
}

// Option configures a Client.
type Option func(*Client)

// WithBaseURL sets the API origin, e.g. "http://127.0.0.1:8700". A trailing
// "/" is stripped and "/v2" appended, as the reference clients do, so the
// URL must not end in "/v2" itself.
func WithBaseURL(u string) Option {
	return func(c *Client) { c.baseURL = strings.TrimRight(u, "/") + "/v2" }
}

// WithToken sets the API token, sent as "Authorization: Bearer <token>".
// Without a token no Authorization header is sent.
func WithToken(tok string) Option { return func(c *Client) { c.token = tok } }

// WithHTTPClient sets the HTTP client used for every request (default: a
// client with no overall timeout, since waits and log streams are long).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.httpClient = hc } }

// WithMaxRetries sets how many times a failed request is retried (default
// 8; 0 disables retries).
func WithMaxRetries(n int) Option {
	return func(c *Client) { c.maxRetries = max(n, 0) }
}

// WithMinRetryDelay sets the first backoff delay (default 500ms). Retry n
// waits a random time between d·2ⁿ and 2·d·2ⁿ.
func WithMinRetryDelay(d time.Duration) Option { return func(c *Client) { c.minRetryDelay = d } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client configured by opts.
func New(opts ...Option) *Client {
	c := &Client{
		baseURL:       DefaultBaseURL + "/v2",
		httpClient:    &http.Client{},
		maxRetries:    DefaultMaxRetries,
		minRetryDelay: DefaultMinRetryDelay,
		userAgent:     defaultUserAgent,
	}
	for _, o := range opts {
		o(c)
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{}
	}
	return c
}

// Error is an error answer of the API: an HTTP status of 300 or more, with
// the type and message of its {"error":{"type","message"}} body. When the
// body is not such an object, Type is empty and Message holds the status
// text (and the start of the body, if any).
type Error struct {
	StatusCode int
	Type       string
	Message    string
}

func (e *Error) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("%s (HTTP %d)", e.Message, e.StatusCode)
	}
	return fmt.Sprintf("%s (HTTP %d %s)", e.Message, e.StatusCode, e.Type)
}

// IsNotFound reports whether err is (or wraps) a 404 answer that means the
// resource does not exist: type record-not-found or
// record-or-token-not-found. Other 404 types (e.g. page-not-found) are not.
func IsNotFound(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusNotFound {
		return false
	}
	return e.Type == "record-not-found" || e.Type == "record-or-token-not-found"
}

// Ptr returns a pointer to v, for the optional fields of options structs.
func Ptr[T any](v T) *T { return &v }

// newRequest builds a request for path (below /v2, escaped) with the query,
// the body (nil: none) and its content type, and the client's headers. The
// body can be re-read, so the request can be re-sent on retry.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body []byte, contentType string) (*http.Request, error) {
	u := c.baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil && contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	return req, nil
}

// do sends req and decodes the "data" member of the JSON answer into v. With
// v nil the answer body is read and dropped.
func (c *Client) do(req *http.Request, v any) error {
	resp, body, err := c.send(req, true)
	if err != nil || v == nil {
		return err
	}
	return decodeData(req, resp, body, v)
}

// doRaw sends req and returns the whole answer body and headers, without
// envelope decoding (logs, key-value records).
func (c *Client) doRaw(req *http.Request) ([]byte, http.Header, error) {
	resp, body, err := c.send(req, true)
	if err != nil {
		return nil, nil, err
	}
	return body, resp.Header, nil
}

// doStream sends req and returns the successful answer with its body still
// open; the caller closes it. Only failures before the answer's headers
// arrive are retried.
func (c *Client) doStream(req *http.Request) (*http.Response, error) {
	resp, _, err := c.send(req, false)
	return resp, err
}

// retryableError marks a failure worth another attempt.
type retryableError struct{ err error }

func (e retryableError) Error() string { return e.err.Error() }
func (e retryableError) Unwrap() error { return e.err }

// send is the one request path: it sends req, retrying network errors
// (including a body cut short when readBody is set), 429 and 5xx answers
// with exponential backoff, until it succeeds, the retries are used up or
// req's context ends. Other answers of 300 and more become *Error. With
// readBody, the body of a successful answer is read, closed and returned;
// otherwise resp.Body is left open for the caller.
func (c *Client) send(req *http.Request, readBody bool) (*http.Response, []byte, error) {
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		resp, body, err := c.attempt(req, attempt, readBody)
		if err == nil {
			return resp, body, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		var re retryableError
		if !errors.As(err, &re) {
			return nil, nil, err
		}
		if attempt >= c.maxRetries {
			return nil, nil, re.err
		}
		t := time.NewTimer(c.backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
	}
}

// attempt sends req once. Errors worth a retry are wrapped in retryableError.
func (c *Client) attempt(req *http.Request, n int, readBody bool) (*http.Response, []byte, error) {
	r := req
	if n > 0 {
		r = req.Clone(req.Context())
		if req.GetBody != nil {
			b, err := req.GetBody()
			if err != nil {
				return nil, nil, err
			}
			r.Body = b
		}
	}
	resp, err := c.httpClient.Do(r)
	if err != nil {
		return nil, nil, retryableError{err}
	}
	if resp.StatusCode >= 300 {
		apiErr := decodeError(resp)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return nil, nil, retryableError{apiErr}
		}
		return nil, nil, apiErr
	}
	if !readBody {
		return resp, nil, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, nil, retryableError{fmt.Errorf("%s %s: read answer: %w", req.Method, req.URL.Path, err)}
	}
	return resp, body, nil
}

// backoff returns the delay before retry number attempt+1: a random time
// in [d, 2d) where d = minRetryDelay·2^attempt, capped.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.minRetryDelay
	for i := 0; i < attempt && d < maxRetryDelay; i++ {
		d *= 2
	}
	d = min(d, maxRetryDelay)
	if d <= 0 {
		return 0
	}
	return d + rand.N(d)
}

// decodeError reads (and closes) an error answer.
func decodeError(resp *http.Response) *Error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{StatusCode: resp.StatusCode}
	var env struct {
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error != nil && (env.Error.Type != "" || env.Error.Message != "") {
		e.Type, e.Message = env.Error.Type, env.Error.Message
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
		return e
	}
	e.Message = http.StatusText(resp.StatusCode)
	if e.Message == "" {
		e.Message = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	if s := strings.TrimSpace(string(body)); s != "" {
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		e.Message += ": " + s
	}
	return e
}

// safeID turns "username/name" into "username~name", the form the API
// accepts in paths; other ids are returned as they are.
func safeID(id string) string { return strings.Replace(id, "/", "~", 1) }

// boolParam is the query form of a boolean: "1" or "0".
func boolParam(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// timeParam is the query form of a time: ISO 8601 UTC with milliseconds.
func timeParam(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
