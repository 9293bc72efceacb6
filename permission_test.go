package troupe_test

import (
	"reflect"
	"testing"

	"github.com/troupehq/troupe"
)

func TestNewRunPermissionLevel(t *testing.T) {
	t.Parallel()
	limited := &troupe.Run{ID: "parent1"}
	full := &troupe.Run{ID: "parent2", Control: troupe.RunControl{PermissionLevel: troupe.PermissionsFull}}
	for _, tc := range []struct {
		name      string
		actor     string
		defaults  *string
		forced    string
		startedBy *troupe.Run
		want      string
	}{
		{"Default", "", nil, "", nil, troupe.PermissionsLimited},
		{"ActorFull", troupe.PermissionsFull, nil, "", nil, troupe.PermissionsFull},
		{"DefaultRunOptionsWin", troupe.PermissionsLimited, ptr(troupe.PermissionsFull), "", nil, troupe.PermissionsFull},
		{"ForcedWins", troupe.PermissionsFull, ptr(troupe.PermissionsFull), troupe.PermissionsLimited, nil, troupe.PermissionsLimited},
		{"ForcedFull", "", nil, troupe.PermissionsFull, nil, troupe.PermissionsFull},
		{"LimitedStarterLimits", troupe.PermissionsFull, nil, troupe.PermissionsFull, limited, troupe.PermissionsLimited},
		{"FullStarterKeepsActorLevel", troupe.PermissionsFull, nil, "", full, troupe.PermissionsFull},
		{"FullStarterLimitedActor", "", nil, "", full, troupe.PermissionsLimited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &troupe.Actor{ID: "act1", ActorPermissionLevel: tc.actor, DefaultRunOptions: troupe.DefaultRunOptions{ForcePermissionLevel: tc.defaults}}
			run, _, err := troupe.NewRun(troupe.NewRunParams{Actor: a, Build: &troupe.Build{ID: "b1"},
				Options: troupe.StartOptions{ForcePermissionLevel: tc.forced}, StartedBy: tc.startedBy, Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if got := run.PermissionLevel(); got != tc.want {
				t.Errorf("level = %s, want %s", got, tc.want)
			}
			if tc.startedBy != nil && run.Control.StartedBy != tc.startedBy.ID {
				t.Errorf("startedBy = %q", run.Control.StartedBy)
			}
		})
	}
}

func TestInputRefs(t *testing.T) {
	t.Parallel()
	rec := func(ct, v string) *troupe.Record { return &troupe.Record{Value: []byte(v), ContentType: ct} }
	for _, tc := range []struct {
		name string
		rec  *troupe.Record
		want []string
	}{
		{"None", nil, nil},
		{"NotJSON", rec("text/plain", `"abc"`), nil},
		{"Invalid", rec("application/json", `{"a":`), nil},
		{"KeysAreNotRefs", rec("application/json", `{"ds9":1,"o":{"ds8":[]},"v":"kv7"}`), []string{"kv7"}},
		{"Nested", rec("application/json; charset=utf-8",
			`{"b":["ds1",{"q":"alice~queue"}],"a":"ds1","n":3,"s":"has space","u":"https://x.y/z"}`),
			[]string{"ds1", "alice~queue"}},
	} {
		if got := troupe.InputRefs(tc.rec); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: refs = %q, want %q", tc.name, got, tc.want)
		}
	}
	many := `[`
	for i := range 100 {
		if i > 0 {
			many += ","
		}
		many += `"id` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `"`
	}
	many += `]`
	if got := troupe.InputRefs(rec("application/json", many)); len(got) != 64 {
		t.Errorf("%d refs kept of 100, want 64", len(got))
	}
}

func TestNamesStorage(t *testing.T) {
	t.Parallel()
	name := "cache"
	st := &troupe.Storage{ID: "ST1", Name: &name}
	for ref, want := range map[string]bool{
		"ST1": true, "cache": true, "alice~cache": true, "alice/cache": true, "~cache": true,
		"bob~cache": false, "st1": false, "cache2": false,
	} {
		if got := troupe.NamesStorage(ref, st, "alice"); got != want {
			t.Errorf("NamesStorage(%q) = %v, want %v", ref, got, want)
		}
	}
	if troupe.NamesStorage("cache", &troupe.Storage{ID: "ST2"}, "alice") {
		t.Error("an unnamed storage matched a name")
	}
}
