package main

import (
	"strings"
	"testing"
)

// TestWithArtifactsRefuses: --artifacts that is not s3://BUCKET[/PREFIX],
// or an endpoint that is not http(s), stops the server at start.
func TestWithArtifactsRefuses(t *testing.T) {
	for _, o := range []artifactOptions{
		{url: "http://bucket/prefix"},
		{url: "s3:///prefix"},
		{url: "s3://bucket", endpoint: "ftp://127.0.0.1:21"},
	} {
		if _, err := withArtifacts(t.Context(), o, nil); err == nil || !strings.HasPrefix(err.Error(), "--artifacts: ") {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
