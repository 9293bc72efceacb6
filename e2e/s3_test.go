package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/troupehq/troupe/client"
	"github.com/troupehq/troupe/pgtest"
)

// TestReplicasShareArchivesInS3: with --artifacts s3://…, a build made on
// replica A is kept in the bucket (an S3-compatible server on loopback)
// under its digest, and replica B, sharing the database and the bucket but
// not A's data folder, fetches it from there and runs it. Credentials come
// from the AWS_* environment variables, so the test does not run in
// parallel.
func TestReplicasShareArchivesInS3(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("builds"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "troupe")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "troupe-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	s3args := []string{"--artifacts", "s3://builds/troupe/", "--s3-endpoint", s3srv.URL, "--s3-path-style"}

	url, dirA, dirB := pgtest.NewDatabase(t), t.TempDir(), t.TempDir()
	a := replica(t, url, dirA, "a", s3args...)
	if err := a.waitExamples(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dirA, "builds")); err != nil {
		t.Fatal(err)
	}
	b := replica(t, url, dirB, "b", append(s3args, "--examples=false")...)

	run := b.finish(t, b.start(t, "echo", `{"message":"kept in s3"}`, nil).ID)
	wantStatus(t, run, client.StatusSucceeded)
	b.waitLog(t, run.ID, "message: kept in s3")

	req, err := http.NewRequestWithContext(testCtx(t), "GET", b.URL+"/v2/actor-builds/"+run.BuildID+"/artifact", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("artifact: %d %v", resp.StatusCode, err)
	}
	sum := sha256.Sum256(body)
	digest := hex.EncodeToString(sum[:])
	obj, err := backend.GetObject("builds", "troupe/sha256/"+digest, nil)
	if err != nil {
		t.Fatalf("the bucket has no object for the build's archive %s: %v", digest, err)
	}
	kept, err := io.ReadAll(obj.Contents)
	obj.Contents.Close()
	if err != nil || string(kept) != string(body) {
		t.Fatalf("the bucket's object differs from the archive served (%d bytes, %v)", len(kept), err)
	}
	if _, err := os.Stat(filepath.Join(dirB, "artifacts", digest, "main.js")); err != nil {
		t.Errorf("B's cache of the build: %v", err)
	}
	list, err := backend.ListBucket("builds", nil, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list.Contents {
		if !strings.HasPrefix(o.Key, "troupe/sha256/") {
			t.Errorf("object %s left in the bucket", o.Key)
		}
	}
}
