package sqlite_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/sqlstore"
)

// releaseCounter counts the write connection's memory releases.
type releaseCounter struct {
	sqlstore.Driver
	n atomic.Int32
}

func (d *releaseCounter) ReleaseWriteMemory(ctx context.Context) {
	d.n.Add(1)
	d.Driver.(sqlstore.WriteMemory).ReleaseWriteMemory(ctx)
}

// TestBigActorReleasesWriteMemory checks that writing an actor whose row
// holds megabytes of source files lets the write connection's cache go,
// that a small one does not, and that the actor reads back whole after it.
func TestBigActorReleasesWriteMemory(t *testing.T) {
	ctx := t.Context()
	d := &releaseCounter{Driver: openDB(t).Driver()}
	st := sqlstore.New(d, troupe.Now)

	small := &troupe.Actor{Name: "small", Username: "u"}
	must(t, st.CreateActor(ctx, small))
	if n := d.n.Load(); n != 0 {
		t.Fatalf("releases after a small actor = %d, want 0", n)
	}

	content := strings.Repeat("x", 3<<20)
	big := &troupe.Actor{Name: "big", Username: "u", Versions: []troupe.Version{{
		VersionNumber: "0.0", SourceType: "SOURCE_FILES",
		SourceFiles: []troupe.SourceFile{{Name: "main.sh", Format: "TEXT", Content: content}},
	}}}
	must(t, st.CreateActor(ctx, big))
	if n := d.n.Load(); n != 1 {
		t.Fatalf("releases after a big actor = %d, want 1", n)
	}
	_, err := st.UpdateActor(ctx, big.ID, func(a *troupe.Actor) error {
		a.Description = "changed"
		return nil
	})
	must(t, err)
	if n := d.n.Load(); n != 2 {
		t.Fatalf("releases after updating the big actor = %d, want 2", n)
	}
	got, err := st.GetActor(ctx, big.ID)
	must(t, err)
	if got.Description != "changed" || len(got.Versions) != 1 || len(got.Versions[0].SourceFiles) != 1 ||
		got.Versions[0].SourceFiles[0].Content != content {
		t.Errorf("actor read back after the release is not the one written")
	}
}
