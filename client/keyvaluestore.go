package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// KeyValueStoreClient reads and writes one key-value store. Get it with
// [Client.KeyValueStore] or [RunClient.KeyValueStore].
type KeyValueStoreClient struct{ r resource }

// KeyValueStore returns the client of the key-value store with this id (or
// "username/name").
func (c *Client) KeyValueStore(id string) *KeyValueStoreClient {
	return &KeyValueStoreClient{r: resource{c: c, path: "/key-value-stores"}.sub(safeID(id))}
}

// Get returns the store, or nil and no error when there is no such store.
func (k *KeyValueStoreClient) Get(ctx context.Context) (*Storage, error) {
	return get[Storage](ctx, k.r, nil)
}

// GetRecord returns the record stored under key with its content type, or
// nil and no error when there is no such record. The value is returned
// decoded when the server stored it compressed.
func (k *KeyValueStoreClient) GetRecord(ctx context.Context, key string) (*Record, error) {
	req, err := k.r.sub("records", key).request(ctx, http.MethodGet, nil, nil, "")
	if err != nil {
		return nil, err
	}
	body, h, err := k.r.c.doRaw(req)
	if err != nil {
		if IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return &Record{Key: key, Value: body, ContentType: h.Get("Content-Type"), ContentEncoding: h.Get("Content-Encoding")}, nil
}

// SetRecord stores value under key with its content type (default
// "application/octet-stream"), replacing any record there.
func (k *KeyValueStoreClient) SetRecord(ctx context.Context, key string, value []byte, contentType string) error {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	if value == nil {
		value = []byte{}
	}
	return k.r.sub("records", key).send(ctx, http.MethodPut, nil, value, contentType, nil)
}

// DeleteRecord deletes the record stored under key; record-not-found when
// there is none.
func (k *KeyValueStoreClient) DeleteRecord(ctx context.Context, key string) error {
	return k.r.sub("records", key).call(ctx, http.MethodDelete, nil, nil, nil)
}

// KeyListOptions select the keys [KeyValueStoreClient.ListKeys] lists; zero
// fields are not sent.
type KeyListOptions struct {
	// ExclusiveStartKey lists the keys after this one.
	ExclusiveStartKey string
	// Prefix lists only keys that start with it.
	Prefix string
	// Limit is the page size, 1 to 1000 (server default 1000). For
	// [KeyValueStoreClient.Keys] it caps the total instead (0: all).
	Limit int
}

// KeyInfo is one key of a store with the size of its value in bytes.
type KeyInfo struct {
	Key             string `json:"key"`
	Size            int    `json:"size"`
	RecordPublicURL string `json:"recordPublicUrl"`
}

// KeyList is one page of a store's keys, in UTF-8 byte order.
type KeyList struct {
	Items             []KeyInfo `json:"items"`
	Count             int       `json:"count"`
	Limit             int       `json:"limit"`
	ExclusiveStartKey *string   `json:"exclusiveStartKey"`
	// IsTruncated tells that more keys follow; list them from
	// NextExclusiveStartKey.
	IsTruncated           bool    `json:"isTruncated"`
	NextExclusiveStartKey *string `json:"nextExclusiveStartKey"`
}

// ListKeys returns one page of the store's keys.
func (k *KeyValueStoreClient) ListKeys(ctx context.Context, opts *KeyListOptions) (*KeyList, error) {
	q := url.Values{}
	if opts != nil {
		if opts.ExclusiveStartKey != "" {
			q.Set("exclusiveStartKey", opts.ExclusiveStartKey)
		}
		if opts.Prefix != "" {
			q.Set("prefix", opts.Prefix)
		}
		if opts.Limit > 0 {
			q.Set("limit", strconv.Itoa(opts.Limit))
		}
	}
	return fetch[KeyList](ctx, k.r.sub("keys"), http.MethodGet, q, nil)
}

// Keys returns an iterator over the keys opts select (opts.Limit caps the
// total; 0: all), listed a page of up to 1000 at a time. It stops at the
// first error, which it yields.
func (k *KeyValueStoreClient) Keys(ctx context.Context, opts *KeyListOptions) iter.Seq2[KeyInfo, error] {
	var o KeyListOptions
	if opts != nil {
		o = *opts
	}
	return func(yield func(KeyInfo, error) bool) {
		remaining := o.Limit
		page := o
		for {
			page.Limit = 0
			if remaining > 0 {
				page.Limit = min(remaining, MaxKeyListLimit)
			}
			l, err := k.ListKeys(ctx, &page)
			if err != nil {
				yield(KeyInfo{}, err)
				return
			}
			for _, it := range l.Items {
				if !yield(it, nil) {
					return
				}
				if remaining > 0 {
					if remaining--; remaining == 0 {
						return
					}
				}
			}
			if !l.IsTruncated || l.NextExclusiveStartKey == nil || len(l.Items) == 0 {
				return
			}
			page.ExclusiveStartKey = *l.NextExclusiveStartKey
		}
	}
}
