package troupe

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

const runTokenPrefix = "run_"

// RunTokenSecret derives the key that signs run tokens from the admin token.
// Every replica that shares the admin token derives the same key, a server
// started with another admin token invalidates every run token issued
// before, and nothing secret is stored where a run could read it.
func RunTokenSecret(adminToken string) []byte {
	m := hmac.New(sha256.New, []byte(adminToken))
	m.Write([]byte("troupe run tokens"))
	return m.Sum(nil)
}

// RunToken returns the API token a run's process gets (APIFY_TOKEN): the
// run's id and an HMAC, under secret, of the id and the run's resurrection
// count, so that a resurrected run gets a new token and the old one stays
// dead (see ValidRunToken).
func RunToken(secret []byte, run *Run) string {
	return runTokenPrefix + run.ID + "_" + runTokenMAC(secret, run.ID, run.Stats.ResurrectCount)
}

// RunTokenID returns the id of the run a token in RunToken's format names,
// without checking the token.
func RunTokenID(token string) (runID string, ok bool) {
	rest, found := strings.CutPrefix(token, runTokenPrefix)
	if !found {
		return "", false
	}
	id, _, found := strings.Cut(rest, "_")
	if !found || id == "" {
		return "", false
	}
	return id, true
}

// ValidRunToken reports whether token is the current token of run under
// secret and the run was live when the request that carries the token
// arrived (at): a token stops working when its run finishes, when the run
// is resurrected (the new process gets a new token), and when the secret
// changes. A deleted run has no token at all. A request that arrived by the
// time the run finished still counts: a process's last request (the SDK
// sends its final status message and exits without waiting for the answer)
// may be handled after the run was marked finished.
func ValidRunToken(secret []byte, run *Run, token string, at time.Time) bool {
	if len(secret) == 0 || run == nil {
		return false
	}
	if run.Status.Terminal() && (run.FinishedAt == nil || at.Truncate(time.Millisecond).After(*run.FinishedAt)) {
		return false
	}
	return hmac.Equal([]byte(token), []byte(RunToken(secret, run)))
}

func runTokenMAC(secret []byte, runID string, epoch int) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(runID))
	m.Write([]byte{0})
	m.Write([]byte(strconv.Itoa(epoch)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
