// Package artifacttest is the conformance suite of every place build
// archives live (troupe.ArtifactStore): the store (sqlite, postgres, through
// storetest) and S3-compatible object storage (package s3).
//
// An implementation's tests call Run with a function that gives an empty
// one:
//
//	artifacttest.Run(t, func(t *testing.T) troupe.ArtifactStore {
//		return newStore(t)
//	})
//
// Each test gets its own, and the tests run in parallel.
package artifacttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/troupehq/troupe"
)

// OpenFunc returns a new, empty troupe.ArtifactStore for one test and
// arranges (with t.Cleanup) for what it holds to be released.
type OpenFunc func(t *testing.T) troupe.ArtifactStore

// Run runs the whole suite against the implementations open returns.
func Run(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s troupe.ArtifactStore)
	}{
		{"RoundTrip", testArtifactRoundTrip},
		{"Dedup", testArtifactDedup},
		{"NotFound", testArtifactNotFound},
		{"FailedReadKeepsNothing", testArtifactFailedRead},
		{"CanceledKeepsNothing", testArtifactCanceled},
		{"ReadsWithItsContext", testArtifactReadContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantType fails t unless err is a troupe error of type typ.
func wantType(t *testing.T, err error, typ string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s", typ)
	}
	if got := troupe.ErrorType(err); got != typ {
		t.Fatalf("error type = %s (%v), want %s", got, err, typ)
	}
}

// artifactContent is n pseudo-random bytes from seed.
func artifactContent(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// readArtifact reads the whole artifact with digest d in small reads.
func readArtifact(t *testing.T, s troupe.ArtifactStore, d string) ([]byte, int64) {
	t.Helper()
	rc, size, err := s.OpenArtifact(t.Context(), d)
	must(t, err)
	defer rc.Close()
	var out bytes.Buffer
	_, err = io.CopyBuffer(&out, struct{ io.Reader }{rc}, make([]byte, 7919))
	must(t, err)
	return out.Bytes(), size
}

// testArtifactRoundTrip: an artifact of several chunks, the last one
// partial, and an empty one read back as written, under their sha256.
func testArtifactRoundTrip(t *testing.T, s troupe.ArtifactStore) {
	for _, n := range []int{0, 1, troupe.ArtifactChunkBytes, 2*troupe.ArtifactChunkBytes + 12345} {
		want := artifactContent(uint64(n)+1, n)
		d, size, err := s.PutArtifact(t.Context(), bytes.NewReader(want))
		must(t, err)
		if d != sha(want) || size != int64(n) {
			t.Fatalf("%d bytes: PutArtifact = %s, %d; want %s, %d", n, d, size, sha(want), n)
		}
		got, gotSize := readArtifact(t, s, d)
		if gotSize != int64(n) || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: read back %d bytes (size %d), equal=%v", n, len(got), gotSize, bytes.Equal(got, want))
		}
	}
}

// testArtifactDedup: the same content put twice, also at once, is one
// artifact that still reads whole; other content is another.
func testArtifactDedup(t *testing.T, s troupe.ArtifactStore) {
	want := artifactContent(7, troupe.ArtifactChunkBytes+100)
	var wg sync.WaitGroup
	digests := make([]string, 3)
	errs := make([]error, 3)
	for i := range digests {
		wg.Go(func() { digests[i], _, errs[i] = s.PutArtifact(t.Context(), bytes.NewReader(want)) })
	}
	wg.Wait()
	for i := range digests {
		must(t, errs[i])
		if digests[i] != sha(want) {
			t.Fatalf("put %d: digest %s, want %s", i, digests[i], sha(want))
		}
	}
	if got, _ := readArtifact(t, s, sha(want)); !bytes.Equal(got, want) {
		t.Fatalf("deduplicated artifact reads %d bytes, not the %d put", len(got), len(want))
	}
	other := append(bytes.Clone(want), 1)
	d, _, err := s.PutArtifact(t.Context(), bytes.NewReader(other))
	must(t, err)
	if got, _ := readArtifact(t, s, d); d == sha(want) || !bytes.Equal(got, other) {
		t.Fatalf("other content: digest %s, %d bytes", d, len(got))
	}
	if got, _ := readArtifact(t, s, sha(want)); !bytes.Equal(got, want) {
		t.Fatal("the first artifact changed after another was put")
	}
}

func testArtifactNotFound(t *testing.T, s troupe.ArtifactStore) {
	for _, d := range []string{sha([]byte("never put")), "", "upload:x", "not a digest \x00"} {
		_, _, err := s.OpenArtifact(t.Context(), d)
		wantType(t, err, troupe.ErrRecordNotFound)
	}
}

// failingReader returns n bytes of zeros, then fails.
type failingReader struct{ n int }

var errBroken = errors.New("broken source")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errBroken
	}
	k := min(len(p), f.n)
	clear(p[:k])
	f.n -= k
	return k, nil
}

// testArtifactFailedRead: a source that fails after a chunk keeps nothing
// under the digest of what it gave.
func testArtifactFailedRead(t *testing.T, s troupe.ArtifactStore) {
	n := troupe.ArtifactChunkBytes + 10
	_, _, err := s.PutArtifact(t.Context(), &failingReader{n: n})
	if !errors.Is(err, errBroken) {
		t.Fatalf("PutArtifact of a failing source: %v, want the source's error", err)
	}
	_, _, err = s.OpenArtifact(t.Context(), sha(make([]byte, n)))
	wantType(t, err, troupe.ErrRecordNotFound)
}

// testArtifactCanceled: a put whose context ends while it reads keeps
// nothing under the digest of what it read, and fails with the context's
// error.
func testArtifactCanceled(t *testing.T, s troupe.ArtifactStore) {
	ctx, cancel := context.WithCancel(t.Context())
	n := troupe.ArtifactChunkBytes + 10
	src := &cancelingReader{n: n, cancel: cancel}
	_, _, err := s.PutArtifact(ctx, src)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("PutArtifact with a context canceled midway: %v, want context.Canceled", err)
	}
	_, _, err = s.OpenArtifact(t.Context(), sha(make([]byte, n)))
	wantType(t, err, troupe.ErrRecordNotFound)
}

// cancelingReader gives n bytes of zeros, then cancels the put's context
// and ends: only the context can stop the put.
type cancelingReader struct {
	n      int
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	if c.n == 0 {
		c.cancel()
		return 0, io.EOF
	}
	k := min(len(p), c.n)
	clear(p[:k])
	c.n -= k
	return k, nil
}

// testArtifactReadContext: a reader whose context has ended fails rather
// than giving the rest of the artifact.
func testArtifactReadContext(t *testing.T, s troupe.ArtifactStore) {
	want := artifactContent(3, 3*troupe.ArtifactChunkBytes)
	d, _, err := s.PutArtifact(t.Context(), bytes.NewReader(want))
	must(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	rc, _, err := s.OpenArtifact(ctx, d)
	must(t, err)
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if n, err := io.Copy(io.Discard, rc); err == nil {
		t.Fatalf("read %d more bytes after the context ended, and no error", n)
	}
}
