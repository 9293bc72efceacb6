package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
)

// LogClient reads the log of a run or a build. Get it with [RunClient.Log],
// [BuildClient.Log] or [Client.Log].
type LogClient struct{ r resource }

// Log returns the client of the log of the run or build with this id
// (/v2/logs/{id}).
func (c *Client) Log(id string) *LogClient {
	return &LogClient{r: resource{c: c, path: "/logs"}.sub(id)}
}

// Get returns the log as written so far. Each line starts with an ISO
// timestamp.
func (l *LogClient) Get(ctx context.Context) (string, error) {
	req, err := l.r.request(ctx, http.MethodGet, nil, nil, "")
	if err != nil {
		return "", err
	}
	body, _, err := l.r.c.doRaw(req)
	return string(body), err
}

// Stream returns the log as a stream (GET ?stream=1&raw=1): what has been
// written so far, then each new line as it is written, ending when the job
// ends. ANSI codes are kept. The caller must close it; cancelling ctx also
// ends it.
func (l *LogClient) Stream(ctx context.Context) (io.ReadCloser, error) {
	req, err := l.r.request(ctx, http.MethodGet, url.Values{"stream": {"1"}, "raw": {"1"}}, nil, "")
	if err != nil {
		return nil, err
	}
	resp, err := l.r.c.doStream(req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
