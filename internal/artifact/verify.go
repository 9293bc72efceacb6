package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// Verified returns a reader of rc that checks what it reads against the
// digest (sha256, hex) and size an archive is kept under: where rc ends,
// it returns io.EOF only when rc gave exactly size bytes hashing to digest,
// and an error wrapping ErrDigest otherwise (also as soon as rc gives more
// than size bytes). Closing it closes rc.
func Verified(rc io.ReadCloser, digest string, size int64) io.ReadCloser {
	return &verified{rc: rc, digest: digest, size: size, h: sha256.New()}
}

type verified struct {
	rc     io.ReadCloser
	digest string
	size   int64
	n      int64
	h      hash.Hash
	err    error
}

func (v *verified) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.size {
		v.err = fmt.Errorf("artifact %s: %w (more than its %d bytes)", v.digest, ErrDigest, v.size)
		return 0, v.err
	}
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); v.n != v.size || got != v.digest {
			err = fmt.Errorf("artifact %s: %w (read %d bytes of %d, hashing to %s)", v.digest, ErrDigest, v.n, v.size, got)
		}
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

func (v *verified) Close() error { return v.rc.Close() }
