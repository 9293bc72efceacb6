package metrics

import (
	"reflect"
	"slices"
	"testing"

	"github.com/troupehq/troupe"
)

// TestStoreTimesEveryMethod: every method of troupe.Store but Watch,
// WatchLog and Close is timed by the wrapper, so a method added to the
// store needs a method of the wrapper and a name in storeOps.
func TestStoreTimesEveryMethod(t *testing.T) {
	st := reflect.TypeFor[troupe.Store]()
	for i := range st.NumMethod() {
		name := st.Method(i).Name
		if name == "Watch" || name == "WatchLog" || name == "Close" {
			continue
		}
		if !slices.Contains(storeOps, name) {
			t.Errorf("troupe.Store.%s is not timed: add a method of the same name to the wrapper (metrics/store.go) and its name to storeOps", name)
		}
	}
}
