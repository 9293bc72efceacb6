package troupe

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

const runTokenPrefix = "run_"

// RunToken returns the API token a run's process gets (APIFY_TOKEN): it
// names the run and carries an HMAC of its id under the server's secret, so
// any replica can check it without a lookup.
func RunToken(secret []byte, runID string) string {
	return runTokenPrefix + runID + "_" + runTokenMAC(secret, runID)
}

// VerifyRunToken returns the run id a token made by RunToken names, and
// whether the token is genuine.
func VerifyRunToken(secret []byte, token string) (runID string, ok bool) {
	rest, found := strings.CutPrefix(token, runTokenPrefix)
	if !found {
		return "", false
	}
	id, mac, found := strings.Cut(rest, "_")
	if !found || id == "" {
		return "", false
	}
	want := runTokenMAC(secret, id)
	if !hmac.Equal([]byte(mac), []byte(want)) {
		return "", false
	}
	return id, true
}

func runTokenMAC(secret []byte, runID string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(runID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
