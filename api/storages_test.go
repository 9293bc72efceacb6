package api_test

import (
	"testing"

	"github.com/troupehq/troupe"
)

func TestStorages(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	for _, kind := range []string{"datasets", "key-value-stores", "request-queues"} {
		t.Run(kind, func(t *testing.T) {
			base := "/v2/" + kind
			var st, again troupe.Storage
			b.call("POST", base+"?name=my-store", nil).ok(t, 201, &st)
			if st.ID == "" || st.Name == nil || *st.Name != "my-store" || st.Username != username || st.UserID != userID {
				t.Fatalf("created = %+v", st)
			}
			b.call("POST", base+"?name=my-store", nil).ok(t, 200, &again)
			if again.ID != st.ID {
				t.Errorf("get-or-create made a second store")
			}
			var unnamed troupe.Storage
			b.call("POST", base, nil).ok(t, 201, &unnamed)
			if unnamed.Name != nil || unnamed.ID == st.ID {
				t.Errorf("unnamed = %+v", unnamed)
			}
			b.call("POST", base+"?name=bad%20name", nil).fails(t, 400, "invalid-value")

			for _, ref := range []string{st.ID, "~my-store", username + "~my-store"} {
				var got troupe.Storage
				b.call("GET", base+"/"+ref, nil).ok(t, 200, &got)
				if got.ID != st.ID {
					t.Errorf("GET %s = %s", ref, got.ID)
				}
			}
			b.call("GET", base+"/nope", nil).fails(t, 404, "record-not-found")
			b.call("GET", base+"/bob~my-store", nil).fails(t, 404, "record-not-found")

			var p listPage[troupe.Storage]
			b.call("GET", base, nil).ok(t, 200, &p)
			if p.Total != 1 || p.Items[0].ID != st.ID {
				t.Errorf("named list = %+v", p)
			}
			b.call("GET", base+"?unnamed=1&desc=1", nil).ok(t, 200, &p)
			if p.Total != 2 || !p.Desc {
				t.Errorf("list with unnamed = %+v", p)
			}

			var renamed troupe.Storage
			b.callJSON("PUT", base+"/"+st.ID, map[string]any{"name": "renamed", "title": "T"}).ok(t, 200, &renamed)
			if renamed.Name == nil || *renamed.Name != "renamed" || renamed.Title == nil || *renamed.Title != "T" {
				t.Errorf("renamed = %+v", renamed)
			}
			b.callJSON("PUT", base+"/"+unnamed.ID, map[string]any{"name": "renamed"}).fails(t, 409, "name-not-unique")
			b.callJSON("PUT", base+"/"+st.ID, map[string]any{"name": "no way!"}).fails(t, 400, "invalid-value")

			b.call("DELETE", base+"/~renamed", nil).ok(t, 204, nil)
			b.call("GET", base+"/"+st.ID, nil).fails(t, 404, "record-not-found")
			b.call("DELETE", base+"/"+st.ID, nil).fails(t, 404, "record-not-found")
		})
	}
}

func TestRunStorages(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("stored", "")
	run := b.start(a.ID, "", nil, "")
	for seg, want := range map[string]string{
		"dataset":         run.DefaultDatasetID,
		"key-value-store": run.DefaultKeyValueStoreID,
		"request-queue":   run.DefaultRequestQueueID,
	} {
		var st troupe.Storage
		b.call("GET", "/v2/actor-runs/"+run.ID+"/"+seg, nil).ok(t, 200, &st)
		if st.ID != want || st.ActRunID == nil || *st.ActRunID != run.ID {
			t.Errorf("%s = %+v", seg, st)
		}
	}
	b.call("GET", "/v2/actor-runs/nope/dataset", nil).fails(t, 404, "record-not-found")
}
