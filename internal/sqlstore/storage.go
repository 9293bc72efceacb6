package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/troupehq/troupe"
)

// DefaultGeneralAccess is the generalAccess of a storage created without one.
const DefaultGeneralAccess = "FOLLOW_USER_SETTING"

const storageColumns = `id, kind, name, title, user_id, username, created_at, modified_at, accessed_at,
	act_id, act_run_id, general_access, item_count, clean_item_count, total_request_count,
	handled_request_count, pending_request_count, had_multiple_clients`

// kindName is how errors name a storage kind.
func kindName(k troupe.StorageKind) string {
	switch k {
	case troupe.KindDataset:
		return "Dataset"
	case troupe.KindKeyValueStore:
		return "Key-value store"
	case troupe.KindRequestQueue:
		return "Request queue"
	}
	return "Storage"
}

func validKind(k troupe.StorageKind) error {
	switch k {
	case troupe.KindDataset, troupe.KindKeyValueStore, troupe.KindRequestQueue:
		return nil
	}
	return troupe.Errorf(troupe.ErrInvalidValue, "Unknown storage kind %q.", k)
}

func errStorageName(kind troupe.StorageKind, name string) error {
	return troupe.Errorf(troupe.ErrStorageNameNotUnique, "%s named %q already exists.", kindName(kind), name)
}

// scanStorage decodes a row of storageColumns. The counters of the kind are
// set (datasets: item counts; request queues: request counts); the others
// stay nil.
func scanStorage(row scanner) (*troupe.Storage, error) {
	var s troupe.Storage
	var kind string
	var created, modified, accessed NullTime
	var items, cleanItems, total, handled, pending int64
	var multi bool
	err := row.Scan(&s.ID, &kind, &s.Name, &s.Title, &s.UserID, &s.Username, &created, &modified, &accessed,
		&s.ActID, &s.ActRunID, &s.GeneralAccess, &items, &cleanItems, &total, &handled, &pending, &multi)
	if err != nil {
		return nil, err
	}
	s.Kind = troupe.StorageKind(kind)
	s.CreatedAt, s.ModifiedAt, s.AccessedAt = created.T, modified.T, accessed.T
	switch s.Kind {
	case troupe.KindDataset:
		s.ItemCount, s.CleanItemCount = &items, &cleanItems
	case troupe.KindRequestQueue:
		s.TotalRequestCount, s.HandledRequestCount, s.PendingRequestCount = &total, &handled, &pending
		s.HadMultipleClients = &multi
	}
	return &s, nil
}

// insertStorage inserts s, filling in defaults. With runDefault, s is a
// run's default storage: its run count goes up, and a storage with the same
// id that already exists is shared instead of inserted.
func (st *Store) insertStorage(ctx context.Context, c conn, s *troupe.Storage, runDefault bool) error {
	if s.GeneralAccess == "" {
		s.GeneralAccess = DefaultGeneralAccess
	}
	s.CreatedAt = norm(s.CreatedAt)
	if s.ModifiedAt.IsZero() {
		s.ModifiedAt = s.CreatedAt
	}
	if s.AccessedAt.IsZero() {
		s.AccessedAt = s.CreatedAt
	}
	s.ModifiedAt, s.AccessedAt = norm(s.ModifiedAt), norm(s.AccessedAt)
	query := `INSERT INTO storages (id, kind, name, title, user_id, username, created_at, modified_at,
		accessed_at, act_id, act_run_id, general_access, run_refs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	refs := 0
	if runDefault {
		refs = 1
		query += ` ON CONFLICT (id) DO UPDATE SET run_refs = storages.run_refs + 1`
	}
	_, err := c.Exec(ctx, query, s.ID, string(s.Kind), s.Name, s.Title, s.UserID, s.Username,
		st.t(s.CreatedAt), st.t(s.ModifiedAt), st.t(s.AccessedAt), s.ActID, s.ActRunID, s.GeneralAccess, refs)
	if err != nil {
		return fmt.Errorf("insert storage: %w", err)
	}
	return nil
}

// storageNameTaken fails with storage-name-not-unique when another storage
// of kind has name.
func storageNameTaken(ctx context.Context, c conn, kind troupe.StorageKind, name *string, exceptID string) error {
	if name == nil {
		return nil
	}
	taken, err := c.exists(ctx, `SELECT 1 FROM storages WHERE kind = ? AND name = ? AND id <> ?`,
		string(kind), *name, exceptID)
	if err != nil {
		return fmt.Errorf("check storage name: %w", err)
	}
	if taken {
		return errStorageName(kind, *name)
	}
	return nil
}

// cleanName treats an empty name as no name.
func cleanName(name *string) *string {
	if name == nil || *name == "" {
		return nil
	}
	n := *name
	return &n
}

// CreateStorage implements troupe.RecordStore. An empty ID is filled in, a
// zero CreatedAt becomes now, zero ModifiedAt and AccessedAt become
// CreatedAt, an empty GeneralAccess becomes FOLLOW_USER_SETTING and an empty
// name means no name. The returned storage is a fresh copy. Concurrent
// creates of one name (from any process) agree on one storage. conflict
// when a storage with n.ID exists.
func (st *Store) CreateStorage(ctx context.Context, s *troupe.Storage) (*troupe.Storage, bool, error) {
	if err := validKind(s.Kind); err != nil {
		return nil, false, err
	}
	n := *s
	n.Name = cleanName(s.Name)
	if n.ID == "" {
		n.ID = troupe.NewID()
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = st.now()
	}
	var got *troupe.Storage
	created := false
	err := st.write(ctx, func(c conn, _ *sql.Tx) error {
		if n.Name != nil {
			s, err := scanStorage(c.QueryRow(ctx, `SELECT `+storageColumns+
				` FROM storages WHERE kind = ? AND name = ?`, string(n.Kind), *n.Name))
			if err == nil {
				got = s
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("find storage: %w", err)
			}
		}
		if exists, err := c.exists(ctx, `SELECT 1 FROM storages WHERE id = ?`, n.ID); err != nil {
			return fmt.Errorf("check storage id: %w", err)
		} else if exists {
			return troupe.Errorf(troupe.ErrConflict, "A storage with id %s already exists.", n.ID)
		}
		if err := st.insertStorage(ctx, c, &n, false); err != nil {
			return err
		}
		s, err := scanStorage(c.QueryRow(ctx, `SELECT `+storageColumns+` FROM storages WHERE id = ?`, n.ID))
		if err != nil {
			return fmt.Errorf("read storage: %w", err)
		}
		got, created = s, true
		return nil
	})
	if err != nil && n.Name != nil && st.unique(err, "storages_kind_name") {
		// Another transaction created the name since we looked: it is
		// committed now, so get it.
		s, gerr := st.GetStorageByName(ctx, n.Kind, *n.Name)
		if gerr == nil {
			return s, false, nil
		}
	}
	if err != nil {
		if st.unique(err, "storages_pkey") {
			return nil, false, troupe.Errorf(troupe.ErrConflict, "A storage with id %s already exists.", n.ID)
		}
		return nil, false, err
	}
	return got, created, nil
}

// GetStorage implements troupe.RecordStore.
func (st *Store) GetStorage(ctx context.Context, kind troupe.StorageKind, id string) (*troupe.Storage, error) {
	s, err := scanStorage(st.reader().QueryRow(ctx,
		`SELECT `+storageColumns+` FROM storages WHERE id = ? AND kind = ?`, id, string(kind)))
	return s, st.notFound(err, kindName(kind))
}

// GetStorageByName implements troupe.RecordStore.
func (st *Store) GetStorageByName(ctx context.Context, kind troupe.StorageKind, name string) (*troupe.Storage, error) {
	s, err := scanStorage(st.reader().QueryRow(ctx,
		`SELECT `+storageColumns+` FROM storages WHERE kind = ? AND name = ?`, string(kind), name))
	return s, st.notFound(err, kindName(kind))
}

// ListStorages implements troupe.RecordStore, ordered by createdAt (then
// id). Without unnamed only named storages are listed. The total comes from
// per-(kind, named) counters.
func (st *Store) ListStorages(ctx context.Context, kind troupe.StorageKind, unnamed bool, o troupe.ListOptions) ([]*troupe.Storage, int, error) {
	offset, limit := page(o)
	cond, countCond := ` WHERE kind = ?`, ` WHERE kind = ?`
	countArgs := []any{string(kind)}
	if !unnamed {
		cond += ` AND name IS NOT NULL`
		countCond += ` AND named = ?`
		countArgs = append(countArgs, true)
	}
	list := []*troupe.Storage{}
	var total int64
	err := st.read(ctx, func(c conn) error {
		if err := c.QueryRow(ctx, `SELECT COALESCE(SUM(n), 0) FROM storage_counts`+countCond,
			countArgs...).Scan(&total); err != nil {
			return fmt.Errorf("count storages: %w", err)
		}
		if int64(offset) >= total {
			return nil
		}
		dir := order(o.Desc)
		rows, err := c.Query(ctx, `SELECT `+storageColumns+` FROM storages`+cond+
			` ORDER BY created_at `+dir+`, id `+dir+` LIMIT ? OFFSET ?`, string(kind), limit, offset)
		if err != nil {
			return fmt.Errorf("list storages: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			s, err := scanStorage(rows)
			if err != nil {
				return err
			}
			list = append(list, s)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, err
	}
	return list, int(total), nil
}

// UpdateStorage implements troupe.RecordStore. fn may change the name
// (empty or nil: no name), the title and the generalAccess; other changes
// are ignored. ModifiedAt becomes now. The storage's row is locked while fn
// runs. storage-name-not-unique when another storage of the kind has the
// new name.
func (st *Store) UpdateStorage(ctx context.Context, kind troupe.StorageKind, id string, fn func(s *troupe.Storage) error) (*troupe.Storage, error) {
	var out *troupe.Storage
	var name *string
	err := st.write(ctx, func(c conn, _ *sql.Tx) error {
		s, err := scanStorage(c.QueryRow(ctx,
			`SELECT `+storageColumns+` FROM storages WHERE id = ? AND kind = ?`+st.forUpdate(""), id, string(kind)))
		if err != nil {
			return st.notFound(err, kindName(kind))
		}
		if err := fn(s); err != nil {
			return err
		}
		name = cleanName(s.Name)
		if err := storageNameTaken(ctx, c, kind, name, id); err != nil {
			return err
		}
		if s.GeneralAccess == "" {
			s.GeneralAccess = DefaultGeneralAccess
		}
		now := st.t(norm(st.now()))
		if _, err := c.Exec(ctx, `UPDATE storages SET name = ?, title = ?, general_access = ?,
			modified_at = ?, accessed_at = ? WHERE id = ?`, name, s.Title, s.GeneralAccess, now, now, id); err != nil {
			return fmt.Errorf("update storage: %w", err)
		}
		out, err = scanStorage(c.QueryRow(ctx, `SELECT `+storageColumns+` FROM storages WHERE id = ?`, id))
		if err != nil {
			return fmt.Errorf("read storage: %w", err)
		}
		return nil
	})
	if err != nil && name != nil && st.unique(err, "storages_kind_name") {
		return nil, errStorageName(kind, *name)
	}
	return out, err
}

// DeleteStorage implements troupe.RecordStore; the storage's content goes
// with it.
func (st *Store) DeleteStorage(ctx context.Context, kind troupe.StorageKind, id string) error {
	return st.write(ctx, func(c conn, _ *sql.Tx) error {
		res, err := c.Exec(ctx, `DELETE FROM storages WHERE id = ? AND kind = ?`, id, string(kind))
		if err != nil {
			return st.notFound(fmt.Errorf("delete storage: %w", err), kindName(kind))
		}
		if affected(res) == 0 {
			return troupe.Errorf(troupe.ErrRecordNotFound, "%s was not found", kindName(kind))
		}
		return nil
	})
}

// GetRecord implements troupe.RecordStore.
func (st *Store) GetRecord(ctx context.Context, storeID, key string) (*troupe.Record, error) {
	rec := &troupe.Record{Key: key}
	err := st.reader().QueryRow(ctx,
		`SELECT value, content_type, content_encoding FROM records WHERE store_id = ? AND key = ?`,
		storeID, st.bytes(key)).Scan(&rec.Value, &rec.ContentType, &rec.ContentEncoding)
	if err != nil {
		return nil, st.notFound(err, "Record")
	}
	return rec, nil
}

// PutRecord implements troupe.RecordStore. invalid-record-key for a key
// troupe.ValidRecordKey rejects; the store's modifiedAt becomes now.
func (st *Store) PutRecord(ctx context.Context, storeID string, rec *troupe.Record) error {
	return st.write(ctx, func(c conn, _ *sql.Tx) error {
		return st.putRecord(ctx, c, norm(st.now()), storeID, rec)
	})
}

func (st *Store) putRecord(ctx context.Context, c conn, now time.Time, storeID string, rec *troupe.Record) error {
	if !troupe.ValidRecordKey(rec.Key) {
		return troupe.Errorf(troupe.ErrInvalidRecordKey, "The record key %q is not valid.", rec.Key)
	}
	if err := st.touchStore(ctx, c, now, storeID); err != nil {
		return err
	}
	value := rec.Value
	if value == nil {
		value = []byte{}
	}
	_, err := c.Exec(ctx, `INSERT INTO records (store_id, key, value, content_type, content_encoding, size)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (store_id, key) DO UPDATE SET value = excluded.value,
		content_type = excluded.content_type, content_encoding = excluded.content_encoding, size = excluded.size`,
		storeID, st.bytes(rec.Key), value, rec.ContentType, rec.ContentEncoding, len(value))
	if err != nil {
		return fmt.Errorf("put record: %w", err)
	}
	return nil
}

// touchStore sets a key-value store's modifiedAt and accessedAt to now (and
// so locks its row first); record-not-found when there is no such store.
func (st *Store) touchStore(ctx context.Context, c conn, now time.Time, storeID string) error {
	res, err := c.Exec(ctx, `UPDATE storages SET modified_at = ?, accessed_at = ? WHERE id = ? AND kind = ?`,
		st.t(now), st.t(now), storeID, string(troupe.KindKeyValueStore))
	if err != nil {
		return st.notFound(fmt.Errorf("touch store: %w", err), "Key-value store")
	}
	if affected(res) == 0 {
		return troupe.Errorf(troupe.ErrRecordNotFound, "Key-value store was not found")
	}
	return nil
}

// DeleteRecord implements troupe.RecordStore; the store's modifiedAt becomes
// now.
func (st *Store) DeleteRecord(ctx context.Context, storeID, key string) error {
	return st.write(ctx, func(c conn, _ *sql.Tx) error {
		if err := st.touchStore(ctx, c, norm(st.now()), storeID); err != nil {
			if troupe.IsNotFound(err) {
				return troupe.Errorf(troupe.ErrRecordNotFound, "Record was not found")
			}
			return err
		}
		res, err := c.Exec(ctx, `DELETE FROM records WHERE store_id = ? AND key = ?`, storeID, st.bytes(key))
		if err != nil {
			return fmt.Errorf("delete record: %w", err)
		}
		if affected(res) == 0 {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Record was not found")
		}
		return nil
	})
}

// ListKeys implements troupe.RecordStore. Keys compare as bytes, which is
// UTF-8 byte order.
func (st *Store) ListKeys(ctx context.Context, storeID, exclusiveStartKey, prefix string, limit int) (*troupe.KeyPage, error) {
	if limit <= 0 || limit > troupe.MaxKeyListLimit {
		limit = troupe.MaxKeyListLimit
	}
	query := `SELECT key, size FROM records WHERE store_id = ?`
	args := []any{storeID}
	if exclusiveStartKey != "" {
		query += ` AND key > ?`
		args = append(args, st.bytes(exclusiveStartKey))
	}
	if prefix != "" {
		query += ` AND key >= ?`
		args = append(args, st.bytes(prefix))
		if end, ok := prefixEnd(prefix); ok {
			query += ` AND key < ?`
			args = append(args, st.bytes(end))
		}
	}
	query += ` ORDER BY key LIMIT ?`
	args = append(args, limit+1)

	page := &troupe.KeyPage{Keys: []troupe.KeyInfo{}}
	err := st.read(ctx, func(c conn) error {
		exists, err := c.exists(ctx, `SELECT 1 FROM storages WHERE id = ? AND kind = ?`,
			storeID, string(troupe.KindKeyValueStore))
		if err != nil {
			return st.notFound(fmt.Errorf("find store: %w", err), "Key-value store")
		}
		if !exists {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Key-value store was not found")
		}
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var k troupe.KeyInfo
			if err := rows.Scan(&k.Key, &k.Size); err != nil {
				return fmt.Errorf("list keys: %w", err)
			}
			page.Keys = append(page.Keys, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	if len(page.Keys) > limit {
		page.Keys = page.Keys[:limit]
		page.IsTruncated = true
		page.NextExclusiveStartKey = page.Keys[limit-1].Key
	}
	return page, nil
}

// prefixEnd returns the least string greater than every string that starts
// with prefix, in byte order; false when there is none (prefix is all 0xff
// bytes).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
