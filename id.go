package troupe

import (
	"crypto/rand"
	"time"
)

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns a random 17-character alphanumeric id, the shape the API
// uses for actors, runs, builds and storages.
func NewID() string {
	var b [17]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b[:])
}

// Now returns the current time in UTC, truncated to milliseconds, the
// precision every timestamp in the API has.
func Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
