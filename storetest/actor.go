package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/troupehq/troupe"
)

func testActorCRUD(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	a := newActor("scraper")
	a.Title = "Scraper"
	a.TaggedBuilds["latest"] = &troupe.TaggedBuild{BuildID: "b1", BuildNumber: "0.0.1", FinishedAt: ptr(at(5))}
	must(t, s.CreateActor(ctx, a))

	got, err := s.GetActor(ctx, a.ID)
	must(t, err)
	sameJSON(t, "GetActor", got, a)

	got, err = s.GetActorByName(ctx, "alice", "scraper")
	must(t, err)
	if got.ID != a.ID {
		t.Fatalf("GetActorByName id = %s, want %s", got.ID, a.ID)
	}
	_, err = s.GetActorByName(ctx, "bob", "scraper")
	wantType(t, err, troupe.ErrRecordNotFound)

	upd, err := s.UpdateActor(ctx, a.ID, func(a *troupe.Actor) error {
		a.Title = "Better scraper"
		a.Versions = append(a.Versions, troupe.Version{VersionNumber: "0.1", SourceType: troupe.SourceFolder})
		return nil
	})
	must(t, err)
	if upd.Title != "Better scraper" || len(upd.Versions) != 2 {
		t.Fatalf("UpdateActor returned title %q and %d versions", upd.Title, len(upd.Versions))
	}
	got, err = s.GetActor(ctx, a.ID)
	must(t, err)
	sameJSON(t, "GetActor after update", got, upd)

	must(t, s.DeleteActor(ctx, a.ID))
	_, err = s.GetActor(ctx, a.ID)
	wantType(t, err, troupe.ErrRecordNotFound)
	wantType(t, s.DeleteActor(ctx, a.ID), troupe.ErrRecordNotFound)
	_, err = s.UpdateActor(ctx, a.ID, func(*troupe.Actor) error { return nil })
	wantType(t, err, troupe.ErrRecordNotFound)
}

// testActorRecreatedSameID: an actor deleted and created again with the
// same id reads as the new one, also where the old one had been read.
func testActorRecreatedSameID(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	a := newActor("scraper")
	must(t, s.CreateActor(ctx, a))
	_, err := s.GetActor(ctx, a.ID)
	must(t, err)
	_, err = s.GetActorByName(ctx, "alice", "scraper")
	must(t, err)
	must(t, s.DeleteActor(ctx, a.ID))

	b := newActor("crawler")
	b.ID = a.ID
	b.Title = "Crawler"
	b.Versions[0].EnvVars[0].Value = "2"
	must(t, s.CreateActor(ctx, b))
	got, err := s.GetActor(ctx, a.ID)
	must(t, err)
	sameJSON(t, "GetActor of the actor created again", got, b)
	got, err = s.GetActorByName(ctx, "alice", "crawler")
	must(t, err)
	sameJSON(t, "GetActorByName of the actor created again", got, b)
	_, err = s.GetActorByName(ctx, "alice", "scraper")
	wantType(t, err, troupe.ErrRecordNotFound)
}

func testActorNameNotUnique(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	must(t, s.CreateActor(ctx, newActor("one")))
	wantType(t, s.CreateActor(ctx, newActor("one")), troupe.ErrNameNotUnique)

	other := newActor("one")
	other.Username = "bob"
	must(t, s.CreateActor(ctx, other)) // the same name for another user is fine

	two := newActor("two")
	must(t, s.CreateActor(ctx, two))
	_, err := s.UpdateActor(ctx, two.ID, func(a *troupe.Actor) error { a.Name = "one"; return nil })
	wantType(t, err, troupe.ErrNameNotUnique)
	got, err := s.GetActor(ctx, two.ID)
	must(t, err)
	if got.Name != "two" {
		t.Fatalf("name after a refused rename = %q, want two", got.Name)
	}
	// Several concurrent creates of one name: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.CreateActor(ctx, newActor("race"))
			mu.Lock()
			defer mu.Unlock()
			switch troupe.ErrorType(err) {
			case troupe.ErrNameNotUnique:
			default:
				if err != nil {
					t.Errorf("CreateActor: %v", err)
					return
				}
				wins++
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent creates of one name succeeded, want 1", wins)
	}
}

func testActorList(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	var ids []string
	for i := range 5 {
		a := newActor(fmt.Sprintf("actor-%d", i))
		a.CreatedAt = at(10 - i) // created in reverse order of names
		must(t, s.CreateActor(ctx, a))
		ids = append([]string{a.ID}, ids...)
	}
	list, total, err := s.ListActors(ctx, troupe.ListOptions{})
	must(t, err)
	if total != 5 || len(list) != 5 {
		t.Fatalf("ListActors: %d items, total %d; want 5, 5", len(list), total)
	}
	for i, a := range list {
		if a.ID != ids[i] {
			t.Fatalf("ListActors[%d] = %s, want %s (oldest first)", i, a.Name, ids[i])
		}
	}
	list, total, err = s.ListActors(ctx, troupe.ListOptions{Offset: 1, Limit: 2, Desc: true})
	must(t, err)
	if total != 5 || len(list) != 2 || list[0].ID != ids[3] || list[1].ID != ids[2] {
		t.Fatalf("ListActors desc offset 1 limit 2: total %d, %d items", total, len(list))
	}
	list, total, err = s.ListActors(ctx, troupe.ListOptions{Offset: 10})
	must(t, err)
	if total != 5 || len(list) != 0 {
		t.Fatalf("ListActors offset past the end: total %d, %d items; want 5, 0", total, len(list))
	}
}

func testActorUpdateError(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	a := newActor("a")
	must(t, s.CreateActor(ctx, a))
	_, err := s.UpdateActor(ctx, a.ID, func(a *troupe.Actor) error {
		a.Title = "changed"
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("UpdateActor err = %v, want the mutation's error", err)
	}
	got, err := s.GetActor(ctx, a.ID)
	must(t, err)
	if got.Title != "" {
		t.Fatalf("title after a failed update = %q, want it unchanged", got.Title)
	}
}

// testActorStats checks that an actor's stats count its runs and builds.
func testActorStats(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	a := newActor("a")
	must(t, s.CreateActor(ctx, a))
	for i := range 3 {
		createRun(t, s, newRun(a.ID, at(i)))
	}
	createRun(t, s, newRun("other", at(50)))
	must(t, s.CreateBuild(ctx, &troupe.Build{ID: troupe.NewID(), ActID: a.ID, ActorVersion: "0.0", StartedAt: base}))
	got, err := s.GetActor(ctx, a.ID)
	must(t, err)
	if got.Stats.TotalRuns != 3 || got.Stats.TotalBuilds != 1 {
		t.Fatalf("stats: %d runs, %d builds; want 3, 1", got.Stats.TotalRuns, got.Stats.TotalBuilds)
	}
	if got.Stats.LastRunStartedAt == nil || !got.Stats.LastRunStartedAt.Equal(at(2)) {
		t.Fatalf("stats.lastRunStartedAt = %v, want %v", got.Stats.LastRunStartedAt, at(2))
	}
}

func testActorDeleteRemovesBuilds(t *testing.T, s troupe.Store) {
	ctx := t.Context()
	a := newActor("a")
	must(t, s.CreateActor(ctx, a))
	b := &troupe.Build{ID: troupe.NewID(), ActID: a.ID, ActorVersion: "0.0", StartedAt: base, Status: troupe.StatusSucceeded}
	must(t, s.CreateBuild(ctx, b))
	must(t, s.AppendLog(ctx, b.ID, []byte("installing\n")))
	keep := newActor("b")
	must(t, s.CreateActor(ctx, keep))
	kb := &troupe.Build{ID: troupe.NewID(), ActID: keep.ID, ActorVersion: "0.0", StartedAt: base}
	must(t, s.CreateBuild(ctx, kb))

	must(t, s.DeleteActor(ctx, a.ID))
	_, err := s.GetBuild(ctx, b.ID)
	wantType(t, err, troupe.ErrRecordNotFound)
	if text, _, err := s.ReadLog(ctx, b.ID, 0); err != nil || len(text) != 0 {
		t.Fatalf("log of a deleted build: %q, %v; want empty", text, err)
	}
	if _, err := s.GetBuild(ctx, kb.ID); err != nil {
		t.Fatalf("build of another actor: %v", err)
	}
}
