package s3_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/artifacttest"
	"github.com/troupehq/troupe/internal/artifact"
	"github.com/troupehq/troupe/s3"
)

const bucket = "builds"

// server is an S3-compatible server (gofakes3, in memory) listening on
// loopback, with a client of its own to look behind the store's back.
type server struct {
	url    string
	client *minio.Client
}

func newServer(t *testing.T) *server {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(gofakes3.New(backend, gofakes3.WithTimeSkewLimit(0)).Server())
	t.Cleanup(ts.Close)
	c, err := minio.New(strings.TrimPrefix(ts.URL, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4("key", "secret", ""), BucketLookup: minio.BucketLookupPath, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return &server{url: ts.URL, client: c}
}

// open returns an ArtifactStore on srv under prefix.
func (srv *server) open(t *testing.T, prefix string, now func() time.Time) *s3.ArtifactStore {
	t.Helper()
	st, err := s3.New(t.Context(), s3.Config{Bucket: bucket, Prefix: prefix, Endpoint: srv.url, Region: "us-east-1",
		PathStyle: true, Credentials: credentials.NewStaticV4("key", "secret", ""), PartSize: s3.MinPartSize, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// keys lists every object of the bucket.
func (srv *server) keys(t *testing.T) []string {
	t.Helper()
	var keys []string
	for obj := range srv.client.ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	return keys
}

func TestConformance(t *testing.T) {
	artifacttest.Run(t, func(t *testing.T) troupe.ArtifactStore {
		return newServer(t).open(t, "troupe/", nil)
	})
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// content is n bytes that do not repeat in any short period.
func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// TestKeys: an archive of several parts is one object named after its
// digest under the prefix, and the upload object is gone.
func TestKeys(t *testing.T) {
	srv := newServer(t)
	st := srv.open(t, "a/b", nil)
	want := content(2*s3.MinPartSize + 3)
	d, size, err := st.PutArtifact(t.Context(), bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if d != sha(want) || size != int64(len(want)) {
		t.Fatalf("PutArtifact = %s, %d", d, size)
	}
	if got, want := strings.Join(srv.keys(t), " "), "a/b/sha256/"+d; got != want {
		t.Fatalf("objects = %q, want %q", got, want)
	}
}

// TestFailedUploadLeavesNothing: a source that fails after more than a
// part leaves no object and no unfinished upload in the bucket.
func TestFailedUploadLeavesNothing(t *testing.T) {
	srv := newServer(t)
	st := srv.open(t, "", nil)
	broken := errors.New("broken source")
	src := io.MultiReader(bytes.NewReader(content(s3.MinPartSize+10)), iotestErr{broken})
	if _, _, err := st.PutArtifact(t.Context(), src); !errors.Is(err, broken) {
		t.Fatalf("PutArtifact of a failing source: %v, want its error", err)
	}
	if keys := srv.keys(t); len(keys) != 0 {
		t.Fatalf("objects left: %q", keys)
	}
	for up := range srv.client.ListIncompleteUploads(t.Context(), bucket, "", true) {
		if up.Err != nil {
			t.Fatal(up.Err)
		}
		t.Fatalf("unfinished upload left: %s", up.Key)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

// TestCorruptArchiveFails: an object whose content is not its digest's
// reads to an error (artifact.ErrDigest), not to its end; so does one
// cut short.
func TestCorruptArchiveFails(t *testing.T) {
	srv := newServer(t)
	st := srv.open(t, "p/", nil)
	want := content(100_000)
	d, _, err := st.PutArtifact(t.Context(), bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{
		"changed": append(content(99_999), 1),
		"short":   want[:99_999],
		"longer":  append(bytes.Clone(want), 0),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := srv.client.PutObject(t.Context(), bucket, "p/sha256/"+d, bytes.NewReader(body), int64(len(body)),
				minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
			rc, _, err := st.OpenArtifact(t.Context(), d)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if _, err := io.Copy(io.Discard, rc); !errors.Is(err, artifact.ErrDigest) {
				t.Fatalf("read of a %s object: %v, want ErrDigest", name, err)
			}
		})
	}
}

// TestStaleUploadsDeleted: a put deletes the upload objects begun more
// than a day before, and keeps the newer ones (an upload under way).
func TestStaleUploadsDeleted(t *testing.T) {
	srv := newServer(t)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	st := srv.open(t, "x/", func() time.Time { return now })
	put := func(key string) {
		if _, err := srv.client.PutObject(t.Context(), bucket, key, strings.NewReader("part"), 4, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	old := "x/uploads/" + pad(now.Add(-25*time.Hour)) + "-old"
	recent := "x/uploads/" + pad(now.Add(-time.Hour)) + "-recent"
	put(old)
	put(recent)
	put("y/uploads/0000000000000-other-prefix")
	d, _, err := st.PutArtifact(t.Context(), strings.NewReader("archive"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(srv.keys(t), " ")
	want := strings.Join([]string{"x/sha256/" + d, recent, "y/uploads/0000000000000-other-prefix"}, " ")
	if got != want {
		t.Fatalf("objects = %q\nwant      %q", got, want)
	}
}

// pad is the start time of an upload as its key spells it.
func pad(t time.Time) string { return fmt.Sprintf("%013d", t.UnixMilli()) }

// TestNew: a missing bucket, a bad endpoint or a part size below S3's
// least is refused at start.
func TestNew(t *testing.T) {
	srv := newServer(t)
	creds := credentials.NewStaticV4("key", "secret", "")
	for name, cfg := range map[string]s3.Config{
		"NoBucket":      {Bucket: "missing", Endpoint: srv.url, PathStyle: true, Credentials: creds, Region: "us-east-1"},
		"BadEndpoint":   {Bucket: bucket, Endpoint: "ftp://x", Credentials: creds},
		"SmallPartSize": {Bucket: bucket, Endpoint: srv.url, Credentials: creds, PartSize: 1 << 20},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := s3.New(t.Context(), cfg); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	for raw, want := range map[string][2]string{
		"s3://b":       {"b", ""},
		"s3://b/":      {"b", ""},
		"s3://b/p":     {"b", "p/"},
		"s3://b/p/q/":  {"b", "p/q/"},
		"http://b/p":   {},
		"s3:///p":      {},
		"s3://u:p@b/p": {},
		"s3://b/p?x=1": {},
	} {
		b, p, err := s3.ParseURL(raw)
		if (err != nil) != (want == [2]string{}) || b != want[0] || p != want[1] {
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q", raw, b, p, err, want)
		}
	}
}
