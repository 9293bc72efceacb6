package builder

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/troupehq/troupe"
)

// project is what a build reads from an Apify-style project folder.
type project struct {
	docker          dockerfile
	inputSchema     json.RawMessage
	hasStartScript  bool
	hasDependencies bool
}

// actorJSON holds the fields of .actor/actor.json that matter to a build.
type actorJSON struct {
	Name       string          `json:"name"`
	Version    string          `json:"version"`
	Dockerfile string          `json:"dockerfile"`
	Input      json.RawMessage `json:"input"`
}

func readProject(dir string) (*project, error) {
	p := &project{}
	meta := filepath.Join(dir, ".actor")
	var aj actorJSON
	if data, err := os.ReadFile(filepath.Join(meta, "actor.json")); err == nil {
		if err := json.Unmarshal(data, &aj); err != nil {
			return nil, troupe.Errorf(troupe.ErrInvalidInput, ".actor/actor.json is not valid JSON: %v", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}

	// The Dockerfile: where actor.json says (relative to .actor), else
	// .actor/Dockerfile, else ./Dockerfile.
	candidates := []string{filepath.Join(meta, "Dockerfile"), filepath.Join(dir, "Dockerfile")}
	if aj.Dockerfile != "" {
		p, err := inside(dir, filepath.Join(meta, aj.Dockerfile))
		if err != nil {
			return nil, err
		}
		candidates = []string{p}
	}
	for _, c := range candidates {
		if data, err := os.ReadFile(c); err == nil {
			p.docker = parseDockerfile(string(data))
			break
		}
	}

	// The input schema: inline in actor.json, a path relative to .actor, or
	// .actor/input_schema.json, or INPUT_SCHEMA.json.
	var schema []byte
	switch {
	case len(aj.Input) > 0 && aj.Input[0] == '{':
		schema = aj.Input
	case len(aj.Input) > 0 && aj.Input[0] == '"':
		var rel string
		_ = json.Unmarshal(aj.Input, &rel)
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
		p.inputSchema = json.RawMessage(schema)
	}

	if data, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil {
		var pkg struct {
			Scripts      map[string]string `json:"scripts"`
			Dependencies map[string]string `json:"dependencies"`
		}
		if err := json.Unmarshal(data, &pkg); err != nil {
			return nil, troupe.Errorf(troupe.ErrInvalidInput, "package.json is not valid JSON: %v", err)
		}
		p.hasStartScript = pkg.Scripts["start"] != ""
		_, haveModules := os.Stat(filepath.Join(dir, "node_modules"))
		p.hasDependencies = len(pkg.Dependencies) > 0 && haveModules != nil
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
