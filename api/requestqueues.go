package api

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/troupehq/troupe"
)

// Request queue content routes: requests, batches, the head and locks.
//
// Every route takes the optional clientKey (1-32 characters) that names the
// calling client; without one the call counts as a new client (see
// troupe.QueueCaller). head/lock without a clientKey locks for a key made
// up for the call and returns it.

// Limits and defaults of the request queue routes.
const (
	defaultHeadLimit     = 100
	defaultRequestsLimit = 1000
	// maxLockSecs caps lockSecs so that lock expiry never overflows.
	maxLockSecs = 1e8
)

// routeRequestQueue registers the content routes of one request queue
// mount.
func (s *Server) routeRequestQueue(m storageMount) {
	p, ref := m.prefix, m.ref
	s.handleMount(m, "POST "+p+"/requests", s.addRequest(ref))
	s.handleMount(m, "GET "+p+"/requests", s.listRequests(ref))
	s.handleMount(m, "POST "+p+"/requests/batch", s.batchAddRequests(ref))
	s.handleMount(m, "POST "+p+"/requests/unlock", s.unlockRequests(ref))
	req := p + "/requests/{requestId}"
	s.handleMount(m, "GET "+req, s.getRequest(ref))
	s.handleMount(m, "PUT "+req, s.updateRequest(ref))
	// DELETE …/requests/batch is served here too: a separate pattern would
	// conflict with the {requestId} pattern of the runs/last mounts.
	s.handleMount(m, "DELETE "+req, s.deleteRequest(ref))
	s.handleMount(m, "PUT "+req+"/lock", s.prolongRequestLock(ref))
	s.handleMount(m, "DELETE "+req+"/lock", s.deleteRequestLock(ref))
	s.handleMount(m, "GET "+p+"/head", s.queueHead(ref))
	s.handleMount(m, "POST "+p+"/head/lock", s.lockQueueHead(ref))
}

// queueCaller reads the clientKey parameter. invalid-parameter when it is
// longer than 32 characters.
func (s *Server) queueCaller(r *http.Request) (troupe.QueueCaller, error) {
	c := troupe.QueueCaller{ClientKey: queryOf(r).str("clientKey"), Now: s.now()}
	if c.ClientKey != "" && !troupe.ValidClientKey(c.ClientKey) {
		return c, invalidParam("clientKey", "a string of 1 to 32 characters")
	}
	return c, nil
}

// queueAndCaller finds the queue the request names and reads its caller.
func (s *Server) queueAndCaller(r *http.Request, ref storageRef) (*troupe.Storage, troupe.QueueCaller, error) {
	c, err := s.queueCaller(r)
	if err != nil {
		return nil, c, err
	}
	st, err := ref(r)
	return st, c, err
}

// lockSecs reads the required lockSecs parameter: a positive number of
// seconds. parameter-required, invalid-parameter.
func lockSecs(q query) (float64, time.Duration, error) {
	v := q.str("lockSecs")
	if v == "" {
		return 0, 0, troupe.Errorf(troupe.ErrParameterRequired, "Parameter 'lockSecs' is required.")
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f <= 0 {
		return 0, 0, invalidParam("lockSecs", "a positive number of seconds")
	}
	f = min(f, maxLockSecs)
	return f, time.Duration(f * float64(time.Second)), nil
}

// requestOpResult is the answer of an add or an update.
type requestOpResult struct {
	RequestID         string `json:"requestId"`
	WasAlreadyPresent bool   `json:"wasAlreadyPresent"`
	WasAlreadyHandled bool   `json:"wasAlreadyHandled"`
}

func opResult(res *troupe.RequestResult) requestOpResult {
	return requestOpResult{RequestID: res.RequestID, WasAlreadyPresent: res.WasAlreadyPresent, WasAlreadyHandled: res.WasAlreadyHandled}
}

// decodeRequest reads a request object from the body. invalid-input.
func decodeRequest(r *http.Request) (*troupe.Request, error) {
	var raw json.RawMessage
	if err := decodeJSON(r, &raw); err != nil {
		return nil, err
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, troupe.Errorf(troupe.ErrInvalidInput, "The request body must be a JSON object with a url.")
	}
	req := new(troupe.Request)
	if err := json.Unmarshal(raw, req); err != nil {
		return nil, troupe.Errorf(troupe.ErrInvalidInput, "The request body is not a valid request: %v.", err)
	}
	return req, nil
}

// visibleLock hides the lock expiry of a request whose lock has expired.
func (s *Server) visibleLock(req *troupe.Request) *troupe.Request {
	if req.LockExpiresAt != nil && !req.LockExpiresAt.After(s.now()) {
		req.LockExpiresAt = nil
	}
	return req
}

// addRequest answers POST …/requests: 201 with the request's id and
// whether it was already there.
func (s *Server) addRequest(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, c, err := s.queueAndCaller(r, ref)
		if err != nil {
			return err
		}
		forefront, err := queryOf(r).bool("forefront", false)
		if err != nil {
			return err
		}
		req, err := decodeRequest(r)
		if err != nil {
			return err
		}
		res, err := s.store.AddRequest(r.Context(), st.ID, req, forefront, c)
		if err != nil {
			return err
		}
		writeData(w, http.StatusCreated, opResult(res))
		return nil
	}
}

func errRequestNotFound(id string) error {
	return troupe.Errorf(troupe.ErrRecordNotFound, "Request %q was not found in the request queue.", id)
}

func (s *Server) getRequest(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, err := ref(r)
		if err != nil {
			return err
		}
		id := r.PathValue("requestId")
		req, err := s.store.GetRequest(r.Context(), st.ID, id)
		if troupe.IsNotFound(err) {
			return errRequestNotFound(id)
		}
		if err != nil {
			return err
		}
		writeData(w, http.StatusOK, s.visibleLock(req))
		return nil
	}
}

// updateRequest answers PUT …/requests/{requestId}: the body is the whole
// request; its id, when given, must be the one of the path.
func (s *Server) updateRequest(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, c, err := s.queueAndCaller(r, ref)
		if err != nil {
			return err
		}
		forefront, err := queryOf(r).bool("forefront", false)
		if err != nil {
			return err
		}
		req, err := decodeRequest(r)
		if err != nil {
			return err
		}
		id := r.PathValue("requestId")
		if req.ID != "" && req.ID != id {
			return troupe.Errorf(troupe.ErrRequestIDInvalid, "The request's id %s is not the id %s in the URL.", req.ID, id)
		}
		req.ID = id
		res, err := s.store.UpdateRequest(r.Context(), st.ID, req, forefront, c)
		if err != nil {
			return err
		}
		writeData(w, http.StatusOK, opResult(res))
		return nil
	}
}

// deleteRequest answers DELETE …/requests/{requestId} (204), and the batch
// delete when the id is "batch".
func (s *Server) deleteRequest(ref storageRef) handlerFunc {
	batch := s.batchDeleteRequests(ref)
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("requestId")
		if id == "batch" {
			return batch(w, r)
		}
		st, c, err := s.queueAndCaller(r, ref)
		if err != nil {
			return err
		}
		err = s.store.DeleteRequest(r.Context(), st.ID, id, c)
		if troupe.IsNotFound(err) {
			return errRequestNotFound(id)
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// decodeBatch reads a JSON array of at most MaxBatchRequests elements into
// v. invalid-input.
func decodeBatch(r *http.Request, v any) error {
	var raw json.RawMessage
	if err := decodeJSON(r, &raw); err != nil {
		return err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return troupe.Errorf(troupe.ErrInvalidInput, "The request body must be a JSON array.")
	}
	if len(items) > troupe.MaxBatchRequests {
		return troupe.Errorf(troupe.ErrInvalidInput, "A batch may hold at most %d requests; it has %d.", troupe.MaxBatchRequests, len(items))
	}
	for i, it := range items {
		if t := strings.TrimSpace(string(it)); t == "" || t[0] != '{' {
			return troupe.Errorf(troupe.ErrInvalidInput, "Element %d of the batch is not a JSON object.", i)
		}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return troupe.Errorf(troupe.ErrInvalidInput, "The batch is not valid: %v.", err)
	}
	return nil
}

// batchAddRequests answers POST …/requests/batch: 201 with the processed
// and the unprocessed requests.
func (s *Server) batchAddRequests(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, c, err := s.queueAndCaller(r, ref)
		if err != nil {
			return err
		}
		forefront, err := queryOf(r).bool("forefront", false)
		if err != nil {
			return err
		}
		var reqs []*troupe.Request
		if err := decodeBatch(r, &reqs); err != nil {
			return err
		}
		res, err := s.store.BatchAddRequests(r.Context(), st.ID, reqs, forefront, c)
		if err != nil {
			return err
		}
		writeData(w, http.StatusCreated, res)
		return nil
	}
}

// batchDeleteRequests answers DELETE …/requests/batch, whose JSON body
// names the requests by id or uniqueKey.
func (s *Server) batchDeleteRequests(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !isJSONType(r.Header.Get("Content-Type")) {
			return troupe.Errorf(troupe.ErrInvalidInput, "A batch delete needs a JSON body with Content-Type: application/json.")
		}
		st, c, err := s.queueAndCaller(r, ref)
		if err != nil {
			return err
		}
		var refs []troupe.RequestRef
		if err := decodeBatch(r, &refs); err != nil {
			return err
		}
		res, err := s.store.BatchDeleteRequests(r.Context(), st.ID, refs, c)
		if err != nil {
			return err
		}
		writeData(w, http.StatusOK, res)
		return nil
	}
}

// requestList is a page of GET …/requests.
type requestList struct {
	Items            []*troupe.Request `json:"items"`
	Limit            int               `json:"limit"`
	Cursor           string            `json:"cursor,omitempty"`
	ExclusiveStartID string            `json:"exclusiveStartId,omitempty"`
	NextCursor       string            `json:"nextCursor,omitempty"`
}

// A list cursor is the id the next page starts after, encoded so that
// clients treat it as opaque.
func encodeCursor(afterID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("after:" + afterID))
}

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	id, ok := strings.CutPrefix(string(b), "after:")
	if err != nil || !ok {
		return "", invalidParam("cursor", "a nextCursor returned by a previous page")
	}
	return id, nil
}

// listRequests answers GET …/requests: requests by id, a page at a time
// (cursor, or the deprecated exclusiveStartId), optionally only the locked
// and/or pending ones (filter=locked,pending).
func (s *Server) listRequests(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, c, err := s.queueAndCaller(r, ref)
		if err != nil {
			return err
		}
		q := queryOf(r)
		o := troupe.RequestListOptions{QueueCaller: c}
		if o.Limit, err = q.int("limit", 0, defaultRequestsLimit); err != nil {
			return err
		}
		if o.Limit == 0 {
			o.Limit = defaultRequestsLimit
		}
		o.Limit = min(o.Limit, troupe.MaxListRequestsLimit)
		out := requestList{Limit: o.Limit, Cursor: q.str("cursor"), ExclusiveStartID: q.str("exclusiveStartId")}
		switch {
		case out.Cursor != "" && out.ExclusiveStartID != "":
			return troupe.Errorf(troupe.ErrInvalidParameter, "Use either 'cursor' or 'exclusiveStartId', not both.")
		case out.Cursor != "":
			if o.After, err = decodeCursor(out.Cursor); err != nil {
				return err
			}
		default:
			o.After = out.ExclusiveStartID
		}
		if f := q.str("filter"); f != "" {
			for _, v := range strings.Split(f, ",") {
				switch strings.TrimSpace(v) {
				case "locked":
					o.Locked = true
				case "pending":
					o.Pending = true
				default:
					return invalidParam("filter", "a comma-separated list of locked and pending")
				}
			}
		}
		page, err := s.store.ListRequests(r.Context(), st.ID, o)
		if err != nil {
			return err
		}
		for _, req := range page.Items {
			s.visibleLock(req)
		}
		out.Items = page.Items
		if page.More && len(page.Items) > 0 {
			out.NextCursor = encodeCursor(page.Items[len(page.Items)-1].ID)
		}
		writeData(w, http.StatusOK, out)
		return nil
	}
}

// queueHeadView is the answer of GET …/head.
type queueHeadView struct {
	Limit              int               `json:"limit"`
	QueueModifiedAt    time.Time         `json:"queueModifiedAt"`
	HadMultipleClients bool              `json:"hadMultipleClients"`
	Items              []troupe.HeadItem `json:"items"`
}

// queueHead answers GET …/head: the first unhandled, unlocked requests.
func (s *Server) queueHead(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, c, err := s.queueAndCaller(r, ref)
		if err != nil {
			return err
		}
		limit, err := queryOf(r).int("limit", 0, defaultHeadLimit)
		if err != nil {
			return err
		}
		if limit == 0 {
			limit = defaultHeadLimit
		}
		h, err := s.store.Head(r.Context(), st.ID, min(limit, troupe.MaxHeadLimit), c)
		if err != nil {
			return err
		}
		writeData(w, http.StatusOK, queueHeadView{Limit: h.Limit, QueueModifiedAt: h.QueueModifiedAt,
			HadMultipleClients: h.HadMultipleClients, Items: h.Items})
		return nil
	}
}

// lockedHeadView is the answer of POST …/head/lock.
type lockedHeadView struct {
	Limit                  int               `json:"limit"`
	QueueModifiedAt        time.Time         `json:"queueModifiedAt"`
	HadMultipleClients     bool              `json:"hadMultipleClients"`
	QueueHasLockedRequests bool              `json:"queueHasLockedRequests"`
	ClientKey              string            `json:"clientKey"`
	LockSecs               float64           `json:"lockSecs"`
	Items                  []troupe.HeadItem `json:"items"`
}

// lockQueueHead answers POST …/head/lock (201): up to limit (at most 25)
// requests of the head, locked for lockSecs for this client.
func (s *Server) lockQueueHead(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, c, err := s.queueAndCaller(r, ref)
		if err != nil {
			return err
		}
		q := queryOf(r)
		secs, d, err := lockSecs(q)
		if err != nil {
			return err
		}
		limit, err := q.int("limit", 0, troupe.MaxBatchRequests)
		if err != nil {
			return err
		}
		if limit == 0 || limit > troupe.MaxBatchRequests {
			limit = troupe.MaxBatchRequests
		}
		if c.ClientKey == "" {
			c.ClientKey = troupe.NewID()
		}
		h, err := s.store.LockHead(r.Context(), st.ID, troupe.LockOptions{QueueCaller: c, Lock: d, Limit: limit})
		if err != nil {
			return err
		}
		writeData(w, http.StatusCreated, lockedHeadView{Limit: h.Limit, QueueModifiedAt: h.QueueModifiedAt,
			HadMultipleClients: h.HadMultipleClients, QueueHasLockedRequests: h.QueueHasLockedRequests,
			ClientKey: c.ClientKey, LockSecs: secs, Items: h.Items})
		return nil
	}
}

// prolongRequestLock answers PUT …/requests/{requestId}/lock with the new
// lockExpiresAt.
func (s *Server) prolongRequestLock(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, c, err := s.queueAndCaller(r, ref)
		if err != nil {
			return err
		}
		q := queryOf(r)
		_, d, err := lockSecs(q)
		if err != nil {
			return err
		}
		forefront, err := q.bool("forefront", false)
		if err != nil {
			return err
		}
		id := r.PathValue("requestId")
		exp, err := s.store.ProlongRequestLock(r.Context(), st.ID, id, troupe.LockOptions{QueueCaller: c, Lock: d, Forefront: forefront})
		if troupe.IsNotFound(err) {
			return errRequestNotFound(id)
		}
		if err != nil {
			return err
		}
		writeData(w, http.StatusOK, struct {
			LockExpiresAt time.Time `json:"lockExpiresAt"`
		}{exp})
		return nil
	}
}

// deleteRequestLock answers DELETE …/requests/{requestId}/lock (204).
func (s *Server) deleteRequestLock(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, c, err := s.queueAndCaller(r, ref)
		if err != nil {
			return err
		}
		forefront, err := queryOf(r).bool("forefront", false)
		if err != nil {
			return err
		}
		id := r.PathValue("requestId")
		err = s.store.DeleteRequestLock(r.Context(), st.ID, id, forefront, c)
		if troupe.IsNotFound(err) {
			return errRequestNotFound(id)
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// unlockRequests answers POST …/requests/unlock with how many locks of
// this client it released.
func (s *Server) unlockRequests(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, c, err := s.queueAndCaller(r, ref)
		if err != nil {
			return err
		}
		n, err := s.store.UnlockRequests(r.Context(), st.ID, c)
		if err != nil {
			return err
		}
		writeData(w, http.StatusOK, struct {
			UnlockedCount int `json:"unlockedCount"`
		}{n})
		return nil
	}
}
