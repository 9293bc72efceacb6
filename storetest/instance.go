package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

// testInstanceHeartbeat covers the heartbeats replicas use to see each
// other.
func testInstanceHeartbeat(t *testing.T, st troupe.Store) {
	ctx := context.Background()
	got, err := st.Instances(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("instances of a new store: %v %v", got, err)
	}
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, hb := range []struct {
		name string
		at   time.Time
	}{{"a", t1}, {"b", t1}, {"a", t1.Add(time.Second)}} {
		if err := st.Heartbeat(ctx, hb.name, hb.at); err != nil {
			t.Fatal(err)
		}
	}
	got, err = st.Instances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["a"].Equal(t1.Add(time.Second)) || !got["b"].Equal(t1) {
		t.Errorf("instances = %v, want a at +1s and b at t1", got)
	}
}
