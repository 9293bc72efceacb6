// Package s3 keeps build archives in S3-compatible object storage (Amazon
// S3, MinIO, Ceph, Garage, …) through the MinIO Go client, as the
// troupe.ArtifactStore that `troupe serve --artifacts s3://BUCKET/PREFIX`
// selects instead of the store's own.
//
// Under PREFIX an archive is the object sha256/DIGEST. A put streams the
// content as a multipart upload (one part of Config.PartSize in memory at a
// time) to a fresh object uploads/MILLIS-ID while it hashes it, then copies
// that object to sha256/DIGEST (unless an archive of that digest is there
// already) and deletes it. An upload that fails is aborted, and readers
// only ever read sha256/ objects: none of them is ever part of an archive.
// Each put deletes the uploads/ objects begun more than a day before (left
// by a process that died between its upload and its copy).
package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/artifact"
)

var _ troupe.ArtifactStore = (*ArtifactStore)(nil)

// Config says where archives live and how to reach them.
type Config struct {
	// Bucket is the bucket's name; required.
	Bucket string
	// Prefix is put before every object's name ("" or a path ending in
	// "/"; a missing final "/" is added).
	Prefix string
	// Endpoint is the base URL of the S3 API, e.g. http://127.0.0.1:9000;
	// empty means Amazon S3 (https://s3.amazonaws.com).
	Endpoint string
	// Region is the bucket's region; empty lets the client ask the server.
	Region string
	// PathStyle makes requests name the bucket in the path
	// (ENDPOINT/BUCKET/KEY) instead of the host name; when false the client
	// picks (virtual hosts on Amazon S3, paths elsewhere).
	PathStyle bool
	// Credentials signs the requests; nil means the standard AWS sources,
	// in this order: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
	// AWS_SESSION_TOKEN; the shared credentials file
	// (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials, profile AWS_PROFILE);
	// the instance, task or pod role (IAM, including web identity tokens).
	Credentials *credentials.Credentials
	// PartSize is the size of each part of an upload, held in memory while
	// it is sent: at least MinPartSize; 0 means DefaultPartSize. An archive
	// has at most 10,000 parts.
	PartSize int64
	// Transport carries the requests; nil means the client's default.
	Transport http.RoundTripper
	// Now is the clock that dates uploads; nil means time.Now.
	Now func() time.Time
}

// Part sizes of an upload.
const (
	// MinPartSize is S3's least part size (but for the last part).
	MinPartSize = 5 << 20
	// DefaultPartSize lets an archive reach 160 GiB (10,000 parts).
	DefaultPartSize = 16 << 20
)

// staleUpload is how long after its start an upload object that was not
// copied to its digest is taken for abandoned.
const staleUpload = 24 * time.Hour

// ArtifactStore keeps archives in one bucket under one prefix. Make it
// with New.
type ArtifactStore struct {
	c      *minio.Client
	bucket string
	prefix string
	part   uint64
	now    func() time.Time
}

// ParseURL splits s3://BUCKET/PREFIX into the bucket and the prefix (which
// ends in "/" unless empty).
func ParseURL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("%q is not a URL", raw)
	}
	if u.Scheme != "s3" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("%q is not s3://BUCKET or s3://BUCKET/PREFIX", raw)
	}
	prefix = strings.TrimPrefix(u.Path, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return u.Host, prefix, nil
}

// New returns the ArtifactStore cfg describes, after checking that the
// bucket exists and the credentials reach it.
func New(ctx context.Context, cfg Config) (*ArtifactStore, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3: no bucket")
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3: part size %d is below S3's least, %d", cfg.PartSize, MinPartSize)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	host, secure := "s3.amazonaws.com", true
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("s3: endpoint %q is not http(s)://HOST[:PORT]", cfg.Endpoint)
		}
		host, secure = u.Host, u.Scheme == "https"
	}
	creds := cfg.Credentials
	if creds == nil {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{},
			&credentials.IAM{},
		})
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: cfg.Region,
		BucketLookup: lookup, Transport: cfg.Transport})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3: reach bucket %s: %w", cfg.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3: bucket %s does not exist", cfg.Bucket)
	}
	return &ArtifactStore{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix, part: uint64(cfg.PartSize), now: cfg.Now}, nil
}

// key is the name of the object that holds the archive of digest.
func (s *ArtifactStore) key(digest string) string { return s.prefix + "sha256/" + digest }

// uploadKey is the name of the object an upload begun at t writes.
func (s *ArtifactStore) uploadKey(t time.Time, id string) string {
	return fmt.Sprintf("%suploads/%013d-%s", s.prefix, t.UnixMilli(), id)
}

// PutArtifact implements troupe.ArtifactStore (see the package's doc).
func (s *ArtifactStore) PutArtifact(ctx context.Context, r io.Reader) (string, int64, error) {
	now := s.now()
	if err := s.deleteStale(ctx, now); err != nil {
		return "", 0, fmt.Errorf("s3: delete stale uploads: %w", err)
	}
	tmp := s.uploadKey(now, troupe.NewID())
	src := &hashingReader{r: r, h: sha256.New()}
	if err := s.upload(ctx, tmp, src); err != nil {
		// An upload that failed is aborted: no object is there. Report
		// the source's or the context's own error when that was the cause.
		if src.err != nil {
			err = src.err
		} else if ctx.Err() != nil {
			err = ctx.Err()
		}
		return "", 0, fmt.Errorf("s3: upload archive: %w", err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = s.c.RemoveObject(ctx, s.bucket, tmp, minio.RemoveObjectOptions{})
	}
	defer drop()
	if err := ctx.Err(); err != nil {
		return "", 0, err
	}
	digest := hex.EncodeToString(src.h.Sum(nil))
	final := s.key(digest)
	if info, err := s.c.StatObject(ctx, s.bucket, final, minio.StatObjectOptions{}); err == nil && info.Size == src.n {
		return digest, src.n, nil
	} else if err != nil && !notFound(err) {
		return "", 0, fmt.Errorf("s3: look up archive %s: %w", digest, err)
	}
	dst := minio.CopyDestOptions{Bucket: s.bucket, Object: final}
	srcObj := minio.CopySrcOptions{Bucket: s.bucket, Object: tmp}
	var err error
	if src.n <= maxCopy {
		_, err = s.c.CopyObject(ctx, dst, srcObj)
	} else {
		_, err = s.c.ComposeObject(ctx, dst, srcObj) // a copy in parts
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return "", 0, fmt.Errorf("s3: copy archive %s into place: %w", digest, err)
	}
	return digest, src.n, nil
}

// maxCopy is the largest object S3 copies in one request (5 GiB).
const maxCopy = 5 << 30

// upload writes what src gives to the object key: in one request when it
// fits in a part, else as a multipart upload of parts of s.part bytes,
// which the client aborts when it fails.
func (s *ArtifactStore) upload(ctx context.Context, key string, src io.Reader) error {
	opts := minio.PutObjectOptions{PartSize: s.part, ContentType: "application/octet-stream"}
	first := make([]byte, s.part)
	n, err := io.ReadFull(src, first)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		// An empty body is sent unsigned: the streaming signature of an
		// empty body is refused by some servers, and there is nothing to
		// sign.
		opts.DisableContentSha256 = n == 0
		_, err = s.c.PutObject(ctx, s.bucket, key, bytes.NewReader(first[:n]), int64(n), opts)
		return err
	case err != nil:
		return err
	}
	_, err = s.c.PutObject(ctx, s.bucket, key, io.MultiReader(bytes.NewReader(first), src), -1, opts)
	return err
}

// deleteStale deletes the upload objects begun before now-staleUpload.
func (s *ArtifactStore) deleteStale(ctx context.Context, now time.Time) error {
	cutoff := s.uploadKey(now.Add(-staleUpload), "")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "uploads/"}) {
		if obj.Err != nil {
			return obj.Err
		}
		if obj.Key >= cutoff {
			break // keys sort by their start time
		}
		if err := s.c.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
			return err
		}
	}
	return nil
}

// OpenArtifact implements troupe.ArtifactStore: the reader streams the
// object sha256/DIGEST and checks it (artifact.Verified).
func (s *ArtifactStore) OpenArtifact(ctx context.Context, digest string) (io.ReadCloser, int64, error) {
	if !artifact.ValidDigest(digest) {
		return nil, 0, troupe.Errorf(troupe.ErrRecordNotFound, "Artifact was not found")
	}
	obj, err := s.c.GetObject(ctx, s.bucket, s.key(digest), minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("s3: open archive %s: %w", digest, err)
	}
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		if notFound(err) {
			return nil, 0, troupe.Errorf(troupe.ErrRecordNotFound, "Artifact was not found")
		}
		return nil, 0, fmt.Errorf("s3: open archive %s: %w", digest, err)
	}
	return artifact.Verified(obj, digest, info.Size), info.Size, nil
}

// notFound reports whether err is S3's answer for a missing object.
func notFound(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == minio.NoSuchKey || code == "NotFound"
}

// hashingReader hashes and counts what it reads from r, and keeps r's
// error.
type hashingReader struct {
	r   io.Reader
	h   hash.Hash
	n   int64
	err error
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	if err != nil && err != io.EOF {
		h.err = err
	}
	return n, err
}
