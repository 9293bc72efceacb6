package sqlstore

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

func sampleActor() *troupe.Actor {
	now := time.Now().UTC().Truncate(time.Millisecond)
	maxItems, level := 5, "FULL_PERMISSIONS"
	return &troupe.Actor{
		ID: "a1", Name: "n", Username: "u", CreatedAt: now, ModifiedAt: now,
		Stats: troupe.ActorStats{LastRunStartedAt: &now},
		Versions: []troupe.Version{{VersionNumber: "0.1", SourceType: troupe.SourceFiles,
			EnvVars:     []troupe.EnvVar{{Name: "A", Value: "1"}},
			SourceFiles: []troupe.SourceFile{{Name: "main.js", Content: strings.Repeat("x", 1<<16)}}}},
		DefaultRunOptions: troupe.DefaultRunOptions{Build: "latest", MaxItems: &maxItems, ForcePermissionLevel: &level},
		TaggedBuilds:      map[string]*troupe.TaggedBuild{"latest": {BuildID: "b1", FinishedAt: &now}},
		ExampleRunInput:   &troupe.ExampleRunInput{Body: "{}", ContentType: "application/json"},
	}
}

// TestActorCache: the same version of an actor decodes to equal actors that
// share nothing a caller could change; another version of the same id
// decodes afresh.
func TestActorCache(t *testing.T) {
	t.Parallel()
	var c actorCache
	data, err := json.Marshal(sampleActor())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.get("a1", 1); got != nil {
		t.Fatalf("empty cache returned %+v", got)
	}
	first, err := c.decode("a1", 1, data)
	if err != nil {
		t.Fatal(err)
	}
	second := c.get("a1", 1)
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("cached decode differs:\n%+v\n%+v", first, second)
	}
	// Change everything reachable in one copy: the other and the cache keep theirs.
	second.Versions[0].EnvVars[0].Value = "changed"
	second.Versions[0].SourceFiles[0].Content = "changed"
	*second.DefaultRunOptions.MaxItems = 9
	second.TaggedBuilds["latest"].BuildID = "changed"
	*second.TaggedBuilds["latest"].FinishedAt = time.Time{}
	second.ExampleRunInput.Body = "changed"
	*second.Stats.LastRunStartedAt = time.Time{}
	third, err := c.decode("a1", 1, data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, third) {
		t.Errorf("a change to a returned actor reached the cache:\n%+v", third)
	}

	if got := c.get("a1", 2); got != nil {
		t.Errorf("another version of the actor came from the cache: %+v", got)
	}
	a := sampleActor()
	a.Name = "renamed"
	data2, _ := json.Marshal(a)
	got, err := c.decode("a1", 2, data2)
	if err != nil || got.Name != "renamed" {
		t.Errorf("another version of the same id: %v, %v", got.Name, err)
	}
	if got := c.get("a1", 1); got != nil {
		t.Errorf("the replaced version is still kept: %+v", got)
	}
	if got := c.get("a1", 2); got == nil || got.Name != "renamed" {
		t.Errorf("the new version is not kept: %+v", got)
	}
}

// TestCloneActorCoversEveryField fails when troupe.Actor (or a type in it)
// gains a field of a reference type that cloneActor does not know: add its
// copy to cloneActor, then its path here.
func TestCloneActorCoversEveryField(t *testing.T) {
	t.Parallel()
	known := map[string]bool{
		"Stats.LastRunStartedAt": true, "Versions": true, "Versions.EnvVars": true,
		"Versions.SourceFiles": true, "DefaultRunOptions.MaxItems": true,
		"DefaultRunOptions.ForcePermissionLevel": true, "TaggedBuilds": true,
		"TaggedBuilds.FinishedAt": true, "ExampleRunInput": true,
	}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			path := strings.TrimPrefix(prefix+"."+f.Name, ".")
			ft := f.Type
			switch ft.Kind() {
			case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func:
				if !known[path] {
					t.Errorf("cloneActor does not copy %s (%s)", path, ft)
				}
				for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map {
					ft = ft.Elem()
				}
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
				walk(path, ft)
			}
		}
	}
	walk("", reflect.TypeFor[troupe.Actor]())
}
