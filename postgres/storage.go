package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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

// scanStorage decodes a row of storageColumns. The counters of the kind are
// set (datasets: item counts; request queues: request counts); the others
// stay nil.
func scanStorage(row scanner) (*troupe.Storage, error) {
	var s troupe.Storage
	var kind string
	var items, cleanItems, total, handled, pending int64
	var multi bool
	err := row.Scan(&s.ID, &kind, &s.Name, &s.Title, &s.UserID, &s.Username, &s.CreatedAt, &s.ModifiedAt,
		&s.AccessedAt, &s.ActID, &s.ActRunID, &s.GeneralAccess, &items, &cleanItems, &total, &handled, &pending, &multi)
	if err != nil {
		return nil, err
	}
	s.Kind = troupe.StorageKind(kind)
	s.CreatedAt, s.ModifiedAt, s.AccessedAt = s.CreatedAt.UTC(), s.ModifiedAt.UTC(), s.AccessedAt.UTC()
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
func insertStorage(ctx context.Context, tx pgx.Tx, s *troupe.Storage, runDefault bool) error {
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
		accessed_at, act_id, act_run_id, general_access, run_refs)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	refs := 0
	if runDefault {
		refs = 1
		query += ` ON CONFLICT (id) DO UPDATE SET run_refs = storages.run_refs + 1`
	}
	_, err := tx.Exec(ctx, query, s.ID, string(s.Kind), s.Name, s.Title, s.UserID, s.Username,
		s.CreatedAt, s.ModifiedAt, s.AccessedAt, s.ActID, s.ActRunID, s.GeneralAccess, refs)
	if err != nil {
		return fmt.Errorf("insert storage: %w", err)
	}
	return nil
}

func errStorageName(kind troupe.StorageKind, name string) error {
	return troupe.Errorf(troupe.ErrStorageNameNotUnique, "%s named %q already exists.", kindName(kind), name)
}

// storageNameTaken fails with storage-name-not-unique when another storage
// of kind has name.
func storageNameTaken(ctx context.Context, tx pgx.Tx, kind troupe.StorageKind, name *string, exceptID string) error {
	if name == nil {
		return nil
	}
	taken, err := rowExists(ctx, tx, `SELECT 1 FROM storages WHERE kind = $1 AND name = $2 AND id <> $3`,
		string(kind), *name, exceptID)
	if err != nil {
		return fmt.Errorf("check storage name: %w", err)
	}
	if taken {
		return errStorageName(kind, *name)
	}
	return nil
}

func rowExists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
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
func (db *DB) CreateStorage(ctx context.Context, s *troupe.Storage) (*troupe.Storage, bool, error) {
	if err := validKind(s.Kind); err != nil {
		return nil, false, err
	}
	n := *s
	n.Name = cleanName(s.Name)
	if n.ID == "" {
		n.ID = troupe.NewID()
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = db.now()
	}
	var got *troupe.Storage
	created := false
	err := db.write(ctx, func(tx pgx.Tx) error {
		if n.Name != nil {
			s, err := scanStorage(tx.QueryRow(ctx, `SELECT `+storageColumns+
				` FROM storages WHERE kind = $1 AND name = $2`, string(n.Kind), *n.Name))
			if err == nil {
				got = s
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("find storage: %w", err)
			}
		}
		if exists, err := rowExists(ctx, tx, `SELECT 1 FROM storages WHERE id = $1`, n.ID); err != nil {
			return fmt.Errorf("check storage id: %w", err)
		} else if exists {
			return troupe.Errorf(troupe.ErrConflict, "A storage with id %s already exists.", n.ID)
		}
		if err := insertStorage(ctx, tx, &n, false); err != nil {
			return err
		}
		s, err := scanStorage(tx.QueryRow(ctx, `SELECT `+storageColumns+` FROM storages WHERE id = $1`, n.ID))
		if err != nil {
			return fmt.Errorf("read storage: %w", err)
		}
		got, created = s, true
		return nil
	})
	if err != nil && n.Name != nil && sqlState(err) == codeUniqueViolation && constraintOf(err) == "storages_kind_name" {
		// Another transaction created the name since we looked: it is
		// committed now, so get it.
		s, gerr := db.GetStorageByName(ctx, n.Kind, *n.Name)
		if gerr == nil {
			return s, false, nil
		}
	}
	if err != nil {
		if sqlState(err) == codeUniqueViolation && constraintOf(err) == "storages_pkey" {
			return nil, false, troupe.Errorf(troupe.ErrConflict, "A storage with id %s already exists.", n.ID)
		}
		return nil, false, err
	}
	return got, created, nil
}

// GetStorage implements troupe.RecordStore.
func (db *DB) GetStorage(ctx context.Context, kind troupe.StorageKind, id string) (*troupe.Storage, error) {
	s, err := scanStorage(db.pool.QueryRow(ctx,
		`SELECT `+storageColumns+` FROM storages WHERE id = $1 AND kind = $2`, id, string(kind)))
	return s, notFound(err, kindName(kind))
}

// GetStorageByName implements troupe.RecordStore.
func (db *DB) GetStorageByName(ctx context.Context, kind troupe.StorageKind, name string) (*troupe.Storage, error) {
	s, err := scanStorage(db.pool.QueryRow(ctx,
		`SELECT `+storageColumns+` FROM storages WHERE kind = $1 AND name = $2`, string(kind), name))
	return s, notFound(err, kindName(kind))
}

// ListStorages implements troupe.RecordStore, ordered by createdAt (then
// id). Without unnamed only named storages are listed.
func (db *DB) ListStorages(ctx context.Context, kind troupe.StorageKind, unnamed bool, o troupe.ListOptions) ([]*troupe.Storage, int, error) {
	offset, limit := page(o)
	cond, countCond := ` WHERE kind = $1`, ` WHERE kind = $1`
	if !unnamed {
		cond += ` AND name IS NOT NULL`
		countCond += ` AND named`
	}
	list := []*troupe.Storage{}
	var total int64
	err := db.read(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT COALESCE(SUM(n), 0) FROM storage_counts`+countCond,
			string(kind)).Scan(&total); err != nil {
			return fmt.Errorf("count storages: %w", err)
		}
		if int64(offset) >= total {
			return nil
		}
		dir := order(o.Desc)
		rows, err := tx.Query(ctx, `SELECT `+storageColumns+` FROM storages`+cond+
			` ORDER BY created_at `+dir+`, id `+dir+` LIMIT $2 OFFSET $3`, string(kind), limit, offset)
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
// are ignored. ModifiedAt becomes now. storage-name-not-unique when another
// storage of the kind has the new name.
func (db *DB) UpdateStorage(ctx context.Context, kind troupe.StorageKind, id string, fn func(s *troupe.Storage) error) (*troupe.Storage, error) {
	var out *troupe.Storage
	var name *string
	err := db.write(ctx, func(tx pgx.Tx) error {
		s, err := scanStorage(tx.QueryRow(ctx,
			`SELECT `+storageColumns+` FROM storages WHERE id = $1 AND kind = $2 FOR UPDATE`, id, string(kind)))
		if err != nil {
			return notFound(err, kindName(kind))
		}
		if err := fn(s); err != nil {
			return err
		}
		name = cleanName(s.Name)
		if err := storageNameTaken(ctx, tx, kind, name, id); err != nil {
			return err
		}
		if s.GeneralAccess == "" {
			s.GeneralAccess = DefaultGeneralAccess
		}
		now := norm(db.now())
		if _, err := tx.Exec(ctx, `UPDATE storages SET name = $1, title = $2, general_access = $3,
			modified_at = $4, accessed_at = $4 WHERE id = $5`, name, s.Title, s.GeneralAccess, now, id); err != nil {
			return fmt.Errorf("update storage: %w", err)
		}
		out, err = scanStorage(tx.QueryRow(ctx, `SELECT `+storageColumns+` FROM storages WHERE id = $1`, id))
		if err != nil {
			return fmt.Errorf("read storage: %w", err)
		}
		return nil
	})
	if err != nil && name != nil && sqlState(err) == codeUniqueViolation && constraintOf(err) == "storages_kind_name" {
		return nil, errStorageName(kind, *name)
	}
	return out, err
}

// DeleteStorage implements troupe.RecordStore; the storage's content goes
// with it.
func (db *DB) DeleteStorage(ctx context.Context, kind troupe.StorageKind, id string) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM storages WHERE id = $1 AND kind = $2`, id, string(kind))
		if err != nil {
			return notFound(fmt.Errorf("delete storage: %w", err), kindName(kind))
		}
		if tag.RowsAffected() == 0 {
			return troupe.Errorf(troupe.ErrRecordNotFound, "%s was not found", kindName(kind))
		}
		return nil
	})
}

// GetRecord implements troupe.RecordStore.
func (db *DB) GetRecord(ctx context.Context, storeID, key string) (*troupe.Record, error) {
	rec := &troupe.Record{Key: key}
	err := db.pool.QueryRow(ctx,
		`SELECT value, content_type, content_encoding FROM records WHERE store_id = $1 AND key = $2`,
		storeID, []byte(key)).Scan(&rec.Value, &rec.ContentType, &rec.ContentEncoding)
	if err != nil {
		return nil, notFound(err, "Record")
	}
	return rec, nil
}

// PutRecord implements troupe.RecordStore. invalid-record-key for a key
// troupe.ValidRecordKey rejects; the store's modifiedAt becomes now.
func (db *DB) PutRecord(ctx context.Context, storeID string, rec *troupe.Record) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		return putRecord(ctx, tx, norm(db.now()), storeID, rec)
	})
}

func putRecord(ctx context.Context, tx pgx.Tx, now time.Time, storeID string, rec *troupe.Record) error {
	if !troupe.ValidRecordKey(rec.Key) {
		return troupe.Errorf(troupe.ErrInvalidRecordKey, "The record key %q is not valid.", rec.Key)
	}
	if err := touchStore(ctx, tx, now, storeID); err != nil {
		return err
	}
	value := rec.Value
	if value == nil {
		value = []byte{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO records (store_id, key, value, content_type, content_encoding, size)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (store_id, key) DO UPDATE SET value = excluded.value,
		content_type = excluded.content_type, content_encoding = excluded.content_encoding, size = excluded.size`,
		storeID, []byte(rec.Key), value, rec.ContentType, rec.ContentEncoding, len(value))
	if err != nil {
		return fmt.Errorf("put record: %w", err)
	}
	return nil
}

// touchStore sets a key-value store's modifiedAt and accessedAt to now;
// record-not-found when there is no such store.
func touchStore(ctx context.Context, tx pgx.Tx, now time.Time, storeID string) error {
	tag, err := tx.Exec(ctx, `UPDATE storages SET modified_at = $1, accessed_at = $1 WHERE id = $2 AND kind = $3`,
		now, storeID, string(troupe.KindKeyValueStore))
	if err != nil {
		return notFound(fmt.Errorf("touch store: %w", err), "Key-value store")
	}
	if tag.RowsAffected() == 0 {
		return troupe.Errorf(troupe.ErrRecordNotFound, "Key-value store was not found")
	}
	return nil
}

// DeleteRecord implements troupe.RecordStore; the store's modifiedAt becomes
// now.
func (db *DB) DeleteRecord(ctx context.Context, storeID, key string) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		if err := touchStore(ctx, tx, norm(db.now()), storeID); err != nil {
			if troupe.IsNotFound(err) {
				return troupe.Errorf(troupe.ErrRecordNotFound, "Record was not found")
			}
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM records WHERE store_id = $1 AND key = $2`, storeID, []byte(key))
		if err != nil {
			return fmt.Errorf("delete record: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Record was not found")
		}
		return nil
	})
}
