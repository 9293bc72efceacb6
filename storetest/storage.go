package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/troupehq/troupe"
)

var kinds = []troupe.StorageKind{troupe.KindDataset, troupe.KindKeyValueStore, troupe.KindRequestQueue}

func testStorageGetOrCreate(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	for _, kind := range kinds {
		unnamed, created, err := s.CreateStorage(ctx, &troupe.Storage{Kind: kind, UserID: "user1"})
		must(t, err)
		if !created || unnamed.ID == "" || unnamed.Name != nil || unnamed.Kind != kind {
			t.Fatalf("%s: unnamed create: created %v, id %q, name %v, kind %s", kind, created, unnamed.ID, unnamed.Name, unnamed.Kind)
		}
		if unnamed.GeneralAccess != "FOLLOW_USER_SETTING" || unnamed.CreatedAt.IsZero() ||
			!unnamed.ModifiedAt.Equal(unnamed.CreatedAt) || !unnamed.AccessedAt.Equal(unnamed.CreatedAt) {
			t.Fatalf("%s: defaults: generalAccess %q, created %v, modified %v, accessed %v", kind,
				unnamed.GeneralAccess, unnamed.CreatedAt, unnamed.ModifiedAt, unnamed.AccessedAt)
		}
		got, err := s.GetStorage(ctx, kind, unnamed.ID)
		must(t, err)
		sameJSON(t, string(kind)+" GetStorage", got, unnamed)

		first, created, err := s.CreateStorage(ctx, &troupe.Storage{Kind: kind, Name: ptr("shared"), Title: ptr("Shared")})
		must(t, err)
		if !created || first.Name == nil || *first.Name != "shared" || first.Title == nil || *first.Title != "Shared" {
			t.Fatalf("%s: named create: created %v, name %v, title %v", kind, created, first.Name, first.Title)
		}
		again, created, err := s.CreateStorage(ctx, &troupe.Storage{Kind: kind, Name: ptr("shared")})
		must(t, err)
		if created || again.ID != first.ID {
			t.Fatalf("%s: second create of a name: created %v, id %s; want false, %s", kind, created, again.ID, first.ID)
		}
		byName, err := s.GetStorageByName(ctx, kind, "shared")
		must(t, err)
		if byName.ID != first.ID {
			t.Fatalf("%s: GetStorageByName = %s, want %s", kind, byName.ID, first.ID)
		}
	}
	// Names are per kind: each kind got its own "shared".
	ds, err := s.GetStorageByName(ctx, troupe.KindDataset, "shared")
	must(t, err)
	kvs, err := s.GetStorageByName(ctx, troupe.KindKeyValueStore, "shared")
	must(t, err)
	if ds.ID == kvs.ID {
		t.Fatal("a dataset and a key-value store share an id")
	}
	// A storage is only found under its own kind.
	_, err = s.GetStorage(ctx, troupe.KindKeyValueStore, ds.ID)
	wantType(t, err, troupe.ErrRecordNotFound)
	_, err = s.GetStorageByName(ctx, troupe.KindDataset, "nope")
	wantType(t, err, troupe.ErrRecordNotFound)
}

func testStorageCounters(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	ds, _, err := s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindDataset})
	must(t, err)
	if ds.ItemCount == nil || *ds.ItemCount != 0 || ds.CleanItemCount == nil || *ds.CleanItemCount != 0 {
		t.Fatalf("new dataset counters: %v, %v; want 0, 0", ds.ItemCount, ds.CleanItemCount)
	}
	if ds.TotalRequestCount != nil {
		t.Fatal("a dataset has request counters")
	}
	rq, _, err := s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindRequestQueue})
	must(t, err)
	rq, err = s.GetStorage(ctx, troupe.KindRequestQueue, rq.ID)
	must(t, err)
	if rq.TotalRequestCount == nil || *rq.TotalRequestCount != 0 || rq.HandledRequestCount == nil ||
		rq.PendingRequestCount == nil || rq.HadMultipleClients == nil || *rq.HadMultipleClients {
		t.Fatalf("new request queue counters: %s", mustJSON(t, rq))
	}
	if rq.ItemCount != nil {
		t.Fatal("a request queue has item counters")
	}
	kvs, _, err := s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindKeyValueStore})
	must(t, err)
	if kvs.ItemCount != nil || kvs.TotalRequestCount != nil {
		t.Fatalf("a key-value store has counters: %s", mustJSON(t, kvs))
	}
}

func testStorageList(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	var named, all []string
	for i := range 6 {
		st := &troupe.Storage{Kind: troupe.KindDataset, CreatedAt: at(i)}
		if i%2 == 0 {
			st.Name = ptr(fmt.Sprintf("ds-%d", i))
		}
		got, _, err := s.CreateStorage(ctx, st)
		must(t, err)
		all = append(all, got.ID)
		if st.Name != nil {
			named = append(named, got.ID)
		}
	}
	_, _, err := s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindKeyValueStore, Name: ptr("kvs")})
	must(t, err)

	ids := func(list []*troupe.Storage) string {
		var out []string
		for _, st := range list {
			out = append(out, st.ID)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		unnamed bool
		o       troupe.ListOptions
		want    []string
		total   int
	}{
		{false, troupe.ListOptions{}, named, 3},
		{true, troupe.ListOptions{}, all, 6},
		{true, troupe.ListOptions{Offset: 1, Limit: 2}, all[1:3], 6},
		{true, troupe.ListOptions{Desc: true, Limit: 2}, []string{all[5], all[4]}, 6},
		{false, troupe.ListOptions{Desc: true, Offset: 1}, []string{named[1], named[0]}, 3},
		{false, troupe.ListOptions{Offset: 5}, nil, 3},
	} {
		list, total, err := s.ListStorages(ctx, troupe.KindDataset, c.unnamed, c.o)
		must(t, err)
		if total != c.total || ids(list) != strings.Join(c.want, ",") {
			t.Fatalf("ListStorages(unnamed %v, %+v): total %d, ids %s; want %d, %s",
				c.unnamed, c.o, total, ids(list), c.total, strings.Join(c.want, ","))
		}
	}

	// Naming an unnamed storage moves it into the named list.
	_, err = s.UpdateStorage(ctx, troupe.KindDataset, all[1], func(st *troupe.Storage) error {
		st.Name = ptr("now-named")
		return nil
	})
	must(t, err)
	_, total, err := s.ListStorages(ctx, troupe.KindDataset, false, troupe.ListOptions{})
	must(t, err)
	if total != 4 {
		t.Fatalf("named datasets after naming one = %d, want 4", total)
	}
}

func testStorageUpdate(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	st, _, err := s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindKeyValueStore, Name: ptr("old"), CreatedAt: base})
	must(t, err)
	_, _, err = s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindKeyValueStore, Name: ptr("taken")})
	must(t, err)
	_, _, err = s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindDataset, Name: ptr("ds-name")})
	must(t, err)

	upd, err := s.UpdateStorage(ctx, troupe.KindKeyValueStore, st.ID, func(s *troupe.Storage) error {
		s.Name = ptr("new")
		s.Title = ptr("New title")
		s.GeneralAccess = "RESTRICTED"
		return nil
	})
	must(t, err)
	if *upd.Name != "new" || *upd.Title != "New title" || upd.GeneralAccess != "RESTRICTED" || !upd.ModifiedAt.After(base) {
		t.Fatalf("UpdateStorage returned %s", mustJSON(t, upd))
	}
	got, err := s.GetStorageByName(ctx, troupe.KindKeyValueStore, "new")
	must(t, err)
	sameJSON(t, "storage after update", got, upd)
	_, err = s.GetStorageByName(ctx, troupe.KindKeyValueStore, "old")
	wantType(t, err, troupe.ErrRecordNotFound)

	_, err = s.UpdateStorage(ctx, troupe.KindKeyValueStore, st.ID, func(s *troupe.Storage) error {
		s.Name = ptr("taken")
		return nil
	})
	wantType(t, err, troupe.ErrStorageNameNotUnique)
	// A name used by another kind is free.
	_, err = s.UpdateStorage(ctx, troupe.KindKeyValueStore, st.ID, func(s *troupe.Storage) error {
		s.Name = ptr("ds-name")
		return nil
	})
	must(t, err)
	// Removing the name.
	upd, err = s.UpdateStorage(ctx, troupe.KindKeyValueStore, st.ID, func(s *troupe.Storage) error {
		s.Name = nil
		return nil
	})
	must(t, err)
	if upd.Name != nil {
		t.Fatalf("name after removing it = %q", *upd.Name)
	}
	_, err = s.UpdateStorage(ctx, troupe.KindDataset, st.ID, func(*troupe.Storage) error { return nil })
	wantType(t, err, troupe.ErrRecordNotFound)
	_, err = s.UpdateStorage(ctx, troupe.KindKeyValueStore, st.ID, func(s *troupe.Storage) error {
		s.Title = ptr("never")
		return errBoom
	})
	if err == nil {
		t.Fatal("UpdateStorage with a failing mutation succeeded")
	}
	got, err = s.GetStorage(ctx, troupe.KindKeyValueStore, st.ID)
	must(t, err)
	if *got.Title != "New title" {
		t.Fatalf("title after a failed update = %q", *got.Title)
	}
}

func testStorageDelete(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	st, _, err := s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindKeyValueStore, Name: ptr("gone")})
	must(t, err)
	must(t, s.PutRecord(ctx, st.ID, &troupe.Record{Key: "a", Value: []byte("1")}))
	wantType(t, s.DeleteStorage(ctx, troupe.KindDataset, st.ID), troupe.ErrRecordNotFound)
	must(t, s.DeleteStorage(ctx, troupe.KindKeyValueStore, st.ID))
	_, err = s.GetStorage(ctx, troupe.KindKeyValueStore, st.ID)
	wantType(t, err, troupe.ErrRecordNotFound)
	_, err = s.GetRecord(ctx, st.ID, "a")
	wantType(t, err, troupe.ErrRecordNotFound)
	wantType(t, s.DeleteStorage(ctx, troupe.KindKeyValueStore, st.ID), troupe.ErrRecordNotFound)

	// The name is free again.
	again, created, err := s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindKeyValueStore, Name: ptr("gone")})
	must(t, err)
	if !created || again.ID == st.ID {
		t.Fatalf("create after delete: created %v, id %s", created, again.ID)
	}
	if _, total, _ := s.ListStorages(ctx, troupe.KindKeyValueStore, true, troupe.ListOptions{}); total != 1 {
		t.Fatalf("key-value stores after delete and create = %d, want 1", total)
	}
}

func testRecordPutGetDelete(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	st, _, err := s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindKeyValueStore, CreatedAt: base})
	must(t, err)
	binary := []byte{0, 1, 2, 0xff, 0xfe, '\n'}
	recs := []*troupe.Record{
		{Key: "OUTPUT", Value: []byte(`{"ok":true}`), ContentType: "application/json; charset=utf-8"},
		{Key: "screenshot.png", Value: binary, ContentType: "image/png"},
		{Key: "page.html", Value: []byte{0x1f, 0x8b, 8}, ContentType: "text/html", ContentEncoding: "gzip"},
		{Key: "empty", Value: []byte{}, ContentType: "text/plain"},
		{Key: "a-b_c.d'(e)!", Value: []byte("odd key")},
	}
	for _, rec := range recs {
		must(t, s.PutRecord(ctx, st.ID, rec))
	}
	for _, want := range recs {
		got, err := s.GetRecord(ctx, st.ID, want.Key)
		must(t, err)
		if got.Key != want.Key || string(got.Value) != string(want.Value) ||
			got.ContentType != want.ContentType || got.ContentEncoding != want.ContentEncoding {
			t.Fatalf("GetRecord(%s) = %+v, want %+v", want.Key, got, want)
		}
	}
	after, err := s.GetStorage(ctx, troupe.KindKeyValueStore, st.ID)
	must(t, err)
	if !after.ModifiedAt.After(base) {
		t.Fatalf("store modifiedAt after writes = %v, want later than %v", after.ModifiedAt, base)
	}

	// Replace: value, type and encoding all change.
	must(t, s.PutRecord(ctx, st.ID, &troupe.Record{Key: "page.html", Value: []byte("<p>"), ContentType: "text/html"}))
	got, err := s.GetRecord(ctx, st.ID, "page.html")
	must(t, err)
	if string(got.Value) != "<p>" || got.ContentEncoding != "" {
		t.Fatalf("replaced record = %q (encoding %q)", got.Value, got.ContentEncoding)
	}

	wantType(t, s.PutRecord(ctx, st.ID, &troupe.Record{Key: "bad/key", Value: []byte("x")}), troupe.ErrInvalidRecordKey)

	must(t, s.DeleteRecord(ctx, st.ID, "OUTPUT"))
	_, err = s.GetRecord(ctx, st.ID, "OUTPUT")
	wantType(t, err, troupe.ErrRecordNotFound)
	wantType(t, s.DeleteRecord(ctx, st.ID, "OUTPUT"), troupe.ErrRecordNotFound)
	if _, err := s.GetRecord(ctx, st.ID, "screenshot.png"); err != nil {
		t.Fatalf("another record after a delete: %v", err)
	}

	// Records belong to their store.
	other, _, err := s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindKeyValueStore})
	must(t, err)
	_, err = s.GetRecord(ctx, other.ID, "screenshot.png")
	wantType(t, err, troupe.ErrRecordNotFound)
}

func testRecordNoStore(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	wantType(t, s.PutRecord(ctx, "missing", &troupe.Record{Key: "a", Value: []byte("1")}), troupe.ErrRecordNotFound)
	_, err := s.GetRecord(ctx, "missing", "a")
	wantType(t, err, troupe.ErrRecordNotFound)
	// A dataset is not a key-value store.
	ds, _, err := s.CreateStorage(ctx, &troupe.Storage{Kind: troupe.KindDataset})
	must(t, err)
	wantType(t, s.PutRecord(ctx, ds.ID, &troupe.Record{Key: "a", Value: []byte("1")}), troupe.ErrRecordNotFound)
}
