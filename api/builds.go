package api

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/troupehq/troupe"
)

// getBuild returns a build; record-not-found names it.
func (s *Server) getBuild(ctx context.Context, id string) (*troupe.Build, error) {
	b, err := s.store.GetBuild(ctx, id)
	if troupe.IsNotFound(err) {
		return nil, notFound("Build", id)
	}
	return b, err
}

// buildShort is an item of a build list.
type buildShort struct {
	ID           string         `json:"id"`
	ActID        string         `json:"actId"`
	Status       troupe.Status  `json:"status"`
	StartedAt    time.Time      `json:"startedAt"`
	FinishedAt   *time.Time     `json:"finishedAt"`
	BuildNumber  string         `json:"buildNumber"`
	ActorVersion string         `json:"actVersion"`
	Meta         troupe.RunMeta `json:"meta"`
	UsageTotal   float64        `json:"usageTotalUsd"`
}

func buildView(b *troupe.Build) *buildJSON {
	v := *b
	if v.Usage == nil {
		v.Usage = map[string]any{}
	}
	out := &buildJSON{Build: &v, ActVersion: buildVersion{VersionNumber: v.ActorVersion, BuildTag: v.Tag}}
	if len(v.InputSchema) > 0 {
		s := string(v.InputSchema)
		out.InputSchema = &s
	}
	return out
}

// buildJSON is a build as the API answers it: the stored build, with the
// version it was built from as an object and its input schema as a JSON
// string (as the API defines both).
type buildJSON struct {
	*troupe.Build
	ActVersion  buildVersion `json:"actVersion"`
	InputSchema *string      `json:"inputSchema,omitempty"`
}

// buildVersion is what a build tells of the actor version it was built
// from.
type buildVersion struct {
	VersionNumber string `json:"versionNumber"`
	BuildTag      string `json:"buildTag,omitempty"`
}

// taggedOrNumbered finds an actor's build by tag or build number. ok is
// false when neither names one.
func (s *Server) taggedOrNumbered(ctx context.Context, a *troupe.Actor, ref string) (*troupe.Build, bool, error) {
	var b *troupe.Build
	var err error
	if tb := a.TaggedBuilds[ref]; tb != nil {
		b, err = s.store.GetBuild(ctx, tb.BuildID)
	} else {
		b, err = s.store.GetBuildByNumber(ctx, a.ID, ref)
	}
	if troupe.IsNotFound(err) {
		return nil, false, nil
	}
	return b, err == nil, err
}

// runBuild resolves the build a run of actor a uses: ref is a tag or a
// build number, by default the actor's default build ("latest"). The build
// must have succeeded. unknown-build-tag.
func (s *Server) runBuild(ctx context.Context, a *troupe.Actor, ref string) (*troupe.Build, error) {
	return troupe.RunBuild(ctx, s.store, a, ref)
}

func (s *Server) createBuild(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	number := q.str("version")
	if number == "" {
		return troupe.Errorf(troupe.ErrParameterRequired, "Parameter 'version' is required.")
	}
	useCache, err := q.bool("useCache", false)
	if err != nil {
		return err
	}
	beta, err := q.bool("betaPackages", false)
	if err != nil {
		return err
	}
	wait, err := q.wait("waitForFinish", s.cfg.MaxWait)
	if err != nil {
		return err
	}
	// timeout is troupe's addition: the build's timeout in seconds
	// (default: the server's).
	timeout, err := q.int("timeout", 1, 0)
	if err != nil {
		return err
	}
	if timeout > maxBuildTimeoutSecs {
		return invalidParam("timeout", "at most "+strconv.Itoa(maxBuildTimeoutSecs)+" seconds")
	}
	a, err := s.pathActor(r)
	if err != nil {
		return err
	}
	i := findVersion(a, number)
	if i < 0 {
		return notFound("Version", number)
	}
	v := a.Versions[i]
	tag := q.str("tag")
	if tag == "" {
		tag = v.BuildTag
	}
	if tag == "" {
		tag = "latest"
	}
	now := s.now()
	b := &troupe.Build{
		ID: troupe.NewID(), ActID: a.ID, UserID: s.cfg.UserID,
		StartedAt: now, Status: troupe.StatusReady,
		Meta:         troupe.RunMeta{Origin: troupe.OriginAPI, ClientIP: clientIP(r), UserAgent: r.UserAgent()},
		Options:      troupe.BuildOptions{UseCache: useCache, BetaPackages: beta, MemoryMbytes: 4096, DiskMbytes: 8192, TimeoutSecs: timeout},
		Usage:        map[string]any{},
		ActorVersion: v.VersionNumber,
		Tag:          tag,
		Env:          append([]troupe.EnvVar{}, v.EnvVars...),
	}
	if err := s.store.CreateBuild(r.Context(), b); err != nil {
		return err
	}
	if s.cfg.Builder != nil {
		s.cfg.Builder.Enqueue(b.ID)
	}
	if wait > 0 {
		if b, err = s.waitBuild(r.Context(), b.ID, wait); err != nil {
			return err
		}
	}
	w.Header().Set("Location", absURL(r, "/v2/actor-builds/"+b.ID))
	writeData(w, http.StatusCreated, buildView(b))
	return nil
}

func (s *Server) listBuilds(w http.ResponseWriter, r *http.Request) error {
	o, err := queryOf(r).listOptions()
	if err != nil {
		return err
	}
	a, err := s.pathActor(r)
	if err != nil {
		return err
	}
	builds, total, err := s.store.ListBuilds(r.Context(), a.ID, o)
	if err != nil {
		return err
	}
	items := make([]buildShort, len(builds))
	for i, b := range builds {
		items[i] = buildShort{ID: b.ID, ActID: b.ActID, Status: b.Status, StartedAt: b.StartedAt, FinishedAt: b.FinishedAt,
			BuildNumber: b.BuildNumber, ActorVersion: b.ActorVersion, Meta: b.Meta}
	}
	writeData(w, http.StatusOK, newPage(o, total, items))
	return nil
}

// getDefaultBuild answers the build the actor's default run options name.
func (s *Server) getDefaultBuild(w http.ResponseWriter, r *http.Request) error {
	wait, err := queryOf(r).wait("waitForFinish", s.cfg.MaxWait)
	if err != nil {
		return err
	}
	a, err := s.pathActor(r)
	if err != nil {
		return err
	}
	ref := troupe.BuildRef(a, "")
	b, ok, err := s.taggedOrNumbered(r.Context(), a, ref)
	if err != nil {
		return err
	}
	if !ok {
		return troupe.Errorf(troupe.ErrRecordNotFound, "Actor %s has no default build (%q).", a.ID, ref)
	}
	if b, err = s.waitBuild(r.Context(), b.ID, wait); err != nil {
		return err
	}
	writeData(w, http.StatusOK, buildView(b))
	return nil
}

func (s *Server) getBuildHandler(w http.ResponseWriter, r *http.Request) error {
	wait, err := queryOf(r).wait("waitForFinish", s.cfg.MaxWait)
	if err != nil {
		return err
	}
	b, err := s.waitBuild(r.Context(), r.PathValue("buildId"), wait)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, buildView(b))
	return nil
}

// clientIP is the address the request came from, without the port.
func clientIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}
