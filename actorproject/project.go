// Package actorproject knows the layout of an Apify actor project folder:
// .actor/actor.json, where the Dockerfile and the input schema are, how the
// Dockerfile's start command and environment are read, and which files the
// ignore files (.gitignore, .dockerignore, .actorignore) leave out. Both
// `troupe push` and the builder read projects through it.
package actorproject

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/troupehq/troupe"
)

// MetaDir is the folder of a project's Apify metadata.
const MetaDir = ".actor"

// ActorJSON holds the fields of .actor/actor.json troupe reads.
type ActorJSON struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Version     string `json:"version"`
	BuildTag    string `json:"buildTag"`
	// Dockerfile is a path relative to .actor.
	Dockerfile string `json:"dockerfile"`
	// Input is the input schema inline (an object) or a path relative to
	// .actor (a string).
	Input json.RawMessage `json:"input"`
}

// ReadActorJSON reads dir/.actor/actor.json. The error wraps
// fs.ErrNotExist when the project has none; it is invalid-input when the
// file is not valid JSON.
func ReadActorJSON(dir string) (*ActorJSON, error) {
	data, err := os.ReadFile(filepath.Join(dir, MetaDir, "actor.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s/actor.json: %w", dir, MetaDir, fs.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	var aj ActorJSON
	if err := json.Unmarshal(data, &aj); err != nil {
		return nil, troupe.Errorf(troupe.ErrInvalidInput, ".actor/actor.json is not valid JSON: %v", err)
	}
	return &aj, nil
}

// Project is what a build takes from a project folder.
type Project struct {
	// ActorJSON is .actor/actor.json; the zero value when there is none.
	ActorJSON ActorJSON
	// Dockerfile is the parsed Dockerfile; the zero value when there is
	// none.
	Dockerfile Dockerfile
	// InputSchema is the input schema (a JSON object), nil when there is
	// none.
	InputSchema json.RawMessage
}

// Read reads the project in dir. The Dockerfile is where actor.json's
// dockerfile says (relative to .actor), else .actor/Dockerfile, else
// ./Dockerfile. The input schema is actor.json's input (inline, or a path
// relative to .actor), else .actor/input_schema.json, else
// INPUT_SCHEMA.json. invalid-input when actor.json or the input schema is
// not valid JSON, a path in actor.json leads outside dir, or the input
// schema actor.json names cannot be read.
func Read(dir string) (*Project, error) {
	p := &Project{}
	meta := filepath.Join(dir, MetaDir)
	aj, err := ReadActorJSON(dir)
	switch {
	case err == nil:
		p.ActorJSON = *aj
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}

	candidates := []string{filepath.Join(meta, "Dockerfile"), filepath.Join(dir, "Dockerfile")}
	if p.ActorJSON.Dockerfile != "" {
		path, err := inside(dir, filepath.Join(meta, p.ActorJSON.Dockerfile))
		if err != nil {
			return nil, err
		}
		candidates = []string{path}
	}
	for _, c := range candidates {
		if data, err := os.ReadFile(c); err == nil {
			p.Dockerfile = ParseDockerfile(string(data))
			break
		}
	}

	var schema []byte
	in := p.ActorJSON.Input
	switch {
	case len(in) > 0 && in[0] == '{':
		schema = in
	case len(in) > 0 && in[0] == '"':
		var rel string
		_ = json.Unmarshal(in, &rel)
		path, err := inside(dir, filepath.Join(meta, rel))
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, troupe.Errorf(troupe.ErrInvalidInput, "The input schema %q named in actor.json cannot be read.", rel)
		}
		schema = data
	default:
		for _, c := range []string{filepath.Join(meta, "input_schema.json"), filepath.Join(dir, "INPUT_SCHEMA.json")} {
			if data, err := os.ReadFile(c); err == nil {
				schema = data
				break
			}
		}
	}
	if schema != nil {
		var obj map[string]any
		if err := json.Unmarshal(schema, &obj); err != nil {
			return nil, troupe.Errorf(troupe.ErrInvalidInput, "The input schema is not a valid JSON object: %v", err)
		}
		p.InputSchema = json.RawMessage(schema)
	}
	return p, nil
}

// inside returns p when it lies inside dir, and an error otherwise.
func inside(dir, p string) (string, error) {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", troupe.Errorf(troupe.ErrInvalidInput, "Path %q in actor.json points outside the project.", p)
	}
	return p, nil
}
