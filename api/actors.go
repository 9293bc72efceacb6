package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/troupehq/troupe"
)

// actorByRef finds an actor by id, "username~name" or "~name" (the token
// owner's actor). record-not-found.
func (s *Server) actorByRef(ctx context.Context, ref string) (*troupe.Actor, error) {
	ref = strings.Replace(ref, "/", "~", 1)
	if user, name, ok := strings.Cut(ref, "~"); ok {
		if user == "" {
			user = s.cfg.Username
		}
		a, err := s.store.GetActorByName(ctx, user, name)
		if troupe.IsNotFound(err) {
			return nil, notFound("Actor", ref)
		}
		return a, err
	}
	a, err := s.store.GetActor(ctx, ref)
	if troupe.IsNotFound(err) {
		return nil, notFound("Actor", ref)
	}
	return a, err
}

// pathActor is the actor named by the request's {actorId}.
func (s *Server) pathActor(r *http.Request) (*troupe.Actor, error) {
	return s.actorByRef(r.Context(), r.PathValue("actorId"))
}

// actorView is an actor as the API shows it: no nil collections, secret
// environment variables without their values.
func actorView(a *troupe.Actor) *troupe.Actor {
	v := *a
	v.ActorPermissionLevel = a.PermissionLevel()
	if v.TaggedBuilds == nil {
		v.TaggedBuilds = map[string]*troupe.TaggedBuild{}
	}
	v.Versions = make([]troupe.Version, len(a.Versions))
	for i, ver := range a.Versions {
		v.Versions[i] = versionView(ver)
	}
	return &v
}

// actorShort is an item of the actor list.
type actorShort struct {
	ID         string            `json:"id"`
	UserID     string            `json:"userId"`
	Name       string            `json:"name"`
	Username   string            `json:"username"`
	Title      string            `json:"title,omitempty"`
	CreatedAt  time.Time         `json:"createdAt"`
	ModifiedAt time.Time         `json:"modifiedAt"`
	Stats      troupe.ActorStats `json:"stats"`
}

func (s *Server) listActors(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	o, err := q.listOptions()
	if err != nil {
		return err
	}
	if _, err := q.optBool("my"); err != nil {
		return err
	}
	if sb := q.str("sortBy"); sb != "" && sb != "createdAt" && sb != "stats.lastRunStartedAt" {
		return troupe.Errorf(troupe.ErrInvalidParameter, "Parameter 'sortBy' must be createdAt or stats.lastRunStartedAt.")
	}
	actors, total, err := s.store.ListActors(r.Context(), o)
	if err != nil {
		return err
	}
	items := make([]actorShort, len(actors))
	for i, a := range actors {
		items[i] = actorShort{ID: a.ID, UserID: a.UserID, Name: a.Name, Username: a.Username, Title: a.Title,
			CreatedAt: a.CreatedAt, ModifiedAt: a.ModifiedAt, Stats: a.Stats}
	}
	writeData(w, http.StatusOK, newPage(o, total, items))
	return nil
}

// actorFields are the fields a client may set on create and update. Absent
// fields keep their value.
type actorFields struct {
	Name              *string                    `json:"name"`
	Title             *string                    `json:"title"`
	Description       *string                    `json:"description"`
	IsPublic          *bool                      `json:"isPublic"`
	Versions          *[]troupe.Version          `json:"versions"`
	DefaultRunOptions json.RawMessage            `json:"defaultRunOptions"`
	ExampleRunInput   *troupe.ExampleRunInput    `json:"exampleRunInput"`
	RestartsForbidden *bool                      `json:"restartsForbidden"`
	Image             *string                    `json:"image"`
	PermissionLevel   *string                    `json:"actorPermissionLevel"`
	TaggedBuilds      map[string]*taggedBuildRef `json:"taggedBuilds"`
}

// taggedBuildRef points a tag at a build; a null one removes the tag.
type taggedBuildRef struct {
	BuildID string `json:"buildId"`
}

// apply validates the fields and sets them on a. Tagged builds are resolved
// by the caller (they need the store).
func (f *actorFields) apply(a *troupe.Actor, c caller) error {
	if f.Name != nil {
		if !validName(*f.Name) {
			return troupe.Errorf(troupe.ErrInvalidValue, "Actor name %q is not valid: use 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit.", *f.Name)
		}
		a.Name = *f.Name
	}
	if f.Title != nil {
		a.Title = *f.Title
	}
	if f.Description != nil {
		a.Description = *f.Description
	}
	if f.IsPublic != nil {
		a.IsPublic = *f.IsPublic
	}
	if f.RestartsForbidden != nil {
		a.RestartsForbidden = *f.RestartsForbidden
	}
	if f.Image != nil {
		if !validImage(*f.Image) {
			return troupe.Errorf(troupe.ErrInvalidValue, "Image %q is not valid: use an OCI image reference such as registry.example/team/node:20 (at most %d characters), or an empty string for the Dockerfile's FROM.", *f.Image, maxImageLen)
		}
		a.Image = *f.Image
	}
	if f.ExampleRunInput != nil {
		a.ExampleRunInput = f.ExampleRunInput
	}
	if f.PermissionLevel != nil {
		if !troupe.ValidPermissionLevel(*f.PermissionLevel) {
			return troupe.Errorf(troupe.ErrInvalidValue, "Field actorPermissionLevel must be LIMITED_PERMISSIONS or FULL_PERMISSIONS.")
		}
		a.ActorPermissionLevel = *f.PermissionLevel
	}
	if len(f.DefaultRunOptions) > 0 && string(f.DefaultRunOptions) != "null" {
		o := a.DefaultRunOptions
		if err := json.Unmarshal(f.DefaultRunOptions, &o); err != nil {
			return troupe.Errorf(troupe.ErrInvalidValue, "Field defaultRunOptions is not valid: %v.", err)
		}
		if o.MemoryMbytes != 0 {
			if err := checkMemory("defaultRunOptions.memoryMbytes", o.MemoryMbytes); err != nil {
				return err
			}
		}
		if o.TimeoutSecs < 0 {
			return troupe.Errorf(troupe.ErrInvalidValue, "Field defaultRunOptions.timeoutSecs must not be negative.")
		}
		if o.MaxItems != nil && *o.MaxItems < 1 {
			return troupe.Errorf(troupe.ErrInvalidValue, "Field defaultRunOptions.maxItems must be at least 1.")
		}
		if f := o.ForcePermissionLevel; f != nil && !troupe.ValidPermissionLevel(*f) {
			return troupe.Errorf(troupe.ErrInvalidValue, "Field defaultRunOptions.forcePermissionLevel must be LIMITED_PERMISSIONS or FULL_PERMISSIONS.")
		}
		a.DefaultRunOptions = o
	}
	if f.Versions != nil {
		seen := map[string]bool{}
		vs := make([]troupe.Version, len(*f.Versions))
		for i, v := range *f.Versions {
			if err := checkVersion(&v, c); err != nil {
				return err
			}
			if seen[v.VersionNumber] {
				return troupe.Errorf(troupe.ErrInvalidValue, "Version %s is given twice.", v.VersionNumber)
			}
			seen[v.VersionNumber] = true
			vs[i] = v
		}
		a.Versions = vs
	}
	return nil
}

// validName reports whether name can name an actor or a storage.
func validName(name string) bool {
	if name == "" || len(name) > 63 {
		return false
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '-' || c == '_' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// resolveTags resolves tag→build references to tagged builds of actor a (a
// nil value removes the tag). record-not-found when a build is not the
// actor's.
func (s *Server) resolveTags(ctx context.Context, a *troupe.Actor, refs map[string]*taggedBuildRef) (map[string]*troupe.TaggedBuild, error) {
	out := make(map[string]*troupe.TaggedBuild, len(refs))
	for tag, ref := range refs {
		if ref == nil {
			out[tag] = nil
			continue
		}
		b, err := s.store.GetBuild(ctx, ref.BuildID)
		if err == nil && b.ActID != a.ID {
			err = notFound("Build", ref.BuildID)
		}
		if troupe.IsNotFound(err) {
			return nil, notFound("Build", ref.BuildID)
		}
		if err != nil {
			return nil, err
		}
		out[tag] = &troupe.TaggedBuild{BuildID: b.ID, BuildNumber: b.BuildNumber, FinishedAt: b.FinishedAt}
	}
	return out, nil
}

func (s *Server) createActor(w http.ResponseWriter, r *http.Request) error {
	var f actorFields
	if err := decodeJSON(r, &f); err != nil {
		return err
	}
	if f.Name == nil || *f.Name == "" {
		return troupe.Errorf(troupe.ErrParameterRequired, "Field 'name' is required.")
	}
	now := s.now()
	a := &troupe.Actor{
		ID: troupe.NewID(), UserID: s.cfg.UserID, Username: s.cfg.Username,
		CreatedAt: now, ModifiedAt: now,
		Versions:     []troupe.Version{},
		TaggedBuilds: map[string]*troupe.TaggedBuild{},
		DefaultRunOptions: troupe.DefaultRunOptions{
			Build: "latest", TimeoutSecs: s.cfg.DefaultTimeoutSecs, MemoryMbytes: s.cfg.DefaultMemoryMbytes,
		},
	}
	if err := f.apply(a, callerFrom(r.Context())); err != nil {
		return err
	}
	if a.DefaultRunOptions.Build == "" {
		a.DefaultRunOptions.Build = "latest"
	}
	if len(f.TaggedBuilds) > 0 {
		return troupe.Errorf(troupe.ErrInvalidValue, "A new actor has no builds to tag.")
	}
	if err := s.store.CreateActor(r.Context(), a); err != nil {
		return err
	}
	w.Header().Set("Location", absURL(r, "/v2/actors/"+a.ID))
	writeData(w, http.StatusCreated, actorView(a))
	return nil
}

// getActor answers the actor; a limited run gets it without its versions'
// source files and environment variables.
func (s *Server) getActor(w http.ResponseWriter, r *http.Request) error {
	a, err := s.pathActor(r)
	if err != nil {
		return err
	}
	v := actorView(a)
	if callerFrom(r.Context()).limited() {
		for i := range v.Versions {
			v.Versions[i].SourceFiles, v.Versions[i].EnvVars = nil, []troupe.EnvVar{}
		}
	}
	writeData(w, http.StatusOK, v)
	return nil
}

func (s *Server) updateActor(w http.ResponseWriter, r *http.Request) error {
	a, err := s.pathActor(r)
	if err != nil {
		return err
	}
	var f actorFields
	if err := decodeJSON(r, &f); err != nil {
		return err
	}
	// Resolve the tagged builds before the transaction, which must not
	// call the store.
	tags, err := s.resolveTags(r.Context(), a, f.TaggedBuilds)
	if err != nil {
		return err
	}
	now := s.now()
	a, err = s.store.UpdateActor(r.Context(), a.ID, func(x *troupe.Actor) error {
		if err := f.apply(x, callerFrom(r.Context())); err != nil {
			return err
		}
		if x.TaggedBuilds == nil {
			x.TaggedBuilds = map[string]*troupe.TaggedBuild{}
		}
		for tag, tb := range tags {
			if tb == nil {
				delete(x.TaggedBuilds, tag)
			} else {
				x.TaggedBuilds[tag] = tb
			}
		}
		x.ModifiedAt = now
		return nil
	})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, actorView(a))
	return nil
}

func (s *Server) deleteActor(w http.ResponseWriter, r *http.Request) error {
	a, err := s.pathActor(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteActor(r.Context(), a.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// absURL returns the absolute URL of path on the server the request came
// to.
func absURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	return scheme + "://" + r.Host + path
}

// maxImageLen bounds an actor's image reference (Docker's own limit on a
// whole reference is 255 characters for the name plus tag and digest).
const maxImageLen = 512

// validImage reports whether ref may be stored as an actor's image: empty
// (the Dockerfile's FROM), or a reference made of the characters OCI names,
// tags and digests use, not starting with '-' (it becomes a container's
// image, never a command line, but an option-like name is never right).
func validImage(ref string) bool {
	if ref == "" {
		return true
	}
	if len(ref) > maxImageLen || ref[0] == '-' || ref[0] == '/' || ref[0] == ':' || ref[0] == '@' {
		return false
	}
	for _, r := range ref {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == '-' || r == '/' || r == ':' || r == '@'
		if !ok {
			return false
		}
	}
	return true
}
