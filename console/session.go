package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// SessionCookie is the name of the cookie that holds a console session.
const SessionCookie = "troupe_console"

// SessionTTL is how long a console session lasts after sign-in.
const SessionTTL = 12 * time.Hour

// sessionKey derives the key that signs sessions from the admin token, so
// that every replica sharing the token accepts the same sessions, and a new
// admin token ends every session given out before.
func sessionKey(adminToken string) []byte {
	m := hmac.New(sha256.New, []byte(adminToken))
	m.Write([]byte("troupe console sessions"))
	return m.Sum(nil)
}

func (c *Console) mac(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, c.key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// newSession returns a session cookie value: an expiry time and a random
// nonce, signed.
func (c *Console) newSession(now time.Time) string {
	body := make([]byte, 8+16)
	binary.BigEndian.PutUint64(body, uint64(now.Add(SessionTTL).Unix()))
	if _, err := rand.Read(body[8:]); err != nil {
		panic(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(body) + "." + enc.EncodeToString(c.mac([]byte("session"), body))
}

// session returns the request's session cookie value when it is valid.
func (c *Console) session(r *http.Request) (string, bool) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", false
	}
	b64, sig, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return "", false
	}
	enc := base64.RawURLEncoding
	body, err1 := enc.DecodeString(b64)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || len(body) != 24 || !hmac.Equal(mac, c.mac([]byte("session"), body)) {
		return "", false
	}
	if c.now().Unix() >= int64(binary.BigEndian.Uint64(body)) {
		return "", false
	}
	return ck.Value, true
}

// csrfToken is the token a session's state-changing requests must carry:
// a MAC of the session, so a page of another site can neither read nor
// forge it.
func (c *Console) csrfToken(session string) string {
	return base64.RawURLEncoding.EncodeToString(c.mac([]byte("csrf"), []byte(session)))
}

// validCSRF checks the token a request carries (X-CSRF-Token header or csrf
// form field) against its session.
func (c *Console) validCSRF(r *http.Request, session string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(c.csrfToken(session))) == 1
}

// sameOrigin reports whether a request that changes state came from a page
// of this server: an Origin header, when the browser sends one, must name
// the host the request was sent to.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// setSession writes the session cookie: HttpOnly, SameSite=Strict, and
// Secure when the request came over TLS (a browser does not send a Secure
// cookie back over plain HTTP, so on a plain-HTTP loopback address it
// cannot be Secure).
func (c *Console) setSession(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || c.cfg.Secure,
	})
}
