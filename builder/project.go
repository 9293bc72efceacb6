package builder

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/actorproject"
)

// project is what a build reads from an Apify-style project folder: the
// project format (see package actorproject) and, for Node.js projects,
// package.json.
type project struct {
	docker          actorproject.Dockerfile
	inputSchema     json.RawMessage
	hasStartScript  bool
	hasDependencies bool
}

func readProject(dir string) (*project, error) {
	ap, err := actorproject.Read(dir)
	if err != nil {
		return nil, err
	}
	p := &project{docker: ap.Dockerfile, inputSchema: ap.InputSchema}
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
