package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/s3"
)

// artifactOptions are the flags that say where build archives live.
type artifactOptions struct {
	url       string
	endpoint  string
	region    string
	pathStyle bool
}

// addArtifactFlags adds --artifacts and the --s3-* flags to f.
func addArtifactFlags(f *pflag.FlagSet, o *artifactOptions) {
	f.StringVar(&o.url, "artifacts", "", "where build archives live: empty for the store, or s3://BUCKET[/PREFIX] for S3-compatible object storage (credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, the shared credentials file, or the machine's or pod's role)")
	f.StringVar(&o.endpoint, "s3-endpoint", firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"), "base URL of the S3 API for --artifacts, e.g. http://127.0.0.1:9000 (default $AWS_ENDPOINT_URL_S3, else $AWS_ENDPOINT_URL, else Amazon S3)")
	f.StringVar(&o.region, "s3-region", firstEnv("AWS_REGION", "AWS_DEFAULT_REGION"), "region of the --artifacts bucket (default $AWS_REGION, else $AWS_DEFAULT_REGION, else asked of the server)")
	f.BoolVar(&o.pathStyle, "s3-path-style", false, "name the --artifacts bucket in the URL's path rather than its host name (most self-hosted S3 servers want it; default: virtual hosts on Amazon S3, paths elsewhere)")
}

// firstEnv returns the first of the environment variables that is set.
func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// withArtifacts returns st with its build archives kept where o says:
// st itself by default, or the S3 bucket --artifacts names, which it
// checks it can reach.
func withArtifacts(ctx context.Context, o artifactOptions, st troupe.Store) (troupe.Store, error) {
	if o.url == "" {
		return st, nil
	}
	bucket, prefix, err := s3.ParseURL(o.url)
	if err != nil {
		return nil, fmt.Errorf("--artifacts: %w", err)
	}
	a, err := s3.New(ctx, s3.Config{Bucket: bucket, Prefix: prefix, Endpoint: o.endpoint, Region: o.region, PathStyle: o.pathStyle})
	if err != nil {
		return nil, fmt.Errorf("--artifacts: %w", err)
	}
	return troupe.WithArtifacts(st, a), nil
}
