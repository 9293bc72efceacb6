package troupe_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/troupehq/troupe"
)

// archives is a troupe.Store that holds only archives, in memory.
type archives struct {
	troupe.Store
	m map[string][]byte
}

func (a *archives) PutArtifact(_ context.Context, r io.Reader) (string, int64, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return "", 0, err
	}
	sum := sha256.Sum256(b)
	d := hex.EncodeToString(sum[:])
	a.m[d] = b
	return d, int64(len(b)), nil
}

func (a *archives) OpenArtifact(_ context.Context, d string) (io.ReadCloser, int64, error) {
	b, ok := a.m[d]
	if !ok {
		return nil, 0, troupe.Errorf(troupe.ErrRecordNotFound, "Artifact was not found")
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// TestWithArtifacts: new archives go to the other place only; archives the
// store kept before are still read; one in neither is record-not-found.
func TestWithArtifacts(t *testing.T) {
	store := &archives{m: map[string][]byte{}}
	other := &archives{m: map[string][]byte{}}
	old, _, _ := store.PutArtifact(t.Context(), bytes.NewReader([]byte("made before")))
	s := troupe.WithArtifacts(store, other)
	d, _, err := s.PutArtifact(t.Context(), bytes.NewReader([]byte("new")))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.m[d]; ok || string(other.m[d]) != "new" {
		t.Fatalf("new archive: in the store %v, elsewhere %q", ok, other.m[d])
	}
	for digest, want := range map[string]string{d: "new", old: "made before"} {
		rc, _, err := s.OpenArtifact(t.Context(), digest)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		if string(got) != want {
			t.Errorf("read %q, want %q", got, want)
		}
	}
	if _, _, err := s.OpenArtifact(t.Context(), "0123"); troupe.ErrorType(err) != troupe.ErrRecordNotFound {
		t.Errorf("missing archive: %v", err)
	}
}
