package console

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/troupehq/troupe"
)

type actorsData struct {
	Actors []*troupe.Actor
	Total  int
}

func (c *Console) actorsPage(w http.ResponseWriter, r *http.Request) error {
	list, total, err := c.store.ListActors(r.Context(), troupe.ListOptions{Limit: 1000})
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "actors", "Actors", "actors", actorsData{Actors: list, Total: total})
}

type versionView struct {
	troupe.Version
	// Files is the version's SOURCE_FILES as indented JSON, for editing.
	Files string
}

type actorData struct {
	Actor    *troupe.Actor
	Versions []versionView
	Builds   []*troupe.Build
	Tags     []string
	// NextVersion is a version number the new-version form proposes.
	NextVersion string
	Files       string
}

// actorPage shows an actor, its versions (the source files of the last one
// editable as a new version) and its builds, newest first.
func (c *Console) actorPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	a, err := c.actor(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	builds, _, err := c.store.ListBuilds(ctx, a.ID, troupe.ListOptions{Limit: 100, Desc: true})
	if err != nil {
		return err
	}
	d := actorData{Actor: a, Builds: builds}
	for _, v := range a.Versions {
		files, _ := json.MarshalIndent(v.SourceFiles, "", "  ")
		d.Versions = append(d.Versions, versionView{Version: v, Files: string(files)})
	}
	for t := range a.TaggedBuilds {
		d.Tags = append(d.Tags, t)
	}
	sort.Strings(d.Tags)
	if n := len(d.Versions); n > 0 {
		d.Files = d.Versions[n-1].Files
		d.NextVersion = nextVersion(d.Versions[n-1].VersionNumber)
	} else {
		d.Files, d.NextVersion = "[]", "0.1"
	}
	return c.render(w, r, http.StatusOK, "actor", a.Name, "actors", d)
}

// nextVersion proposes the version after v (0.1 → 0.2).
func nextVersion(v string) string {
	major, minor, ok := strings.Cut(v, ".")
	if !ok {
		return v
	}
	n := 0
	for _, ch := range minor {
		if ch < '0' || ch > '9' {
			return v
		}
		n = n*10 + int(ch-'0')
	}
	return major + "." + strconv.Itoa(n+1)
}

// inputField is one top-level property of an input schema, as the start
// form shows it.
type inputField struct {
	Name        string
	Title       string
	Description string
	// Type is the JSON type: string, integer, number, boolean, array,
	// object.
	Type     string
	Editor   string
	Required bool
	Enum     []string
	// Default is the default value as the form field holds it (JSON for
	// arrays and objects).
	Default    string
	HasDefault bool
	Checked    bool
	Min, Max   *float64
}

type startData struct {
	Actor     *troupe.Actor
	Fields    []inputField
	SchemaErr string
	Example   string
	Memory    int
	Timeout   int
	Build     string
	Memories  []int
}

// startPage shows the form that starts a run of an actor: one field per
// property of the input schema of its default build, or raw JSON input,
// plus memory, timeout and build.
func (c *Console) startPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	a, err := c.actor(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	d := startData{Actor: a, Memory: a.DefaultRunOptions.MemoryMbytes, Timeout: a.DefaultRunOptions.TimeoutSecs,
		Build: a.DefaultRunOptions.Build, Memories: []int{128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768}}
	if d.Build == "" {
		d.Build = "latest"
	}
	if tb := a.TaggedBuilds[d.Build]; tb != nil {
		if b, err := c.store.GetBuild(ctx, tb.BuildID); err == nil && len(b.InputSchema) > 0 {
			d.Fields, err = schemaFields(b.InputSchema)
			if err != nil {
				d.SchemaErr = "The input schema of build " + b.BuildNumber + " cannot be read: " + err.Error()
			}
		}
	}
	example := map[string]any{}
	for _, f := range d.Fields {
		if f.HasDefault {
			var v any
			if json.Unmarshal([]byte(f.rawDefault()), &v) == nil {
				example[f.Name] = v
			}
		}
	}
	ex, _ := json.MarshalIndent(example, "", "  ")
	d.Example = string(ex)
	return c.render(w, r, http.StatusOK, "start", "Start "+a.Name, "actors", d)
}

// rawDefault returns the field's default as JSON.
func (f inputField) rawDefault() string {
	switch f.Type {
	case "string":
		b, _ := json.Marshal(f.Default)
		return string(b)
	case "boolean":
		if f.Checked {
			return "true"
		}
		return "false"
	}
	return f.Default
}

// schemaFields reads the top-level properties of an input schema, in the
// order the schema lists them.
func schemaFields(schema json.RawMessage) ([]inputField, error) {
	var s struct {
		Properties json.RawMessage `json:"properties"`
		Required   []string        `json:"required"`
	}
	if err := json.Unmarshal(schema, &s); err != nil {
		return nil, err
	}
	if len(s.Properties) == 0 {
		return nil, nil
	}
	required := map[string]bool{}
	for _, n := range s.Required {
		required[n] = true
	}
	dec := json.NewDecoder(strings.NewReader(string(s.Properties)))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var out []inputField
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string)
		var p struct {
			Title       string          `json:"title"`
			Description string          `json:"description"`
			Type        string          `json:"type"`
			Editor      string          `json:"editor"`
			Enum        []any           `json:"enum"`
			Default     json.RawMessage `json:"default"`
			Prefill     json.RawMessage `json:"prefill"`
			Minimum     *float64        `json:"minimum"`
			Maximum     *float64        `json:"maximum"`
		}
		if err := dec.Decode(&p); err != nil {
			return nil, err
		}
		f := inputField{Name: name, Title: p.Title, Description: p.Description, Type: p.Type, Editor: p.Editor,
			Required: required[name], Min: p.Minimum, Max: p.Maximum}
		if f.Title == "" {
			f.Title = name
		}
		if f.Type == "" {
			f.Type = "string"
		}
		for _, e := range p.Enum {
			if s, ok := e.(string); ok {
				f.Enum = append(f.Enum, s)
			}
		}
		def := p.Default
		if len(def) == 0 {
			def = p.Prefill
		}
		if len(def) > 0 && string(def) != "null" {
			f.HasDefault = true
			switch f.Type {
			case "string":
				var s string
				if json.Unmarshal(def, &s) == nil {
					f.Default = s
				}
			case "boolean":
				f.Checked = string(def) == "true"
			case "array", "object":
				var v any
				if json.Unmarshal(def, &v) == nil {
					b, _ := json.MarshalIndent(v, "", "  ")
					f.Default = string(b)
				}
			default:
				f.Default = string(def)
			}
		}
		out = append(out, f)
	}
	return out, nil
}

type buildData struct {
	Build *troupe.Build
	Actor *troupe.Actor
	JSON  string
}

// buildPage shows a build, with its log live while it builds.
func (c *Console) buildPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	b, err := c.store.GetBuild(ctx, r.PathValue("id"))
	if troupe.IsNotFound(err) {
		return troupe.Errorf(troupe.ErrRecordNotFound, "There is no build %s.", r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	d := buildData{Build: b}
	if a, err := c.store.GetActor(ctx, b.ActID); err == nil {
		d.Actor = a
	}
	js, _ := json.Marshal(b)
	d.JSON = string(js)
	return c.render(w, r, http.StatusOK, "build", "Build "+b.BuildNumber, "actors", d)
}
