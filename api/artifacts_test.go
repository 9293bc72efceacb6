package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/troupehq/troupe"
)

// TestBuildArtifactPermissions: a build's archive goes, whole and with its
// digest, to the admin and to a run of that build; runs of other builds,
// limited or not, get 403 insufficient-permissions, and a build without an
// archive is 404.
func TestBuildArtifactPermissions(t *testing.T) {
	t.Parallel()
	f := newLimitedFixture(t)
	b := f.b
	data := bytes.Repeat([]byte("troupe build archive "), 100_000) // two chunks
	digest, _, err := b.store.PutArtifact(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if digest != hex.EncodeToString(sum[:]) {
		t.Fatalf("digest %s", digest)
	}
	if _, err := b.store.UpdateBuild(context.Background(), f.build.ID, func(x *troupe.Build) error {
		x.Artifact = digest
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	path := "/v2/actor-builds/" + f.build.ID + "/artifact"

	check := func(t *testing.T, r response) {
		t.Helper()
		if r.status != http.StatusOK || !bytes.Equal(r.body, data) {
			t.Fatalf("status %d, %d bytes (want %d): %.200s", r.status, len(r.body), len(data), r.body)
		}
		if et := r.header.Get("ETag"); et != `"sha256:`+digest+`"` {
			t.Fatalf("ETag %q", et)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/gzip" {
			t.Fatalf("Content-Type %q", ct)
		}
	}
	t.Run("Admin", func(t *testing.T) { check(t, b.call("GET", path, nil)) })
	t.Run("RunOfTheBuild", func(t *testing.T) { check(t, f.as("GET", path, nil)) })
	t.Run("NotModified", func(t *testing.T) {
		r := b.call("GET", path, nil, "If-None-Match", `"sha256:`+digest+`"`)
		if r.status != http.StatusNotModified || len(r.body) != 0 {
			t.Fatalf("status %d, %d bytes", r.status, len(r.body))
		}
	})
	t.Run("LimitedRunOfAnotherBuild", func(t *testing.T) {
		other := b.running(b.start(f.otherActor.ID, "", nil, "").ID)
		b.asRun(troupe.RunToken(runSecret, other), "GET", path, nil).fails(t, 403, troupe.ErrInsufficientPermissions)
	})
	t.Run("FullRunOfAnotherBuild", func(t *testing.T) {
		other := b.running(b.start(f.full.ID, "", nil, "").ID)
		b.asRun(troupe.RunToken(runSecret, other), "GET", path, nil).fails(t, 403, troupe.ErrInsufficientPermissions)
	})
	t.Run("NoToken", func(t *testing.T) {
		if r := b.raw("GET", path, nil, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("status %d", r.status)
		}
	})
	t.Run("NoArchive", func(t *testing.T) {
		bd := b.buildActor(f.otherActor, "")
		b.call("GET", "/v2/actor-builds/"+bd.ID+"/artifact", nil).fails(t, 404, troupe.ErrRecordNotFound)
	})
}
