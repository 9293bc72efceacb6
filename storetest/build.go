package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/troupehq/troupe"
)

func newBuild(actorID, version string) *troupe.Build {
	return &troupe.Build{
		ID:           troupe.NewID(),
		ActID:        actorID,
		UserID:       "user1",
		StartedAt:    base,
		Status:       troupe.StatusRunning,
		Meta:         troupe.RunMeta{Origin: troupe.OriginAPI},
		ActorVersion: version,
	}
}

func testBuildNumbers(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	want := []struct{ actor, version, number string }{
		{"a", "0.0", "0.0.1"},
		{"a", "0.0", "0.0.2"},
		{"a", "0.1", "0.1.1"},
		{"b", "0.0", "0.0.1"},
		{"a", "0.0", "0.0.3"},
		{"a", "1.10", "1.10.1"},
	}
	for _, w := range want {
		b := newBuild(w.actor, w.version)
		must(t, s.CreateBuild(ctx, b))
		if b.BuildNumber != w.number {
			t.Fatalf("build of %s %s got number %s, want %s", w.actor, w.version, b.BuildNumber, w.number)
		}
		got, err := s.GetBuildByNumber(ctx, w.actor, w.number)
		must(t, err)
		if got.ID != b.ID {
			t.Fatalf("GetBuildByNumber(%s, %s) = %s, want %s", w.actor, w.number, got.ID, b.ID)
		}
	}
	_, err := s.GetBuildByNumber(ctx, "b", "0.0.2")
	wantType(t, err, troupe.ErrRecordNotFound)
}

func testBuildConcurrentNumbers(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	const n = 20
	numbers := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newBuild("a", "0.0")
			if err := s.CreateBuild(ctx, b); err != nil {
				t.Errorf("CreateBuild: %v", err)
				return
			}
			numbers <- b.BuildNumber
		}()
	}
	wg.Wait()
	close(numbers)
	seen := map[string]bool{}
	for num := range numbers {
		if seen[num] {
			t.Fatalf("build number %s given twice", num)
		}
		seen[num] = true
	}
	for i := 1; i <= n; i++ {
		if num := fmt.Sprintf("0.0.%d", i); !seen[num] {
			t.Fatalf("build number %s missing; got %v", num, seen)
		}
	}
}

func testBuildGetUpdateList(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	b := newBuild("a", "0.0")
	b.Command = []string{"node", "main.js"}
	b.Env = []troupe.EnvVar{{Name: "KEY", Value: "v", IsSecret: true}}
	b.Dir = "/var/lib/troupe/builds/x"
	b.Image = "example.com/img:1"
	b.InputSchema = []byte(`{"title":"In","type":"object"}`)
	must(t, s.CreateBuild(ctx, b))

	got, err := s.GetBuild(ctx, b.ID)
	must(t, err)
	sameJSON(t, "GetBuild", got, b)
	sameJSON(t, "GetBuild command", got.Command, b.Command)
	sameJSON(t, "GetBuild env", got.Env, b.Env)
	if got.Dir != b.Dir || got.Image != b.Image {
		t.Fatalf("GetBuild dir, image = %q, %q; want %q, %q", got.Dir, got.Image, b.Dir, b.Image)
	}
	_, err = s.GetBuild(ctx, "missing")
	wantType(t, err, troupe.ErrRecordNotFound)

	upd, err := s.UpdateBuild(ctx, b.ID, func(b *troupe.Build) error {
		b.Status = troupe.StatusSucceeded
		b.FinishedAt = ptr(at(30))
		b.Stats.DurationMillis = 30000
		b.Command = []string{"python", "main.py"}
		return nil
	})
	must(t, err)
	got, err = s.GetBuild(ctx, b.ID)
	must(t, err)
	sameJSON(t, "GetBuild after update", got, upd)
	if got.Status != troupe.StatusSucceeded || got.BuildNumber != "0.0.1" || got.Command[0] != "python" {
		t.Fatalf("after update: status %s, number %s, command %v", got.Status, got.BuildNumber, got.Command)
	}

	_, err = s.UpdateBuild(ctx, b.ID, func(b *troupe.Build) error { b.Status = troupe.StatusFailed; return errBoom })
	if !errors.Is(err, errBoom) {
		t.Fatalf("UpdateBuild err = %v, want the mutation's error", err)
	}
	got, err = s.GetBuild(ctx, b.ID)
	must(t, err)
	if got.Status != troupe.StatusSucceeded {
		t.Fatalf("status after a failed update = %s, want SUCCEEDED", got.Status)
	}
	_, err = s.UpdateBuild(ctx, "missing", func(*troupe.Build) error { return nil })
	wantType(t, err, troupe.ErrRecordNotFound)

	b2 := newBuild("a", "0.0")
	b2.StartedAt = at(10)
	must(t, s.CreateBuild(ctx, b2))
	must(t, s.CreateBuild(ctx, newBuild("other", "0.0")))
	list, total, err := s.ListBuilds(ctx, "a", troupe.ListOptions{})
	must(t, err)
	if total != 2 || len(list) != 2 || list[0].ID != b.ID || list[1].ID != b2.ID {
		t.Fatalf("ListBuilds: total %d, %d items", total, len(list))
	}
	list, total, err = s.ListBuilds(ctx, "a", troupe.ListOptions{Desc: true, Limit: 1})
	must(t, err)
	if total != 2 || len(list) != 1 || list[0].ID != b2.ID {
		t.Fatalf("ListBuilds desc limit 1: total %d, %d items", total, len(list))
	}
}

func testBuildDelete(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	a := newActor("deletes-builds")
	must(t, s.CreateActor(ctx, a))
	running, tagged, done := newBuild(a.ID, "0.0"), newBuild(a.ID, "0.0"), newBuild(a.ID, "0.0")
	for _, b := range []*troupe.Build{running, tagged, done} {
		must(t, s.CreateBuild(ctx, b))
	}
	for _, b := range []*troupe.Build{tagged, done} {
		_, err := s.UpdateBuild(ctx, b.ID, func(b *troupe.Build) error { b.Status = troupe.StatusSucceeded; return nil })
		must(t, err)
	}
	_, err := s.UpdateActor(ctx, a.ID, func(a *troupe.Actor) error {
		a.TaggedBuilds = map[string]*troupe.TaggedBuild{"latest": {BuildID: tagged.ID, BuildNumber: tagged.BuildNumber}}
		return nil
	})
	must(t, err)
	must(t, s.AppendLog(ctx, done.ID, []byte("built\n")))

	wantType(t, s.DeleteBuild(ctx, running.ID), troupe.ErrDeletingUnfinishedBuild)
	wantType(t, s.DeleteBuild(ctx, tagged.ID), troupe.ErrDeletingDefaultBuild)
	must(t, s.DeleteBuild(ctx, done.ID))
	_, err = s.GetBuild(ctx, done.ID)
	wantType(t, err, troupe.ErrRecordNotFound)
	wantType(t, s.DeleteBuild(ctx, done.ID), troupe.ErrRecordNotFound)
	if _, total, err := s.ListBuilds(ctx, a.ID, troupe.ListOptions{}); err != nil || total != 2 {
		t.Fatalf("builds left: %d, %v; want 2", total, err)
	}
}
