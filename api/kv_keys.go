package api

import (
	"net/http"
	"net/url"

	"github.com/troupehq/troupe"
)

// routeKeyValueStore registers the content routes of one key-value store
// mount: its records and its key listing.
func (s *Server) routeKeyValueStore(m storageMount) {
	s.routeRecords(m)
	s.handleMount(m, "GET "+m.prefix+"/keys", s.listKeys(m.ref))
}

// keyItem is one key of a key listing.
type keyItem struct {
	Key             string `json:"key"`
	Size            int    `json:"size"`
	RecordPublicURL string `json:"recordPublicUrl"`
}

// keyList is the data of a key listing.
type keyList struct {
	Items                 []keyItem `json:"items"`
	Count                 int       `json:"count"`
	Limit                 int       `json:"limit"`
	ExclusiveStartKey     *string   `json:"exclusiveStartKey"`
	IsTruncated           bool      `json:"isTruncated"`
	NextExclusiveStartKey *string   `json:"nextExclusiveStartKey"`
}

// listKeys answers a page of the store's keys in UTF-8 byte order:
// exclusiveStartKey (start after this key), prefix (only keys that start
// with it) and limit (1..1000, default 1000; larger values mean 1000). The
// collection and signature parameters are accepted and ignored.
func (s *Server) listKeys(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := queryOf(r)
		limit, err := q.int("limit", 1, troupe.MaxKeyListLimit)
		if err != nil {
			return err
		}
		limit = min(limit, troupe.MaxKeyListLimit)
		start, prefix := q.str("exclusiveStartKey"), q.str("prefix")
		st, err := ref(r)
		if err != nil {
			return err
		}
		page, err := s.store.ListKeys(r.Context(), st.ID, start, prefix, limit)
		if troupe.IsNotFound(err) {
			return notFound("Key-value store", st.ID)
		}
		if err != nil {
			return err
		}
		out := keyList{Items: make([]keyItem, len(page.Keys)), Count: len(page.Keys), Limit: limit, IsTruncated: page.IsTruncated}
		base := absURL(r, "/v2/key-value-stores/"+st.ID+"/records/")
		for i, k := range page.Keys {
			out.Items[i] = keyItem{Key: k.Key, Size: k.Size, RecordPublicURL: base + url.PathEscape(k.Key)}
		}
		if start != "" {
			out.ExclusiveStartKey = &start
		}
		if page.IsTruncated {
			next := page.NextExclusiveStartKey
			out.NextExclusiveStartKey = &next
		}
		writeData(w, http.StatusOK, out)
		return nil
	}
}
