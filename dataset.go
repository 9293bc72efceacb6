package troupe

import (
	"context"
	"encoding/json"
	"github.com/troupehq/troupe/internal/jsonscan"
)

// DatasetStore keeps the items of datasets. A dataset is an append-only list
// of JSON objects: items are numbered from 0 in the order they were pushed
// and never change afterwards, so a window of items (offset, limit, order)
// can be read in several steps and always gives the same items.
type DatasetStore interface {
	// PushItems appends items to the end of the dataset, in their order, in
	// one transaction. Each item must be one JSON object; items are stored
	// compacted (insignificant whitespace removed, key order and value text
	// kept). The dataset's itemCount and cleanItemCount (see CleanItem) grow
	// with the batch and its modifiedAt becomes now. An empty batch changes
	// nothing. invalid-input when an item is not valid JSON or not an object
	// (nothing of the batch is written then); record-not-found when there is
	// no such dataset.
	PushItems(ctx context.Context, datasetID string, items []json.RawMessage) error

	// ReadItems calls fn with each item of the window o selects, in order,
	// and returns the page it read. fn receives the page with every item, so
	// a caller can use it (e.g. write headers) before the first item; the
	// item bytes are only valid during the call. The items are read in
	// chunks of bounded size (never the whole window at once), and fn is not
	// called inside a store transaction, so it may be slow or call the
	// store. An error from fn stops the read and is returned. A window that
	// starts after the last item reads no items. record-not-found when there
	// is no such dataset. A dataset deleted during the read ends it early.
	ReadItems(ctx context.Context, datasetID string, o ItemWindow, fn func(p ItemPage, item []byte) error) (ItemPage, error)
}

// ItemWindow selects a window of a dataset's items.
type ItemWindow struct {
	// Offset is the number of items skipped: the oldest ones, or with Desc
	// the newest ones.
	Offset int
	// Limit is the largest number of items read; 0 or less means no limit.
	Limit int
	// Desc reads from the newest item to the oldest.
	Desc bool
	// UpTo, when positive, makes the read ignore every item pushed after
	// the dataset had UpTo items, so that a second read of a window (e.g.
	// after a first pass over it) sees exactly the items of the first: pass
	// the Total of the first read's page.
	UpTo int
}

// ItemPage is what a dataset read covered.
type ItemPage struct {
	// Total is the number of items in the dataset when the read began
	// (capped by ItemWindow.UpTo).
	Total int
	// Count is the number of items in the window: min(Limit, Total-Offset),
	// at least 0.
	Count int
}

// KeyInfo is one key of a key-value store and the size in bytes of its
// value as stored.
type KeyInfo struct {
	Key  string
	Size int
}

// KeyPage is a page of the keys of a key-value store, in UTF-8 byte order.
type KeyPage struct {
	Keys []KeyInfo
	// IsTruncated tells that more keys follow the last one of the page (with
	// the same prefix); NextExclusiveStartKey is then that last key.
	IsTruncated           bool
	NextExclusiveStartKey string
}

// MaxKeyListLimit is the largest page of keys ListKeys returns.
const MaxKeyListLimit = 1000

// CleanItem reports whether a dataset item is clean: a JSON object with at
// least one top-level field whose name does not start with "#" (hidden
// fields). These are the items an API read with clean=1 (skipHidden plus
// skipEmpty) returns, and the ones a dataset's cleanItemCount counts. item
// must be valid JSON; anything but an object is not clean.
func CleanItem(item []byte) bool {
	i := jsonscan.Space(item, 0)
	if i >= len(item) || item[i] != '{' {
		return false
	}
	i++
	for {
		i = jsonscan.Space(item, i)
		if i >= len(item) || item[i] != '"' {
			return false // '}' (no more fields) or malformed
		}
		end := jsonscan.String(item, i)
		if end < 0 {
			return false
		}
		if !hiddenName(item[i:end]) {
			return true
		}
		i = jsonscan.Space(item, end)
		if i >= len(item) || item[i] != ':' {
			return false
		}
		if i = jsonscan.Value(item, jsonscan.Space(item, i+1)); i < 0 {
			return false
		}
		i = jsonscan.Space(item, i)
		if i >= len(item) || item[i] != ',' {
			return false
		}
		i++
	}
}

// HiddenField reports whether a top-level field name marks a hidden field:
// it starts with "#".
func HiddenField(name string) bool { return len(name) > 0 && name[0] == '#' }

// hiddenName reports whether a quoted JSON string (quotes included) names a
// hidden field. Escapes are decoded only when the name starts with one.
func hiddenName(quoted []byte) bool {
	if len(quoted) < 3 {
		return false
	}
	if quoted[1] != '\\' {
		return quoted[1] == '#'
	}
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return false
	}
	return HiddenField(s)
}

// SplitItems splits the body of an items push, one JSON value or a JSON
// array of values, into its items, without copying them. It checks only the
// array's structure (brackets, commas, strings); PushItems validates each
// item. invalid-input for a body that is not one value or one array.
func SplitItems(body []byte) ([]json.RawMessage, error) {
	i := jsonscan.Space(body, 0)
	if i >= len(body) {
		return nil, Errorf(ErrInvalidInput, "The request body is empty; send a JSON object or an array of objects.")
	}
	if body[i] != '[' {
		end := jsonscan.Value(body, i)
		if end < 0 || jsonscan.Space(body, end) != len(body) {
			return nil, errNotJSON()
		}
		return []json.RawMessage{body[i:end]}, nil
	}
	var items []json.RawMessage
	i = jsonscan.Space(body, i+1)
	if i < len(body) && body[i] == ']' {
		if jsonscan.Space(body, i+1) != len(body) {
			return nil, errNotJSON()
		}
		return []json.RawMessage{}, nil
	}
	for {
		end := jsonscan.Value(body, i)
		if end < 0 {
			return nil, errNotJSON()
		}
		items = append(items, body[i:end])
		i = jsonscan.Space(body, end)
		if i >= len(body) {
			return nil, errNotJSON()
		}
		switch body[i] {
		case ',':
			i = jsonscan.Space(body, i+1)
		case ']':
			if jsonscan.Space(body, i+1) != len(body) {
				return nil, errNotJSON()
			}
			return items, nil
		default:
			return nil, errNotJSON()
		}
	}
}

func errNotJSON() error {
	return Errorf(ErrInvalidInput, "The request body is not valid JSON: send a JSON object or an array of objects.")
}
