package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sync/singleflight"

	"github.com/troupehq/troupe"
)

// ErrDigest is the error of Cache.Path for an archive whose content is not
// the digest it is kept under.
var ErrDigest = errors.New("archive does not match its digest")

// Cache keeps build archives unpacked in Dir/DIGEST, each fetched from
// Store the first time it is asked for. Its zero value is not usable; set
// Dir and Store.
type Cache struct {
	Dir   string
	Store troupe.ArtifactStore

	group singleflight.Group
}

// ValidDigest reports whether d is a digest as the store gives them: 64
// lowercase hex digits.
func ValidDigest(d string) bool {
	if len(d) != 64 {
		return false
	}
	for _, c := range []byte(d) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Path returns the folder holding the unpacked archive of that digest.
// The first call fetches and unpacks it into a temporary folder of Dir,
// checks the archive against the digest and renames the folder into place,
// so that the folder, once there, is whole; calls made meanwhile, in this
// process, wait for that one. A digest not in the store is record-not-found;
// an archive that does not match it fails with ErrDigest, one that Unpack
// refuses with ErrRefused, and neither leaves anything in Dir.
func (c *Cache) Path(ctx context.Context, digest string) (string, error) {
	if !ValidDigest(digest) {
		return "", troupe.Errorf(troupe.ErrRecordNotFound, "Artifact was not found")
	}
	final := filepath.Join(c.Dir, digest)
	if _, err := os.Lstat(final); err == nil {
		return final, nil
	}
	_, err, _ := c.group.Do(digest, func() (any, error) {
		if _, err := os.Lstat(final); err == nil {
			return nil, nil
		}
		return nil, c.fetch(ctx, digest, final)
	})
	if err != nil {
		return "", err
	}
	return final, nil
}

// fetch unpacks the archive of digest into final.
func (c *Cache) fetch(ctx context.Context, digest, final string) error {
	rc, _, err := c.Store.OpenArtifact(ctx, digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(c.Dir, ".unpack-")
	if err != nil {
		return err
	}
	keep := false
	defer func() {
		if !keep {
			_ = os.RemoveAll(tmp)
		}
	}()
	h := sha256.New()
	tee := io.TeeReader(rc, h)
	if err := Unpack(tee, tmp); err != nil {
		return fmt.Errorf("unpack artifact %s: %w", digest, err)
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return fmt.Errorf("read artifact %s: %w", digest, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("artifact %s: %w (its content hashes to %s)", digest, ErrDigest, got)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Lstat(final); serr == nil {
			return nil // another process put it there first
		}
		return err
	}
	keep = true
	return nil
}
