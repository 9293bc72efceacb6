package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// ActorClient manages one actor: /v2/actors/{id}. Get it with
// [Client.Actor].
type ActorClient struct{ r resource }

// Actor returns the client of the actor with this id, "username/name" or
// "~name" (an actor of the token's owner).
func (c *Client) Actor(idOrName string) *ActorClient {
	return &ActorClient{r: resource{c: c, path: "/actors"}.sub(safeID(idOrName))}
}

// Get returns the actor, or nil and no error when there is no such actor.
func (a *ActorClient) Get(ctx context.Context) (*Actor, error) {
	return get[Actor](ctx, a.r, nil)
}

// ActorUpdate holds the actor fields [ActorClient.Update] changes; nil
// fields are left as they are.
type ActorUpdate struct {
	Name        *string `json:"name,omitempty"`
	Title       *string `json:"title,omitempty"`
	Description *string `json:"description,omitempty"`
	IsPublic    *bool   `json:"isPublic,omitempty"`
	// DefaultRunOptions, when set, replaces all the default run options.
	DefaultRunOptions *DefaultRunOptions `json:"defaultRunOptions,omitempty"`
	ExampleRunInput   *ExampleRunInput   `json:"exampleRunInput,omitempty"`
	// TaggedBuilds, when set, replaces the tags; a nil value removes a tag.
	TaggedBuilds map[string]*TaggedBuild `json:"taggedBuilds,omitempty"`
}

// Update changes the actor and returns it.
func (a *ActorClient) Update(ctx context.Context, u *ActorUpdate) (*Actor, error) {
	if u == nil {
		u = &ActorUpdate{}
	}
	return fetch[Actor](ctx, a.r, http.MethodPut, nil, u)
}

// Delete deletes the actor and its builds. An actor that does not exist is
// not an error.
func (a *ActorClient) Delete(ctx context.Context) error {
	return remove(ctx, a.r)
}

// StartOptions are the optional parameters of [ActorClient.Start]; zero or
// nil fields are not sent, so the actor's default run options apply.
type StartOptions struct {
	// ContentType of the input (default "application/json; charset=utf-8"
	// when there is an input).
	ContentType string
	// Build tag or number (default: the actor's default build, "latest").
	Build             string
	TimeoutSecs       *int
	MemoryMbytes      *int
	MaxItems          *int
	MaxTotalChargeUsd *float64
	RestartOnError    *bool
	// WaitForFinish makes the server hold the answer until the run finishes
	// or this many seconds (at most 60) pass.
	WaitForFinish int
	// Webhooks are ad-hoc webhooks of the run, encoded by [AdHocWebhooks].
	Webhooks string
}

// Start starts a run of the actor (POST runs) with input (nil: no input) as
// its INPUT record, and returns the run.
func (a *ActorClient) Start(ctx context.Context, input []byte, opts *StartOptions) (*Run, error) {
	if opts == nil {
		opts = &StartOptions{}
	}
	return sendInput[Run](ctx, a.r.sub("runs"), opts.query(), input, opts.ContentType)
}

// query returns the query parameters of a run start with these options.
func (opts *StartOptions) query() url.Values {
	q := url.Values{}
	if opts.Build != "" {
		q.Set("build", opts.Build)
	}
	setInt(q, "timeout", opts.TimeoutSecs)
	setInt(q, "memory", opts.MemoryMbytes)
	setInt(q, "maxItems", opts.MaxItems)
	setFloat(q, "maxTotalChargeUsd", opts.MaxTotalChargeUsd)
	setBool(q, "restartOnError", opts.RestartOnError)
	if opts.WaitForFinish > 0 {
		q.Set("waitForFinish", strconv.Itoa(opts.WaitForFinish))
	}
	if opts.Webhooks != "" {
		q.Set("webhooks", opts.Webhooks)
	}
	return q
}

// Call starts a run like Start and waits for it like
// [RunClient.WaitForFinish] (waitSecs 0: no limit). It returns the run as
// last seen, whatever its status.
func (a *ActorClient) Call(ctx context.Context, input []byte, opts *StartOptions, waitSecs int) (*Run, error) {
	run, err := a.Start(ctx, input, opts)
	if err != nil {
		return nil, err
	}
	return a.r.c.Run(run.ID).WaitForFinish(ctx, waitSecs)
}

// LastRun returns the client of the actor's most recently started run, of
// this status when status is not empty (/v2/actors/{id}/runs/last?status=).
// The status filter applies to every call made through the returned client
// and its sub-clients.
func (a *ActorClient) LastRun(status string) *RunClient {
	r := a.r.sub("runs", "last")
	if status != "" {
		r.query = url.Values{"status": {status}}
	}
	return &RunClient{r: r}
}

// Runs returns the client of the actor's runs.
func (a *ActorClient) Runs() *RunCollectionClient {
	return &RunCollectionClient{r: a.r.sub("runs")}
}

// Builds returns the client of the actor's builds.
func (a *ActorClient) Builds() *BuildCollectionClient {
	return &BuildCollectionClient{r: a.r.sub("builds")}
}

// BuildOptions are the optional parameters of [ActorClient.Build].
type BuildOptions struct {
	// Tag to give the build once it succeeds (default: the version's build
	// tag).
	Tag          string
	UseCache     *bool
	BetaPackages *bool
	// WaitForFinish makes the server hold the answer until the build
	// finishes or this many seconds (at most 60) pass.
	WaitForFinish int
	// TimeoutSecs is how long the build may take before it ends TIMED-OUT
	// (troupe's addition; default: the server's, 1800 s unless set).
	TimeoutSecs int
}

// Build starts a build of the actor version ("MAJOR.MINOR") and returns it.
func (a *ActorClient) Build(ctx context.Context, version string, opts *BuildOptions) (*Build, error) {
	if opts == nil {
		opts = &BuildOptions{}
	}
	q := url.Values{"version": {version}}
	if opts.Tag != "" {
		q.Set("tag", opts.Tag)
	}
	setBool(q, "useCache", opts.UseCache)
	setBool(q, "betaPackages", opts.BetaPackages)
	if opts.WaitForFinish > 0 {
		q.Set("waitForFinish", strconv.Itoa(opts.WaitForFinish))
	}
	if opts.TimeoutSecs > 0 {
		q.Set("timeout", strconv.Itoa(opts.TimeoutSecs))
	}
	return fetch[Build](ctx, a.r.sub("builds"), http.MethodPost, q, nil)
}

// Versions returns the client of the actor's versions.
func (a *ActorClient) Versions() *VersionCollectionClient {
	return &VersionCollectionClient{r: a.r.sub("versions")}
}

// Version returns the client of the actor's version with this number
// ("MAJOR.MINOR").
func (a *ActorClient) Version(number string) *VersionClient {
	return &VersionClient{r: a.r.sub("versions", number)}
}

// VersionClient manages one actor version.
type VersionClient struct{ r resource }

// Get returns the version, or nil and no error when there is no such
// version.
func (v *VersionClient) Get(ctx context.Context) (*Version, error) {
	return get[Version](ctx, v.r, nil)
}

// VersionUpdate holds the version fields [VersionClient.Update] changes;
// nil (or empty) fields are left as they are.
type VersionUpdate struct {
	SourceType  *string      `json:"sourceType,omitempty"`
	BuildTag    *string      `json:"buildTag,omitempty"`
	EnvVars     []EnvVar     `json:"envVars,omitempty"`
	SourceFiles []SourceFile `json:"sourceFiles,omitempty"`
	SourceDir   *string      `json:"sourceDir,omitempty"`
}

// Update changes the version and returns it.
func (v *VersionClient) Update(ctx context.Context, u *VersionUpdate) (*Version, error) {
	if u == nil {
		u = &VersionUpdate{}
	}
	return fetch[Version](ctx, v.r, http.MethodPut, nil, u)
}

// Delete deletes the version. A version that does not exist is not an
// error.
func (v *VersionClient) Delete(ctx context.Context) error {
	return remove(ctx, v.r)
}

// VersionCollectionClient lists and creates an actor's versions.
type VersionCollectionClient struct{ r resource }

// VersionList is the list of an actor's versions.
type VersionList = Page[*Version]

// List returns the actor's versions.
func (vc *VersionCollectionClient) List(ctx context.Context) (*VersionList, error) {
	return fetch[VersionList](ctx, vc.r, http.MethodGet, nil, nil)
}

// Create adds a version to the actor and returns it.
func (vc *VersionCollectionClient) Create(ctx context.Context, v *Version) (*Version, error) {
	return fetch[Version](ctx, vc.r, http.MethodPost, nil, v)
}

// ActorCollectionClient lists and creates actors. Get it with
// [Client.Actors].
type ActorCollectionClient struct{ r resource }

// Actors returns the client of the user's actors.
func (c *Client) Actors() *ActorCollectionClient {
	return &ActorCollectionClient{r: resource{c: c, path: "/actors"}}
}

// ActorCreate describes a new actor. Name is required.
type ActorCreate struct {
	Name              string             `json:"name"`
	Title             string             `json:"title,omitempty"`
	Description       string             `json:"description,omitempty"`
	IsPublic          bool               `json:"isPublic,omitempty"`
	Versions          []Version          `json:"versions,omitempty"`
	DefaultRunOptions *DefaultRunOptions `json:"defaultRunOptions,omitempty"`
	ExampleRunInput   *ExampleRunInput   `json:"exampleRunInput,omitempty"`
}

// Create creates an actor and returns it; actor-name-not-unique when the
// user already has an actor of that name.
func (ac *ActorCollectionClient) Create(ctx context.Context, a *ActorCreate) (*Actor, error) {
	return fetch[Actor](ctx, ac.r, http.MethodPost, nil, a)
}

// ActorListOptions filter and page the actor list.
type ActorListOptions struct {
	Offset int
	Limit  int
	Desc   bool
	// My keeps only the actors the user owns.
	My bool
}

// ActorList is a page of actors.
type ActorList = Page[*Actor]

// List returns a page of actors ordered by createdAt.
func (ac *ActorCollectionClient) List(ctx context.Context, opts *ActorListOptions) (*ActorList, error) {
	q := url.Values{}
	if opts != nil {
		q = (&ListOptions{Offset: opts.Offset, Limit: opts.Limit, Desc: opts.Desc}).values()
		if opts.My {
			q.Set("my", "1")
		}
	}
	return fetch[ActorList](ctx, ac.r, http.MethodGet, q, nil)
}
