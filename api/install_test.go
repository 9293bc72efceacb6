package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/troupehq/troupe"
)

// TestInstallRoutes: a build's install token fetches that build's source
// and uploads its result once, while the build runs its install step; the
// server computes the digest (base64 bodies decoded first). The token
// reaches nothing else: no other build, no other route, not after the
// build ended; a run's token does not reach the install routes.
func TestInstallRoutes(t *testing.T) {
	t.Parallel()
	f := newLimitedFixture(t)
	b := f.b
	ctx := context.Background()
	source := bytes.Repeat([]byte("source archive "), 1000)
	srcDigest, _, err := b.store.PutArtifact(ctx, bytes.NewReader(source))
	if err != nil {
		t.Fatal(err)
	}
	newBuild := func() *troupe.Build {
		var bd apiBuild
		b.call("POST", "/v2/actors/"+f.a.ID+"/builds?version=0.0", nil).ok(t, http.StatusCreated, &bd)
		got, err := b.store.UpdateBuild(ctx, bd.ID, func(x *troupe.Build) error {
			x.Status, x.InstallSource = troupe.StatusRunning, srcDigest
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	bd, other := newBuild(), newBuild()
	tok := troupe.BuildToken(runSecret, bd.ID)
	src := "/v2/actor-builds/" + bd.ID + "/install-source"
	res := "/v2/actor-builds/" + bd.ID + "/install-result"

	r := b.asRun(tok, "GET", src, nil)
	if r.status != http.StatusOK || !bytes.Equal(r.body, source) || r.header.Get("ETag") != `"sha256:`+srcDigest+`"` {
		t.Fatalf("source: status %d, %d bytes, ETag %q", r.status, len(r.body), r.header.Get("ETag"))
	}

	t.Run("ReachesNothingElse", func(t *testing.T) {
		for _, p := range []string{"/v2/actor-builds/" + bd.ID, "/v2/actor-builds/" + bd.ID + "/log",
			"/v2/actor-builds/" + bd.ID + "/artifact", "/v2/actors/" + f.a.ID, "/v2/actor-runs/" + f.run.ID} {
			b.asRun(tok, "GET", p, nil).fails(t, http.StatusUnauthorized, troupe.ErrInvalidToken)
		}
		b.asRun(tok, "GET", "/v2/actor-builds/"+other.ID+"/install-source", nil).fails(t, http.StatusUnauthorized, troupe.ErrInvalidToken)
		b.asRun(tok, "POST", "/v2/actor-builds/"+other.ID+"/install-result", []byte("x")).fails(t, http.StatusUnauthorized, troupe.ErrInvalidToken)
		b.asRun(f.tok, "GET", src, nil).fails(t, http.StatusUnauthorized, troupe.ErrInvalidToken)
		b.asRun(troupe.BuildToken([]byte("another secret"), bd.ID), "GET", src, nil).fails(t, http.StatusUnauthorized, troupe.ErrInvalidToken)
		b.raw("GET", src, nil, nil).fails(t, http.StatusUnauthorized, troupe.ErrTokenNotProvided)
	})

	t.Run("BadBase64", func(t *testing.T) {
		otherTok := troupe.BuildToken(runSecret, other.ID)
		b.asRun(otherTok, "POST", "/v2/actor-builds/"+other.ID+"/install-result?encoding=base64", []byte("not base64!")).
			fails(t, http.StatusBadRequest, troupe.ErrInvalidRequest)
		b.asRun(otherTok, "POST", "/v2/actor-builds/"+other.ID+"/install-result?encoding=hex", []byte("00")).
			fails(t, http.StatusBadRequest, troupe.ErrInvalidParameter)
	})

	result := bytes.Repeat([]byte{0, 1, 2, 'r', 'e', 's', 'u', 'l', 't'}, 100_000)
	sum := sha256.Sum256(result)
	want := hex.EncodeToString(sum[:])
	// Line-wrapped, as busybox base64 writes it.
	enc := base64.StdEncoding.EncodeToString(result)
	var wrapped []byte
	for len(enc) > 76 {
		wrapped, enc = append(append(wrapped, enc[:76]...), '\n'), enc[76:]
	}
	wrapped = append(append(wrapped, enc...), '\n')
	var got struct {
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
	}
	b.asRun(tok, "POST", res+"?encoding=base64", wrapped).ok(t, http.StatusCreated, &got)
	if got.SHA256 != want || got.Size != int64(len(result)) {
		t.Fatalf("upload answered %+v, want sha256 %s and %d bytes", got, want, len(result))
	}
	stored, err := b.store.GetBuild(ctx, bd.ID)
	if err != nil || stored.InstallResult != want {
		t.Fatalf("InstallResult = %q (%v), want %s", stored.InstallResult, err, want)
	}
	b.asRun(tok, "POST", res, []byte("again")).fails(t, http.StatusConflict, troupe.ErrConflict)

	b.completeBuild(bd.ID, troupe.StatusSucceeded, "")
	b.asRun(tok, "GET", src, nil).fails(t, http.StatusUnauthorized, troupe.ErrInvalidToken)
	b.call("GET", src, nil).ok(t, http.StatusOK, nil)
}
