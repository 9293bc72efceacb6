package troupe_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/troupehq/troupe"

// importRule forbids the packages matched by from to import, directly or
// through other packages, the packages matched by forbidden.
type importRule struct {
	why       string
	from      func(pkg string) bool
	forbidden func(pkg string) bool
}

// under matches a package of the module and the packages below it.
func under(dirs ...string) func(string) bool {
	return func(pkg string) bool {
		for _, d := range dirs {
			p := module
			if d != "" {
				p += "/" + d
			}
			if pkg == p || strings.HasPrefix(pkg, p+"/") {
				return true
			}
		}
		return false
	}
}

// is matches exactly the module's packages dirs ("" is the root).
func is(dirs ...string) func(string) bool {
	return func(pkg string) bool {
		for _, d := range dirs {
			if pkg == strings.TrimSuffix(module+"/"+d, "/") {
				return true
			}
		}
		return false
	}
}

// nonStandard matches packages outside the standard library.
func nonStandard(pkg string) bool {
	first, _, _ := strings.Cut(pkg, "/")
	return strings.Contains(first, ".")
}

var architecture = []importRule{
	{"the API changes runs through the store; it never reaches the controller or an executor",
		under("api"), under("controller", "executor")},
	{"the Go client stands alone: standard library only",
		under("client"), nonStandard},
	{"the domain package imports no adapter",
		is(""), under("sqlite", "postgres", "internal/sqlstore", "api", "controller", "executor", "builder", "events", "notify")},
}

// checkImports returns one message per package of graph (import path →
// direct imports) that breaks a rule, naming the import chain that does.
func checkImports(graph map[string][]string, rules []importRule) []string {
	var out []string
	pkgs := make([]string, 0, len(graph))
	for p := range graph {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	for _, r := range rules {
		for _, p := range pkgs {
			if !r.from(p) {
				continue
			}
			if chain := findImport(graph, p, r.forbidden); chain != nil {
				out = append(out, short(p)+" imports "+short(chain[len(chain)-1])+" (via "+
					strings.Join(mapShort(chain), " → ")+"): "+r.why)
			}
		}
	}
	return out
}

// findImport returns the shortest import chain from pkg to a package that
// forbidden matches, or nil.
func findImport(graph map[string][]string, pkg string, forbidden func(string) bool) []string {
	prev := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range graph[p] {
			if _, seen := prev[imp]; seen {
				continue
			}
			prev[imp] = p
			if forbidden(imp) {
				chain := []string{imp}
				for q := p; q != ""; q = prev[q] {
					chain = append([]string{q}, chain...)
				}
				return chain
			}
			queue = append(queue, imp)
		}
	}
	return nil
}

func short(pkg string) string {
	if pkg == module {
		return "troupe (root)"
	}
	return strings.TrimPrefix(pkg, module+"/")
}

func mapShort(pkgs []string) []string {
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		out[i] = short(p)
	}
	return out
}

// moduleGraph lists the module's packages and everything they import
// (tests left out) with `go list -deps`.
func moduleGraph(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-e", "-json=ImportPath,Imports", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	graph := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		graph[p.ImportPath] = p.Imports
	}
	if len(graph[module+"/api"]) == 0 || len(graph[module+"/client"]) == 0 {
		t.Fatalf("go list found no imports of api or client: %d packages", len(graph))
	}
	return graph
}

// TestArchitecture keeps the layers apart: see architecture.
func TestArchitecture(t *testing.T) {
	t.Parallel()
	for _, msg := range checkImports(moduleGraph(t), architecture) {
		t.Error(msg)
	}
}

// TestCheckImports shows that a break of a rule is found and named.
func TestCheckImports(t *testing.T) {
	t.Parallel()
	m := func(p string) string { return module + "/" + p }
	graph := map[string][]string{
		module:                 {"fmt", m("internal/jsonscan")},
		m("internal/jsonscan"): {"bytes"},
		m("api"):               {"net/http", m("api/helper"), module},
		m("api/helper"):        {m("internal/wake")},
		m("internal/wake"):     {m("executor/process")},
		m("executor/process"):  {"os/exec"},
		m("client"):            {"net/http", "github.com/some/dep"},
		m("controller"):        {m("api")},
	}
	got := checkImports(graph, architecture)
	want := []string{
		"api imports executor/process (via api → api/helper → internal/wake → executor/process): " + architecture[0].why,
		"api/helper imports executor/process (via api/helper → internal/wake → executor/process): " + architecture[0].why,
		"client imports github.com/some/dep (via client → github.com/some/dep): " + architecture[1].why,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	graph[module] = append(graph[module], m("sqlite"))
	got = checkImports(graph, architecture)
	if last := got[len(got)-1]; last != "troupe (root) imports sqlite (via troupe (root) → sqlite): "+architecture[2].why {
		t.Errorf("root importing sqlite: %q", last)
	}
}
