package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// NewRequest builds a request for an endpoint the client does not wrap.
// path is below /v2 (e.g. "/actor-runs/ID/charge"), already escaped, and
// may carry a query. A non-nil body is sent as JSON (a []byte or
// json.RawMessage as it is, anything else marshalled). The request carries
// the client's token and User-Agent; send it with [Client.Do].
func (c *Client) NewRequest(ctx context.Context, method, path string, body any) (*http.Request, error) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	var data []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		data = b
	case json.RawMessage:
		data = b
	default:
		var err error
		if data, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("client: encode request body: %w", err)
		}
	}
	if body != nil && data == nil {
		data = []byte{}
	}
	return c.newRequest(ctx, method, path, nil, data, jsonContentType)
}

// Do sends req (made with [Client.NewRequest], or any request to the API)
// with ctx, retrying as every method of the client does, and returns the
// answer, whose body is already read and closed. An answer of 300 or more
// is returned as an [*Error] with the type and message of its
// {"error":{"type","message"}} body. On success the "data" member of the
// answer is decoded into v; when v is an io.Writer the whole body is
// written to it instead, and when v is nil it is dropped.
func (c *Client) Do(ctx context.Context, req *http.Request, v any) (*http.Response, error) {
	req = req.WithContext(ctx)
	resp, body, err := c.send(req, true)
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case nil:
	case io.Writer:
		_, err = v.Write(body)
	default:
		err = decodeData(req, resp, body, v)
	}
	return resp, err
}

// decodeData decodes the "data" member of a JSON answer into v.
func decodeData(req *http.Request, resp *http.Response, body []byte, v any) error {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", req.Method, req.URL.Path, err)
	}
	if len(env.Data) == 0 {
		return fmt.Errorf("%s %s: answer (HTTP %d) has no data", req.Method, req.URL.Path, resp.StatusCode)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		return fmt.Errorf("%s %s: decode data: %w", req.Method, req.URL.Path, err)
	}
	return nil
}
