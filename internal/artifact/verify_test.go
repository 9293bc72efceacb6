package artifact

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

// TestVerified: content that is its digest and size reads to its end;
// content changed, cut short or longer fails with ErrDigest instead.
func TestVerified(t *testing.T) {
	t.Parallel()
	want := bytes.Repeat([]byte("archive "), 10_000)
	sum := sha256.Sum256(want)
	digest := hex.EncodeToString(sum[:])
	changed := bytes.Clone(want)
	changed[len(changed)/2] ^= 1
	for name, tc := range map[string]struct {
		body []byte
		ok   bool
	}{
		"OK":      {want, true},
		"Changed": {changed, false},
		"Short":   {want[:len(want)-1], false},
		"Longer":  {append(bytes.Clone(want), 0), false},
	} {
		t.Run(name, func(t *testing.T) {
			rc := Verified(io.NopCloser(bytes.NewReader(tc.body)), digest, int64(len(want)))
			got, err := io.ReadAll(rc)
			if tc.ok && (err != nil || !bytes.Equal(got, want)) {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
			if !tc.ok && !errors.Is(err, ErrDigest) {
				t.Fatalf("err = %v, want ErrDigest", err)
			}
		})
	}
}
