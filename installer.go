package troupe

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"
)

// Installer runs the install step of a build (npm install) away from the
// server, in the image the build's Dockerfile names, so that the
// dependencies match the image its runs use (the Kubernetes executor runs
// it as a pod). The install fetches the archive InstallSpec.Source from
// GET /v2/actor-builds/{id}/install-source and uploads the folder it made
// to POST /v2/actor-builds/{id}/install-result, both with InstallSpec.Token;
// the server records the upload's digest as Build.InstallResult.
type Installer interface {
	// Install runs the step and returns once it has ended: nil when the
	// install succeeded and its result was uploaded, an error saying why
	// not otherwise. When ctx ends first, everything the step started is
	// stopped (its pod deleted) before Install returns ctx's error.
	Install(ctx context.Context, spec *InstallSpec) error
	// Forget stops and removes what an install step of the build left
	// behind when its server died during it (its pod); nothing left is no
	// error.
	Forget(ctx context.Context, buildID string) error
}

// InstallSpec is one install step.
type InstallSpec struct {
	BuildID string
	// Image is the image the Dockerfile's FROM names.
	Image string
	// Command is the install command (argv), run in the build's folder.
	Command []string
	// Env is the step's environment beyond the image's own (NAME=value).
	Env []string
	// Token is the build's token (BuildToken): it reaches only the
	// build's install-source and install-result.
	Token string
	// Source is the sha256 (hex) of the source archive.
	Source string
	// Deadline is when the build times out; MemoryMbytes its memory.
	Deadline     time.Time
	MemoryMbytes int
	// Output gets each line the install command prints.
	Output func(line string)
}

const buildTokenPrefix = "build_"

// BuildToken returns the token of a build's install step: the build's id
// and an HMAC, under secret (RunTokenSecret), of a label that no run token
// signs and the id. It is accepted only by the two install routes of that
// build, and only while the build runs with an install source
// (ValidBuildToken); no other route knows it.
func BuildToken(secret []byte, buildID string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("troupe build install\x00"))
	m.Write([]byte(buildID))
	return buildTokenPrefix + buildID + "_" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// BuildTokenID returns the id of the build a token in BuildToken's format
// names, without checking the token.
func BuildTokenID(token string) (buildID string, ok bool) {
	rest, found := strings.CutPrefix(token, buildTokenPrefix)
	if !found {
		return "", false
	}
	id, _, found := strings.Cut(rest, "_")
	return id, found && id != ""
}

// ValidBuildToken reports whether token is the install token of build b
// under secret and b is running an install away from the server (it has
// an InstallSource): the token dies with the build.
func ValidBuildToken(secret []byte, b *Build, token string) bool {
	if len(secret) == 0 || b == nil || b.Status != StatusRunning || b.InstallSource == "" {
		return false
	}
	return hmac.Equal([]byte(token), []byte(BuildToken(secret, b.ID)))
}
