package troupe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Request queue limits.
const (
	// MaxBatchRequests is the most requests one batch add or batch delete
	// takes, and the most requests one head/lock call locks.
	MaxBatchRequests = 25
	// MaxHeadLimit is the most requests one head listing returns.
	MaxHeadLimit = 1000
	// MaxListRequestsLimit is the most requests one page of a request list
	// holds.
	MaxListRequestsLimit = 10000
	// MaxClientKeyLength is the longest a clientKey may be.
	MaxClientKeyLength = 32
	// RequestIDLength is the length of a request id.
	RequestIDLength = 15
)

// ErrRequestIDInvalid is the error type of a request whose id does not
// correspond to its uniqueKey.
const ErrRequestIDInvalid = "request-id-invalid"

// RequestID returns the id of the request with this uniqueKey, the way the
// platform and Crawlee derive it: the SHA-256 digest of the key's UTF-8
// bytes in standard base64, without its '+', '/' and '=' characters, cut to
// RequestIDLength characters. Equal keys give equal ids in every queue.
func RequestID(uniqueKey string) string {
	sum := sha256.Sum256([]byte(uniqueKey))
	enc := base64.StdEncoding.EncodeToString(sum[:])
	id := make([]byte, 0, RequestIDLength)
	for i := 0; i < len(enc) && len(id) < RequestIDLength; i++ {
		switch c := enc[i]; c {
		case '+', '/', '=':
		default:
			id = append(id, c)
		}
	}
	return string(id)
}

// ValidClientKey reports whether k may be used as a clientKey: 1 to 32
// characters.
func ValidClientKey(k string) bool {
	n := utf8.RuneCountInString(k)
	return n >= 1 && n <= MaxClientKeyLength
}

// Request is one request in a request queue, as the API shows it. Fields the
// client sent that troupe does not know are kept in Extra and given back as
// they were.
type Request struct {
	// ID is RequestID(UniqueKey); the store sets it.
	ID        string
	UniqueKey string
	URL       string
	// Method is the HTTP method; empty means GET.
	Method        string
	Payload       *string
	Headers       map[string]string
	UserData      json.RawMessage
	RetryCount    int
	NoRetry       bool
	ErrorMessages []string
	// HandledAt is set once the request was handled. A handled request is
	// no longer in the queue's head and holds no lock.
	HandledAt *time.Time
	LoadedURL *string
	// LockExpiresAt is when the request's lock expires (or expired); nil
	// when it is not locked. Only the store sets it: Prepare clears it.
	LockExpiresAt *time.Time
	// Extra holds the other top-level fields of the request, by name.
	Extra map[string]json.RawMessage
}

// requestFields are the JSON names of Request's own fields.
var requestFields = map[string]bool{
	"id": true, "uniqueKey": true, "url": true, "method": true, "payload": true, "headers": true,
	"userData": true, "retryCount": true, "noRetry": true, "errorMessages": true, "handledAt": true,
	"loadedUrl": true, "lockExpiresAt": true,
}

// MarshalJSON writes the request with every field the API shows:
// absent headers, userData and errorMessages as {}, {} and [], handledAt
// only once the request is handled (never null: Crawlee's Request rejects a
// null handledAt), and lockExpiresAt only while locked.
func (r *Request) MarshalJSON() ([]byte, error) {
	type out struct {
		ID            string            `json:"id"`
		UniqueKey     string            `json:"uniqueKey"`
		URL           string            `json:"url"`
		Method        string            `json:"method"`
		Payload       *string           `json:"payload,omitempty"`
		Headers       map[string]string `json:"headers"`
		UserData      json.RawMessage   `json:"userData"`
		RetryCount    int               `json:"retryCount"`
		NoRetry       bool              `json:"noRetry"`
		ErrorMessages []string          `json:"errorMessages"`
		HandledAt     *time.Time        `json:"handledAt,omitempty"`
		LoadedURL     *string           `json:"loadedUrl,omitempty"`
		LockExpiresAt *time.Time        `json:"lockExpiresAt,omitempty"`
	}
	o := out{
		ID: r.ID, UniqueKey: r.UniqueKey, URL: r.URL, Method: r.Method, Payload: r.Payload,
		Headers: r.Headers, UserData: r.UserData, RetryCount: r.RetryCount, NoRetry: r.NoRetry,
		ErrorMessages: r.ErrorMessages, HandledAt: r.HandledAt, LoadedURL: r.LoadedURL,
		LockExpiresAt: r.LockExpiresAt,
	}
	if o.Method == "" {
		o.Method = "GET"
	}
	if o.Headers == nil {
		o.Headers = map[string]string{}
	}
	if len(bytes.TrimSpace(o.UserData)) == 0 || string(bytes.TrimSpace(o.UserData)) == "null" {
		o.UserData = json.RawMessage("{}")
	}
	if o.ErrorMessages == nil {
		o.ErrorMessages = []string{}
	}
	b, err := json.Marshal(o)
	if err != nil || len(r.Extra) == 0 {
		return b, err
	}
	// Append the extra fields, in a stable order, before the closing brace.
	var buf bytes.Buffer
	buf.Write(b[:len(b)-1])
	for _, k := range slices.Sorted(maps.Keys(r.Extra)) {
		if requestFields[k] {
			continue
		}
		v := bytes.TrimSpace(r.Extra[k])
		if len(v) == 0 {
			continue
		}
		name, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		buf.WriteByte(',')
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads a request object; unknown fields go to Extra. Null
// counts as absent.
func (r *Request) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	if fields == nil {
		return fmt.Errorf("a request must be a JSON object")
	}
	*r = Request{}
	for k, v := range fields {
		if string(bytes.TrimSpace(v)) == "null" {
			continue
		}
		var err error
		switch k {
		case "id":
			err = json.Unmarshal(v, &r.ID)
		case "uniqueKey":
			err = json.Unmarshal(v, &r.UniqueKey)
		case "url":
			err = json.Unmarshal(v, &r.URL)
		case "method":
			err = json.Unmarshal(v, &r.Method)
		case "payload":
			err = json.Unmarshal(v, &r.Payload)
		case "headers":
			err = json.Unmarshal(v, &r.Headers)
		case "userData":
			r.UserData = append(json.RawMessage(nil), v...)
		case "retryCount":
			err = json.Unmarshal(v, &r.RetryCount)
		case "noRetry":
			err = json.Unmarshal(v, &r.NoRetry)
		case "errorMessages":
			err = json.Unmarshal(v, &r.ErrorMessages)
		case "handledAt":
			err = json.Unmarshal(v, &r.HandledAt)
		case "loadedUrl":
			err = json.Unmarshal(v, &r.LoadedURL)
		case "lockExpiresAt":
			err = json.Unmarshal(v, &r.LockExpiresAt)
		default:
			if r.Extra == nil {
				r.Extra = map[string]json.RawMessage{}
			}
			r.Extra[k] = append(json.RawMessage(nil), v...)
		}
		if err != nil {
			return fmt.Errorf("field %s: %w", k, err)
		}
	}
	return nil
}

// Prepare validates a request that is about to be stored and fills in its
// defaults: a uniqueKey (the URL when empty), the id derived from it, the
// method (upper case, GET when empty) and times in UTC at millisecond
// precision. invalid-input when the URL is missing or handledAt is outside
// years 0-9999 in UTC; request-id-invalid when
// r.ID is set and does not correspond to the uniqueKey.
func (r *Request) Prepare() error {
	if strings.TrimSpace(r.URL) == "" {
		return Errorf(ErrInvalidInput, "A request must have a url.")
	}
	if r.UniqueKey == "" {
		r.UniqueKey = r.URL
	}
	id := RequestID(r.UniqueKey)
	if r.ID != "" && r.ID != id {
		return Errorf(ErrRequestIDInvalid, "Request ID %s does not correspond to uniqueKey %q.", r.ID, r.UniqueKey)
	}
	r.ID = id
	r.Method = strings.ToUpper(r.Method)
	if r.Method == "" {
		r.Method = "GET"
	}
	if r.RetryCount < 0 {
		return Errorf(ErrInvalidInput, "Field retryCount must not be negative.")
	}
	if r.HandledAt != nil {
		t := r.HandledAt.UTC().Truncate(time.Millisecond)
		if t.Year() < 0 || t.Year() > 9999 {
			// JSON (RFC 3339) cannot show it: 0000-01-01T00:30:00+01:00 is
			// in year -1 once in UTC.
			return Errorf(ErrInvalidInput, "Field handledAt must be a time from year 0 to 9999 in UTC.")
		}
		r.HandledAt = &t
	}
	r.LockExpiresAt = nil
	return nil
}

// RequestRef names a request of a batch delete: by id, or by uniqueKey when
// the id is empty.
type RequestRef struct {
	ID        string `json:"id,omitempty"`
	UniqueKey string `json:"uniqueKey,omitempty"`
}

// QueueCaller is who makes a request queue operation and when.
type QueueCaller struct {
	// ClientKey identifies the client. Empty means an anonymous client,
	// which counts as a new client on every call: it never owns a lock it
	// could prolong or release later.
	ClientKey string
	// Now is the time of the operation, which lock expiry is measured
	// against; zero means the store's clock.
	Now time.Time
}

// RequestResult is what adding, updating or batch-adding one request did.
type RequestResult struct {
	RequestID         string `json:"requestId"`
	UniqueKey         string `json:"uniqueKey"`
	WasAlreadyPresent bool   `json:"wasAlreadyPresent"`
	WasAlreadyHandled bool   `json:"wasAlreadyHandled"`
}

// UnprocessedRequest is a request a batch add did not store.
type UnprocessedRequest struct {
	UniqueKey string `json:"uniqueKey"`
	URL       string `json:"url"`
	Method    string `json:"method,omitempty"`
}

// BatchAddResult is the outcome of a batch add.
type BatchAddResult struct {
	ProcessedRequests   []RequestResult      `json:"processedRequests"`
	UnprocessedRequests []UnprocessedRequest `json:"unprocessedRequests"`
}

// BatchDeleteResult is the outcome of a batch delete.
type BatchDeleteResult struct {
	ProcessedRequests   []RequestRef `json:"processedRequests"`
	UnprocessedRequests []RequestRef `json:"unprocessedRequests"`
}

// RequestListOptions select and page the requests of a queue. Requests are
// listed by id.
type RequestListOptions struct {
	QueueCaller
	// Limit is the page size: 1..MaxListRequestsLimit (0: 1000).
	Limit int
	// After lists only requests whose id sorts after it (exclusive).
	After string
	// Locked and Pending filter: with either set, only requests that match
	// one of the set filters are listed. Locked: holding an unexpired lock.
	// Pending: not handled (locked or not).
	Locked, Pending bool
}

// RequestPage is one page of a request list. More is set when requests
// after the last one may follow.
type RequestPage struct {
	Items []*Request
	More  bool
}

// HeadItem is one request of a queue's head.
type HeadItem struct {
	ID            string     `json:"id"`
	UniqueKey     string     `json:"uniqueKey"`
	URL           string     `json:"url"`
	Method        string     `json:"method"`
	RetryCount    int        `json:"retryCount"`
	LockExpiresAt *time.Time `json:"lockExpiresAt,omitempty"`
}

// QueueHead is the first unhandled, unlocked requests of a queue, forefront
// ones first, then in the order they were added.
type QueueHead struct {
	Limit              int
	QueueModifiedAt    time.Time
	HadMultipleClients bool
	// QueueHasLockedRequests tells whether any request of the queue holds
	// an unexpired lock, of any client (set by LockHead only).
	QueueHasLockedRequests bool
	Items                  []HeadItem
}

// LockOptions are the parameters of LockHead and ProlongRequestLock.
type LockOptions struct {
	QueueCaller
	// Lock is how long the lock lasts from Now; it must be positive.
	Lock time.Duration
	// Limit is how many requests LockHead locks: 1..MaxBatchRequests (0:
	// MaxBatchRequests).
	Limit int
	// Forefront (ProlongRequestLock) moves the request to the front of the
	// queue, where it will be when its lock ends.
	Forefront bool
}

// QueueStore keeps the requests of request queues. The queue must exist
// (record-not-found otherwise). Every method that takes a QueueCaller
// records its client: when a second distinct client (or any anonymous one
// after another client) uses the queue, the queue's hadMultipleClients
// becomes true for good. Methods that change the queue set its modifiedAt
// (queueModifiedAt) to the caller's Now. The queue's totalRequestCount,
// handledRequestCount and pendingRequestCount follow every change.
//
// Queue order: a request added with forefront goes before every request
// already in the queue (the requests of one forefront batch keep their
// order among themselves); otherwise it goes after them.
type QueueStore interface {
	// AddRequest adds a request (Prepare is applied to it). When the queue
	// already has a request with its uniqueKey, nothing is written and the
	// result says wasAlreadyPresent (and wasAlreadyHandled when that one
	// was handled). A request added with HandledAt set is handled at once.
	// invalid-input, request-id-invalid, record-not-found.
	AddRequest(ctx context.Context, queueID string, r *Request, forefront bool, c QueueCaller) (*RequestResult, error)
	// BatchAddRequests adds up to MaxBatchRequests requests in one
	// transaction, each like AddRequest; a request that fails validation
	// is listed as unprocessed and the others are stored. invalid-value
	// for more than MaxBatchRequests requests.
	BatchAddRequests(ctx context.Context, queueID string, rs []*Request, forefront bool, c QueueCaller) (*BatchAddResult, error)
	// GetRequest returns a request by id. LockExpiresAt is set when a lock
	// was taken and not released (it may have expired). record-not-found.
	GetRequest(ctx context.Context, queueID, requestID string) (*Request, error)
	// UpdateRequest replaces the request with r.ID (or, when r.ID is empty,
	// the id derived from r.UniqueKey), creating it when it does not exist.
	// The id must correspond to the uniqueKey (request-id-invalid). An
	// unhandled request moves to the front (forefront) or the back of the
	// queue and keeps its lock; setting HandledAt makes it handled and
	// releases its lock; clearing it puts it back in the queue.
	UpdateRequest(ctx context.Context, queueID string, r *Request, forefront bool, c QueueCaller) (*RequestResult, error)
	// DeleteRequest deletes a request. record-not-found.
	DeleteRequest(ctx context.Context, queueID, requestID string, c QueueCaller) error
	// BatchDeleteRequests deletes up to MaxBatchRequests requests, named
	// by id or uniqueKey, in one transaction. Requests that do not exist
	// count as processed. invalid-value for too many refs; a ref with
	// neither id nor uniqueKey is unprocessed.
	BatchDeleteRequests(ctx context.Context, queueID string, refs []RequestRef, c QueueCaller) (*BatchDeleteResult, error)
	// ListRequests lists requests by id, a page at a time.
	ListRequests(ctx context.Context, queueID string, o RequestListOptions) (*RequestPage, error)
	// Head returns up to limit (1..MaxHeadLimit; 0: 100) unhandled requests
	// that hold no unexpired lock, in queue order, without locking them.
	Head(ctx context.Context, queueID string, limit int, c QueueCaller) (*QueueHead, error)
	// LockHead is Head that locks what it returns for o.Lock, on behalf of
	// o.ClientKey, atomically: two callers never receive the same request
	// while its lock lasts. Items carry their LockExpiresAt. invalid-value
	// for a lock that is not positive.
	LockHead(ctx context.Context, queueID string, o LockOptions) (*QueueHead, error)
	// ProlongRequestLock sets the lock of a request to expire o.Lock after
	// o.Now and returns the new expiry. It works on a request this client
	// has locked, or that holds no unexpired lock (it is then locked for
	// this client). conflict when another client holds an unexpired lock
	// or the request was handled; record-not-found.
	ProlongRequestLock(ctx context.Context, queueID, requestID string, o LockOptions) (time.Time, error)
	// DeleteRequestLock releases the client's unexpired lock of a request;
	// with forefront the request moves to the front of the queue. A request
	// that holds no unexpired lock is left as it is. conflict when another
	// client holds the lock; record-not-found.
	DeleteRequestLock(ctx context.Context, queueID, requestID string, forefront bool, c QueueCaller) error
	// UnlockRequests releases every unexpired lock the client holds in the
	// queue and returns how many there were.
	UnlockRequests(ctx context.Context, queueID string, c QueueCaller) (int, error)
}
