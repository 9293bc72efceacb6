package codec

import (
	"encoding/json"
	"fmt"

	"github.com/troupehq/troupe"
)

// PrepareRequest returns a validated copy of r, ready to store.
func PrepareRequest(r *troupe.Request) (*troupe.Request, error) {
	if r == nil {
		return nil, troupe.Errorf(troupe.ErrInvalidInput, "The request is missing.")
	}
	c := *r
	if err := c.Prepare(); err != nil {
		return nil, err
	}
	return &c, nil
}

// EncodeRequest returns the JSON a request is kept as.
func EncodeRequest(r *troupe.Request) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return b, nil
}
