package client

import (
	"context"
	"net/http"

	"github.com/troupehq/troupe"
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
func (k *KeyValueStoreClient) Get(ctx context.Context) (*troupe.Storage, error) {
	s, err := get[troupe.Storage](ctx, k.r, nil)
	if s != nil {
		s.Kind = troupe.KindKeyValueStore
	}
	return s, err
}

// GetRecord returns the record stored under key with its content type, or
// nil and no error when there is no such record. The value is returned
// decoded when the server stored it compressed.
func (k *KeyValueStoreClient) GetRecord(ctx context.Context, key string) (*troupe.Record, error) {
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
	return &troupe.Record{Key: key, Value: body, ContentType: h.Get("Content-Type"), ContentEncoding: h.Get("Content-Encoding")}, nil
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
