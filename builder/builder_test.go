package builder_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/builder"
	"github.com/troupehq/troupe/internal/artifact"
	"github.com/troupehq/troupe/sqlite"
)

// setup returns a real SQLite store and a builder working in a temporary
// data folder. wrap, when given, wraps the store the builder uses.
func setup(t *testing.T, wrap func(troupe.Store) troupe.Store) (troupe.Store, *builder.Builder) {
	t.Helper()
	dataDir := t.TempDir()
	db, err := sqlite.Open(filepath.Join(dataDir, "troupe.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var st troupe.Store = db
	if wrap != nil {
		st = wrap(db)
	}
	b := builder.New(builder.Config{Store: st, DataDir: dataDir, BaseEnv: []string{"PATH=" + os.Getenv("PATH")}})
	t.Cleanup(b.Stop)
	return db, b
}

// buildActor creates an actor named name whose version 0.1 has these
// files, builds it at once and returns the stored build and its log.
func buildActor(t *testing.T, st troupe.Store, b *builder.Builder, name string, files []troupe.SourceFile) (*troupe.Build, string) {
	t.Helper()
	return buildOf(t, st, b, newActor(name, files))
}

// newActor returns an actor named name whose version 0.1 has these files.
func newActor(name string, files []troupe.SourceFile) *troupe.Actor {
	now := troupe.Now()
	return &troupe.Actor{
		ID: troupe.NewID(), UserID: "u", Username: "local", Name: name, CreatedAt: now, ModifiedAt: now,
		Versions: []troupe.Version{{VersionNumber: "0.1", SourceType: troupe.SourceFiles,
			SourceFiles: files, EnvVars: []troupe.EnvVar{}}},
		DefaultRunOptions: troupe.DefaultRunOptions{Build: "latest", TimeoutSecs: 60, MemoryMbytes: 256},
		TaggedBuilds:      map[string]*troupe.TaggedBuild{},
	}
}

// buildOf stores actor a and builds its version 0.1, returning the build
// and its log.
func buildOf(t *testing.T, st troupe.Store, b *builder.Builder, a *troupe.Actor) (*troupe.Build, string) {
	t.Helper()
	ctx := t.Context()
	now := troupe.Now()
	if err := st.CreateActor(ctx, a); err != nil {
		t.Fatal(err)
	}
	bd := &troupe.Build{ID: troupe.NewID(), ActID: a.ID, UserID: "u", StartedAt: now,
		Status: troupe.StatusReady, Meta: troupe.RunMeta{Origin: troupe.OriginDevelopment},
		ActorVersion: "0.1", Options: troupe.BuildOptions{MemoryMbytes: 1024, DiskMbytes: 2048}}
	if err := st.CreateBuild(ctx, bd); err != nil {
		t.Fatal(err)
	}
	if err := b.Build(ctx, bd.ID); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetBuild(ctx, bd.ID)
	if err != nil {
		t.Fatal(err)
	}
	log, _, err := st.ReadLog(ctx, bd.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	return got, string(log)
}

// tagChecker is the real store, checking at the moment a build is stored
// as SUCCEEDED that its actor's tag already points at it.
type tagChecker struct {
	troupe.Store
	t       *testing.T
	checked bool
}

func (c *tagChecker) UpdateBuild(ctx context.Context, id string, fn func(b *troupe.Build) error) (*troupe.Build, error) {
	b, err := c.Store.UpdateBuild(ctx, id, fn)
	if err != nil || b.Status != troupe.StatusSucceeded {
		return b, err
	}
	c.checked = true
	a, err := c.Store.GetActor(ctx, b.ActID)
	if err != nil {
		c.t.Error(err)
		return b, nil
	}
	if tb := a.TaggedBuilds["latest"]; tb == nil || tb.BuildID != b.ID || tb.BuildNumber != b.BuildNumber {
		c.t.Errorf("build %s is SUCCEEDED while tag latest is %+v", b.ID, tb)
	}
	return b, nil
}

// TestSucceededBuildIsTagged checks that whoever sees a build succeed
// (troupe push waits for that) finds it under its tag.
func TestSucceededBuildIsTagged(t *testing.T) {
	t.Parallel()
	checker := &tagChecker{t: t}
	st, b := setup(t, func(s troupe.Store) troupe.Store { checker.Store = s; return checker })
	got, log := buildActor(t, st, b, "tagged", []troupe.SourceFile{
		{Name: "Dockerfile", Format: "TEXT", Content: "FROM node:20\nCMD [\"node\", \"main.js\"]\n"},
		{Name: "main.js", Format: "TEXT", Content: "console.log('hi');\n"},
	})
	if got.Status != troupe.StatusSucceeded || got.FinishedAt == nil {
		t.Fatalf("build is %s (finishedAt %v):\n%s", got.Status, got.FinishedAt, log)
	}
	if !checker.checked {
		t.Fatal("the builder never stored the build as SUCCEEDED")
	}
}

// TestBuildKeptAsArtifact: a succeeded build's folder is kept in the store
// as an archive under the digest recorded on the build, which unpacks to
// the build's files.
func TestBuildKeptAsArtifact(t *testing.T) {
	t.Parallel()
	st, b := setup(t, nil)
	got, log := buildActor(t, st, b, "kept", []troupe.SourceFile{
		{Name: "Dockerfile", Format: "TEXT", Content: "FROM node:20\nCMD [\"node\", \"main.js\"]\n"},
		{Name: "main.js", Format: "TEXT", Content: "console.log('kept');\n"},
	})
	if got.Status != troupe.StatusSucceeded || got.Artifact == "" {
		t.Fatalf("build is %s with artifact %q:\n%s", got.Status, got.Artifact, log)
	}
	if got.Image != "node:20" {
		t.Errorf("build image = %q, want the Dockerfile's FROM node:20", got.Image)
	}
	c := &artifact.Cache{Dir: t.TempDir(), Store: st}
	dir, err := c.Path(t.Context(), got.Artifact)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "main.js")); string(data) != "console.log('kept');\n" {
		t.Fatalf("main.js from the archive: %q, %v", data, err)
	}
}

// TestActorImageOverridesFrom: an actor's image, when set, is what its
// builds record instead of the Dockerfile's FROM.
func TestActorImageOverridesFrom(t *testing.T) {
	t.Parallel()
	st, b := setup(t, nil)
	a := newActor("imaged", []troupe.SourceFile{
		{Name: "Dockerfile", Format: "TEXT", Content: "FROM node:20\nCMD [\"node\", \"main.js\"]\n"},
		{Name: "main.js", Format: "TEXT", Content: "console.log('hi');\n"},
	})
	a.Image = "registry.example/team/node:20"
	got, log := buildOf(t, st, b, a)
	if got.Status != troupe.StatusSucceeded || got.Image != "registry.example/team/node:20" {
		t.Fatalf("build is %s with image %q, want the actor's:\n%s", got.Status, got.Image, log)
	}
}
