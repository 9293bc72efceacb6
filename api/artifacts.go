package api

import (
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/troupehq/troupe"
)

// getBuildArtifact serves GET /v2/actor-builds/{buildId}/artifact: the
// archive of a succeeded build's files (a gzip-compressed tar, as the store
// keeps it), streamed, with its sha256 in the ETag and Repr-Digest headers.
// Only the admin token and the tokens of runs of that build get it; any
// other run gets insufficient-permissions. A build without an archive (not
// succeeded, or made before troupe kept archives) is record-not-found.
func (s *Server) getBuildArtifact(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("buildId")
	if c := callerFrom(r.Context()); !c.admin && (c.run == nil || c.run.BuildID != id) {
		return troupe.Errorf(troupe.ErrInsufficientPermissions,
			"The archive of build %s is served only to the admin token and to the runs of that build.", id)
	}
	b, err := s.getBuild(r.Context(), id)
	if err != nil {
		return err
	}
	if b.Artifact == "" {
		return troupe.Errorf(troupe.ErrRecordNotFound,
			"Build %s has no archive: it has not succeeded, or was made before troupe kept build archives.", id)
	}
	etag := archiveETag(b.Artifact)
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, etag) {
		w.Header().Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return s.sendArchive(w, r, b.Artifact, func(h http.Header) {
		if raw, err := hex.DecodeString(b.Artifact); err == nil {
			h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(raw)+":")
		}
		h.Set("Content-Disposition", `attachment; filename="build-`+id+`.tar.gz"`)
	}, "send build archive", id)
}

// sendArchive answers 200 with the archive of this sha256 digest from the
// store, streamed: gzip, its length, the digest in the ETag, and the
// headers more sets. A failure once the status is sent (the client then
// sees a short body) is logged as what, with the build's id.
func (s *Server) sendArchive(w http.ResponseWriter, r *http.Request, digest string, more func(http.Header), what, buildID string) error {
	rc, size, err := s.store.OpenArtifact(r.Context(), digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "application/gzip")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("ETag", archiveETag(digest))
	if more != nil {
		more(h)
	}
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		s.log.Warn(what, "build", buildID, "err", err)
	}
	return nil
}

// archiveETag is the ETag of the archive with this sha256 digest.
func archiveETag(digest string) string { return `"sha256:` + digest + `"` }
