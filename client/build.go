package client

import (
	"context"
	"net/http"
)

// BuildClient follows one build: /v2/actor-builds/{id}. Get it with
// [Client.Build].
type BuildClient struct{ r resource }

// Build returns the client of the build with this id.
func (c *Client) Build(id string) *BuildClient {
	return &BuildClient{r: resource{c: c, path: "/actor-builds"}.sub(id)}
}

// Get returns the build, or nil and no error when there is no such build.
func (b *BuildClient) Get(ctx context.Context) (*Build, error) {
	return get[Build](ctx, b.r, nil)
}

// WaitForFinish waits until the build is terminal or waitSecs seconds have
// passed (0: no limit) and returns the build as last seen; see
// [RunClient.WaitForFinish].
func (b *BuildClient) WaitForFinish(ctx context.Context, waitSecs int) (*Build, error) {
	return waitForFinish(ctx, b.r, waitSecs, func(b *Build) Status { return b.Status })
}

// Abort aborts the build and returns it.
func (b *BuildClient) Abort(ctx context.Context) (*Build, error) {
	return fetch[Build](ctx, b.r.sub("abort"), http.MethodPost, nil, nil)
}

// Log returns the client of the build's log.
func (b *BuildClient) Log() *LogClient { return &LogClient{r: b.r.sub("log")} }

// BuildCollectionClient lists an actor's builds. Get it with
// [ActorClient.Builds].
type BuildCollectionClient struct{ r resource }

// BuildList is a page of builds.
type BuildList = Page[*Build]

// List returns a page of the actor's builds ordered by startedAt.
func (bc *BuildCollectionClient) List(ctx context.Context, opts *ListOptions) (*BuildList, error) {
	return fetch[BuildList](ctx, bc.r, http.MethodGet, opts.values(), nil)
}
