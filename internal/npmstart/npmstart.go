// Package npmstart runs a package.json script the way `npm start --silent`
// or `npm run --silent NAME` would, without starting npm first.
//
// Apify's Node.js templates end their Dockerfile with `CMD npm start
// --silent`. npm then costs a Node.js start-up of its own (0.3–0.7 s on a
// loaded machine) before it runs the script. What npm does for such a
// command is fixed (see @npmcli/run-script): it runs `sh -c SCRIPT` in the
// package's folder, with node_modules/.bin of that folder and of each of its
// parents, then npm's node-gyp-bin folder, put before PATH, and with these
// variables added to the environment it was given:
//
//   - npm_package_json, npm_lifecycle_event, npm_lifecycle_script and the
//     package's npm_package_name, _version, _config_*, _engines_* and
//     _bin_* (flattened as npm flattens them);
//   - npm's own: npm_command, npm_execpath, npm_node_execpath, NODE,
//     INIT_CWD, COLOR, EDITOR and npm_config_* for each setting that
//     differs from npm's default (loglevel=silent for --silent, the cache
//     and userconfig below HOME, the user agent…).
//
// A Rewriter learns npm's own variables once per npm command line and
// environment by running npm itself on a probe package whose script prints
// its environment, in a folder that is also HOME (as a run's working folder
// is); a run then gets them with that folder replaced by its own. It
// rewrites only commands where this is exactly what npm would do: the
// script exists, there is no pre or post script (npm would run them too),
// no .npmrc in the folder, no workspaces, no npm settings in the
// environment, and the flags are --silent or -s (without them npm prints a
// banner first). Anything else keeps running through npm.
package npmstart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// ProbeTimeout bounds one run of npm on the probe package.
const ProbeTimeout = 60 * time.Second

// Rewriter rewrites npm script commands; its zero value is ready to use and
// safe for concurrent use.
type Rewriter struct {
	mu     sync.Mutex
	probes map[string]*probe
}

// probe is what npm added to the environment for one command line and base
// environment: each variable's value with the probe folder written as
// dirMark, and the PATH entries npm put between the node_modules/.bin
// folders and the original PATH.
type probe struct {
	once   sync.Once
	err    error
	vars   map[string]string
	gypBin []string
}

// dirMark stands for the package folder in a probed value.
const dirMark = "\x00DIR\x00"

// invocation is a parsed npm command line.
type invocation struct {
	words  []string // npm's arguments
	script string   // the script npm runs
}

// parse recognises `npm start` and `npm run[-script] NAME` with --silent or
// -s, in exec form or in the shell form `/bin/sh -c "npm …"` of plain words.
func parse(argv []string) (invocation, bool) {
	if len(argv) == 3 && (argv[0] == "/bin/sh" || argv[0] == "sh") && argv[1] == "-c" {
		for _, r := range argv[2] {
			if !(r == ' ' || r == '-' || r == '_' || r == '.' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return invocation{}, false
			}
		}
		argv = strings.Fields(argv[2])
	}
	if len(argv) < 2 || argv[0] != "npm" {
		return invocation{}, false
	}
	var inv invocation
	silent := false
	var rest []string
	for _, w := range argv[1:] {
		switch {
		case w == "--silent" || w == "-s":
			silent = true
		case strings.HasPrefix(w, "-"):
			return invocation{}, false
		default:
			rest = append(rest, w)
		}
	}
	switch {
	case len(rest) == 1 && rest[0] == "start":
		inv.script = "start"
	case len(rest) == 2 && (rest[0] == "run" || rest[0] == "run-script"):
		inv.script = rest[1]
	default:
		return invocation{}, false
	}
	if !silent {
		return invocation{}, false
	}
	inv.words = argv[1:]
	return inv, true
}

// plainName and plainVersion match the names and versions npm passes on
// as they are written (npm normalises others, and a bin entry, first).
var (
	plainName    = regexp.MustCompile(`^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$`)
	plainVersion = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

// pkgJSON is what npm reads of package.json to run a script.
type pkgJSON struct {
	Name       *string                    `json:"name"`
	Version    *string                    `json:"version"`
	Scripts    map[string]json.RawMessage `json:"scripts"`
	Config     json.RawMessage            `json:"config"`
	Engines    json.RawMessage            `json:"engines"`
	Bin        json.RawMessage            `json:"bin"`
	Workspaces json.RawMessage            `json:"workspaces"`
}

// Rewrite returns the command and environment that run argv's npm script
// in dir directly, or ok false when argv is not such a command or running
// it without npm might differ in any way. files is the folder on this
// server that holds what dir will hold at start: dir itself, or the build
// folder whose entries dir links to (dir may not exist yet). env is the
// whole environment the command would get; its HOME must be dir.
func (rw *Rewriter) Rewrite(ctx context.Context, argv []string, dir, files string, env []string) (newArgv, newEnv []string, ok bool) {
	inv, ok := parse(argv)
	if !ok || envValue(env, "HOME") != dir || !filepath.IsAbs(dir) {
		return nil, nil, false
	}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "npm_") || k == "INIT_CWD" || k == "NODE" {
			return nil, nil, false
		}
	}
	if _, err := os.Lstat(filepath.Join(files, ".npmrc")); !errors.Is(err, os.ErrNotExist) {
		return nil, nil, false
	}
	data, err := os.ReadFile(filepath.Join(files, "package.json"))
	if err != nil {
		return nil, nil, false
	}
	var pkg pkgJSON
	if json.Unmarshal(data, &pkg) != nil || len(pkg.Workspaces) > 0 || len(pkg.Bin) > 0 ||
		pkg.Name != nil && !plainName.MatchString(*pkg.Name) || pkg.Version != nil && !plainVersion.MatchString(*pkg.Version) {
		return nil, nil, false
	}
	var script string
	if raw, found := pkg.Scripts[inv.script]; !found || json.Unmarshal(raw, &script) != nil || script == "" {
		return nil, nil, false
	}
	if _, pre := pkg.Scripts["pre"+inv.script]; pre {
		return nil, nil, false
	}
	if _, post := pkg.Scripts["post"+inv.script]; post {
		return nil, nil, false
	}
	pkgVars, ok := packageVars(&pkg)
	if !ok {
		return nil, nil, false
	}
	p := rw.probe(ctx, inv, env)
	if p.err != nil {
		return nil, nil, false
	}

	vars := map[string]string{}
	for k, v := range p.vars {
		vars[k] = strings.ReplaceAll(v, dirMark, dir)
	}
	for k, v := range pkgVars {
		vars[k] = v
	}
	vars["npm_package_json"] = filepath.Join(dir, "package.json")
	vars["npm_lifecycle_event"] = inv.script
	vars["npm_lifecycle_script"] = script
	vars["PATH"] = binPath(dir, p.gypBin, envValue(env, "PATH"))

	out := make([]string, 0, len(env)+len(vars))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, set := vars[k]; !set {
			out = append(out, kv)
		}
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+vars[k])
	}
	return []string{"sh", "-c", script}, out, true
}

// binPath is npm's PATH for a script in dir: node_modules/.bin of dir and
// of each parent, npm's own folders, then the original PATH.
func binPath(dir string, gypBin []string, orig string) string {
	var parts []string
	for p := dir; ; {
		parts = append(parts, filepath.Join(p, "node_modules", ".bin"))
		up := filepath.Dir(p)
		if up == p {
			break
		}
		p = up
	}
	parts = append(parts, gypBin...)
	parts = append(parts, orig)
	return strings.Join(parts, ":")
}

// probeKey is the probe's cache key: npm's arguments and the environment
// without the variables that vary from run to run (npm reads none of them).
func probeKey(inv invocation, env []string) string {
	var b strings.Builder
	b.WriteString(strings.Join(inv.words, "\x00"))
	b.WriteString("\x01")
	for _, kv := range stableEnv(env) {
		b.WriteString(kv)
		b.WriteByte(0)
	}
	return b.String()
}

// stableEnv is env without HOME, PWD and the per-run ACTOR_* and APIFY_*
// variables, sorted.
func stableEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "HOME" || k == "PWD" || strings.HasPrefix(k, "ACTOR_") || strings.HasPrefix(k, "APIFY_") {
			continue
		}
		out = append(out, kv)
	}
	sort.Strings(out)
	return out
}

// probe returns the probe of the command line and environment, running
// npm on the probe package the first time.
func (rw *Rewriter) probe(ctx context.Context, inv invocation, env []string) *probe {
	key := probeKey(inv, env)
	rw.mu.Lock()
	if rw.probes == nil {
		rw.probes = map[string]*probe{}
	}
	p := rw.probes[key]
	if p == nil {
		p = &probe{}
		rw.probes[key] = p
	}
	rw.mu.Unlock()
	p.once.Do(func() { p.err = p.run(ctx, inv, env) })
	return p
}

// run runs npm with the command line inv on a package whose script prints
// its environment, and keeps what npm added.
func (p *probe) run(ctx context.Context, inv invocation, env []string) error {
	dir, err := os.MkdirTemp("", "troupe-npm-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return err
	}
	pkg, _ := json.Marshal(map[string]any{"name": "troupe-npm-probe", "version": "0.0.0",
		"scripts": map[string]string{inv.script: "env -0"}})
	if err := os.WriteFile(filepath.Join(dir, "package.json"), pkg, 0o644); err != nil {
		return err
	}
	penv := append(stableEnv(env), "HOME="+dir)
	npm, err := lookPath("npm", envValue(penv, "PATH"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ProbeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, inv.words...)
	cmd.Dir, cmd.Env = dir, penv
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("npm probe: %v: %s", err, stderr.Bytes())
	}
	in := map[string]string{}
	for _, kv := range penv {
		k, v, _ := strings.Cut(kv, "=")
		in[k] = v
	}
	got := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("npm probe: odd environment entry %q", kv)
		}
		got[k] = v
	}
	for k := range in {
		if _, kept := got[k]; !kept {
			return fmt.Errorf("npm probe: npm removed %s from the environment", k)
		}
	}
	p.vars = map[string]string{}
	for k, v := range got {
		switch {
		case k == "PATH":
			p.gypBin, err = middlePath(v, dir, in["PATH"])
			if err != nil {
				return err
			}
			continue
		case k == "PWD" || k == "SHLVL" || k == "_" || strings.HasPrefix(k, "npm_package_") ||
			k == "npm_lifecycle_event" || k == "npm_lifecycle_script":
			continue // set by the shell, or set per package above
		}
		if old, had := in[k]; had && old == v {
			continue
		}
		p.vars[k] = strings.ReplaceAll(v, dir, dirMark)
	}
	return nil
}

// middlePath returns the PATH entries npm put between the probe folder's
// node_modules/.bin chain and the original PATH.
func middlePath(got, dir, orig string) ([]string, error) {
	chain := binPath(dir, nil, "")
	chain = strings.TrimSuffix(chain, ":")
	rest, ok := strings.CutPrefix(got, chain+":")
	if !ok {
		return nil, fmt.Errorf("npm probe: PATH %q does not start with %q", got, chain)
	}
	mid, ok := strings.CutSuffix(rest, orig)
	if !ok {
		return nil, fmt.Errorf("npm probe: PATH %q does not end with %q", got, orig)
	}
	mid = strings.TrimSuffix(mid, ":")
	if mid == "" {
		return nil, nil
	}
	return strings.Split(mid, ":"), nil
}

// packageVars flattens name, version, config, engines and bin into
// npm_package_* variables as npm does. ok is false for a value npm would
// print differently from its JSON text (a number other than a plain
// integer).
func packageVars(pkg *pkgJSON) (map[string]string, bool) {
	vars := map[string]string{}
	ok := true
	var flatten func(prefix string, v any)
	flatten = func(prefix string, v any) {
		switch v := v.(type) {
		case nil:
			vars[prefix] = ""
		case bool:
			if v {
				vars[prefix] = "true"
			} else {
				vars[prefix] = ""
			}
		case string:
			vars[prefix] = v
		case json.Number:
			if strings.ContainsAny(v.String(), ".eE") || strings.HasPrefix(v.String(), "-0") || len(v.String()) > 15 {
				ok = false
			}
			vars[prefix] = v.String()
		case []any:
			for i, item := range v {
				flatten(fmt.Sprintf("%s_%d", prefix, i), item)
			}
		case map[string]any:
			for k, item := range v {
				flatten(prefix+"_"+k, item)
			}
		}
	}
	decode := func(raw json.RawMessage) (any, bool) {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		return v, d.Decode(&v) == nil
	}
	if pkg.Name != nil {
		vars["npm_package_name"] = *pkg.Name
	}
	if pkg.Version != nil {
		vars["npm_package_version"] = *pkg.Version
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"config", pkg.Config}, {"engines", pkg.Engines}, {"bin", pkg.Bin}} {
		if len(f.raw) == 0 {
			continue
		}
		v, good := decode(f.raw)
		if !good {
			return nil, false
		}
		if v == nil {
			vars["npm_package_"+f.name] = ""
			continue
		}
		if m, isObj := v.(map[string]any); isObj {
			for k, item := range m {
				flatten("npm_package_"+f.name+"_"+k, item)
			}
			continue
		}
		flatten("npm_package_"+f.name, v)
	}
	return vars, ok
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// lookPath finds name in the folders of path.
func lookPath(name, path string) (string, error) {
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			continue
		}
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH", name)
}
