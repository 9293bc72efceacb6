package api

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/troupehq/troupe"
)

// MaxInstallResultBytes caps the archive an install step uploads (the
// build's folder after npm install, compressed).
const MaxInstallResultBytes = 2 << 30

// routeInstall registers the two routes of a build's install step (see
// troupe.Installer). They are troupe's own, outside Apify's API, and take
// the admin token or the build's own token (troupe.BuildToken), which no
// other route accepts.
func (s *Server) routeInstall() {
	s.mux.HandleFunc("GET /v2/actor-builds/{buildId}/install-source", s.installHandler(s.getInstallSource))
	s.mux.HandleFunc("POST /v2/actor-builds/{buildId}/install-result", s.installHandler(s.postInstallResult))
}

// installHandler authenticates an install request: the admin token, or the
// token of the build named in the path while that build runs an install
// step (troupe.ValidBuildToken). token-not-provided, invalid-token.
func (s *Server) installHandler(h func(w http.ResponseWriter, r *http.Request, b *troupe.Build) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("buildId")
		tok := requestToken(r)
		if tok == "" {
			s.writeError(w, r, troupe.Errorf(troupe.ErrTokenNotProvided, "Authentication token was not provided."))
			return
		}
		admin := s.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) == 1
		tokID, _ := troupe.BuildTokenID(tok)
		if !admin && tokID != id {
			s.writeError(w, r, troupe.Errorf(troupe.ErrInvalidToken, "Authentication token is not valid."))
			return
		}
		b, err := s.store.GetBuild(r.Context(), id)
		if err != nil && !troupe.IsNotFound(err) {
			s.writeError(w, r, err)
			return
		}
		if !admin && (err != nil || !troupe.ValidBuildToken(s.cfg.RunTokenSecret, b, tok)) {
			s.writeError(w, r, troupe.Errorf(troupe.ErrInvalidToken, "Authentication token is not valid."))
			return
		}
		if err != nil {
			s.writeError(w, r, notFound("Build", id))
			return
		}
		if err := h(w, r, b); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// getInstallSource serves GET /v2/actor-builds/{buildId}/install-source:
// the archive of the build's files before its install step, streamed, with
// its sha256 in the ETag. record-not-found when the build has none.
func (s *Server) getInstallSource(w http.ResponseWriter, r *http.Request, b *troupe.Build) error {
	if b.InstallSource == "" {
		return troupe.Errorf(troupe.ErrRecordNotFound, "Build %s has no install source.", b.ID)
	}
	return s.sendArchive(w, r, b.InstallSource, nil, "send install source", b.ID)
}

// installResult is the answer to an upload.
type installResult struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// postInstallResult serves POST /v2/actor-builds/{buildId}/install-result:
// the body (with ?encoding=base64, its base64 text, line breaks allowed:
// busybox wget cannot send binary), at most MaxInstallResultBytes, is streamed into the
// artifact store, its sha256 computed here, and recorded as the build's
// InstallResult. A build takes one upload: another is
// concurrent-update-detected; one to a build no longer running is
// job-finished; a larger body is request-too-large. The read deadline
// is the build's timeout from now, as an upload may outlast ReadTimeout.
func (s *Server) postInstallResult(w http.ResponseWriter, r *http.Request, b *troupe.Build) error {
	if b.InstallResult != "" {
		return troupe.Errorf(troupe.ErrConflict, "Build %s has its install result already.", b.ID)
	}
	if r.ContentLength > MaxInstallResultBytes {
		return troupe.Errorf(troupe.ErrRequestTooLarge, "The install result is larger than the limit of %d bytes.", int64(MaxInstallResultBytes))
	}
	if secs := b.Options.TimeoutSecs; secs > 0 {
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Duration(secs) * time.Second))
	}
	var body io.Reader
	switch enc := r.URL.Query().Get("encoding"); enc {
	case "":
		body = http.MaxBytesReader(w, r.Body, MaxInstallResultBytes)
	case "base64":
		// Four characters per three bytes, and line breaks.
		raw := http.MaxBytesReader(w, r.Body, MaxInstallResultBytes/3*4*2)
		body = &capReader{r: base64.NewDecoder(base64.StdEncoding, raw), left: MaxInstallResultBytes}
	default:
		return troupe.Errorf(troupe.ErrInvalidParameter, "Parameter 'encoding' must be base64 or absent, not %q.", enc)
	}
	digest, size, err := s.store.PutArtifact(r.Context(), body)
	if err != nil {
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) || errors.Is(err, errCapped) {
			return troupe.Errorf(troupe.ErrRequestTooLarge, "The install result is larger than the limit of %d bytes.", int64(MaxInstallResultBytes))
		}
		if corrupt := base64.CorruptInputError(0); errors.As(err, &corrupt) {
			return troupe.Errorf(troupe.ErrInvalidRequest, "The install result is not valid base64: %v", err)
		}
		return err
	}
	_, err = s.store.UpdateBuild(r.Context(), b.ID, func(x *troupe.Build) error {
		switch {
		case x.Status != troupe.StatusRunning || x.InstallSource != b.InstallSource:
			return troupe.Errorf(troupe.ErrJobFinished, "Build %s is no longer running its install step.", b.ID)
		case x.InstallResult != "":
			return troupe.Errorf(troupe.ErrConflict, "Build %s has its install result already.", b.ID)
		}
		x.InstallResult = digest
		return nil
	})
	if err != nil {
		return err
	}
	writeData(w, http.StatusCreated, installResult{SHA256: digest, Size: size})
	return nil
}

var errCapped = errors.New("read limit reached")

// capReader reads r until left bytes were read, then fails with errCapped
// if r has more.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			return 0, errCapped
		}
		return c.r.Read(p)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
