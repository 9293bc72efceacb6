package builder

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/logsink"
)

// Python projects: a project whose files hold requirements.txt or
// pyproject.toml gets its own virtual environment, BUILD/.venv, made by
// `python3 -m venv` and filled by pip inside the build sandbox, as the
// `RUN pip install -r requirements.txt` of an Apify Python Dockerfile
// would. The run's PATH starts with .venv/bin, relative to the run's
// working folder (whose .venv is the build's), so the Dockerfile's start
// command (`python -m src`, `python3 main.py`) runs inside it.
//
// The environment is relocatable, so that a replica that unpacks the
// build's archive in another folder runs it (relocate): its interpreter is
// a copy of the system's (`venv --copies`; python3 and python3.X link to
// it), which finds its environment next to itself and the system's
// standard library through pyvenv.cfg's home, and the scripts pip writes
// in bin find their interpreter next to themselves rather than by the
// build folder's absolute path. Nothing in it links outside the build.
//
// Like the npm layers, the environment an install from requirements.txt
// made is kept in DATA/pip-layers/KEY; a later build whose install inputs
// are the same (requirements.txt byte for byte, the PIP_* settings of
// Config.BuildEnv) and whose system Python is still the one that made it
// copies it instead of running pip. Requirements that read other files
// (-r, -c, -e, local paths) and pyproject.toml projects (pip installs the
// project itself) are installed every time.

// venvName is the virtual environment's folder in the build.
const venvName = ".venv"

// pythonProject returns the file a Python project's dependencies are
// declared in ("requirements.txt" or "pyproject.toml"), or "".
func pythonProject(dir string) string {
	for _, name := range []string{"requirements.txt", "pyproject.toml"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
			return name
		}
	}
	return ""
}

// installPython makes the build's virtual environment and installs the
// project's dependencies into it (or reuses a layer), and returns the
// environment variables runs need to use it.
func (b *Builder) installPython(ctx context.Context, dir, declared string, sink *logsink.Sink, logf func(string, ...any)) ([]troupe.EnvVar, error) {
	venv := filepath.Join(dir, venvName)
	// A .venv that came with the files was made on another machine.
	if err := os.RemoveAll(venv); err != nil {
		return nil, err
	}
	pip := []string{filepath.Join(venv, "bin", "python"), "-m", "pip", "install", "--no-input", "--disable-pip-version-check"}
	if declared == "requirements.txt" {
		pip = append(pip, "-r", "requirements.txt")
	} else {
		pip = append(pip, ".")
	}
	env := b.venvEnv()
	key := b.pipLayerKey(dir, declared)
	if key != "" && b.restorePipLayer(key, venv) {
		logf("Reusing the Python virtual environment an earlier build made from the same requirements.txt.")
		return env, nil
	}
	logf("Creating a Python virtual environment (%s) and installing dependencies from %s with pip.", venvName, declared)
	if err := b.install(ctx, dir, sink, []string{"python3", "-m", "venv", "--copies", venv}); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, troupe.Errorf(troupe.ErrBuildFailed, "python3 -m venv failed: %v (the server needs python3 with its venv module, e.g. Debian's python3-venv)", err)
	}
	if err := b.install(ctx, dir, sink, pip); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, troupe.Errorf(troupe.ErrBuildFailed, "pip install failed: %v", err)
	}
	if err := relocate(venv); err != nil {
		return nil, fmt.Errorf("make the virtual environment relocatable: %w", err)
	}
	if key != "" {
		if err := b.savePipLayer(key, venv); err != nil {
			b.cfg.Logger.Warn("save pip layer", "dir", dir, "err", err)
		}
	}
	return env, nil
}

// venvEnv is what a run needs to run inside the build's virtual
// environment: PATH starting with .venv/bin, relative to the run's working
// folder, wherever the build's files are on the replica that runs it.
func (b *Builder) venvEnv() []troupe.EnvVar {
	path := filepath.Join(venvName, "bin")
	for _, kv := range b.cfg.BaseEnv {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok && v != "" {
			path += ":" + v
		}
	}
	return []troupe.EnvVar{
		{Name: "PATH", Value: path},
		{Name: "PYTHONUNBUFFERED", Value: "1"}, // log lines as they are printed
	}
}

// pipLayerKey returns the key of the pip layer for the project's
// requirements.txt, or "" when its install cannot be reused.
func (b *Builder) pipLayerKey(dir, declared string) string {
	if declared != "requirements.txt" {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(dir, declared))
	if err != nil || !selfContained(data) {
		return ""
	}
	h := sha256.New()
	h.Write([]byte("troupe pip layer 2\x00")) // 2: relocatable environments
	h.Write(data)
	h.Write([]byte{0})
	env := slices.Clone(b.cfg.BuildEnv)
	slices.Sort(env)
	for _, kv := range env {
		if strings.HasPrefix(strings.ToUpper(kv), "PIP_") {
			h.Write([]byte(kv + "\x00"))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// selfContained reports whether a requirements file names only packages
// (no other files, editable installs or local paths).
func selfContained(req []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(req))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "-r") || strings.HasPrefix(line, "-c") || strings.HasPrefix(line, "-e") ||
			strings.HasPrefix(line, "--requirement") || strings.HasPrefix(line, "--constraint") ||
			strings.HasPrefix(line, "--editable") || strings.HasPrefix(line, ".") || strings.HasPrefix(line, "/") ||
			strings.Contains(line, "file:") {
			return false
		}
	}
	return sc.Err() == nil
}

func (b *Builder) pipLayersDir() string { return filepath.Join(b.cfg.DataDir, "pip-layers") }

// restorePipLayer copies the layer's virtual environment to venv, if the
// layer exists and the Python that made it is still the system's. It
// reports whether it did; on failure venv is left absent.
func (b *Builder) restorePipLayer(key, venv string) bool {
	layer := filepath.Join(b.pipLayersDir(), key)
	src := filepath.Join(layer, venvName)
	if !samePython(src) {
		return false
	}
	if err := copyLinks(src, venv); err != nil {
		b.cfg.Logger.Warn("restore pip layer", "layer", key, "err", err)
		_ = os.RemoveAll(venv)
		return false
	}
	now := time.Now()
	_ = os.Chtimes(layer, now, now) // recently used: pruned last
	return true
}

// samePython reports whether the interpreter a virtual environment was made
// with (its pyvenv.cfg's executable and version) is still there, in that
// version.
func samePython(venv string) bool {
	cfg, err := os.ReadFile(filepath.Join(venv, "pyvenv.cfg"))
	if err != nil {
		return false
	}
	var exe, version string
	for line := range strings.Lines(string(cfg)) {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "executable":
			exe = strings.TrimSpace(v)
		case "version":
			version = strings.TrimSpace(v)
		}
	}
	if exe == "" || version == "" {
		return false
	}
	out, err := exec.Command(exe, "--version").Output()
	return err == nil && strings.TrimSpace(string(out)) == "Python "+version
}

// savePipLayer copies the virtual environment venv to the layer with this
// key (unless another build saved it first) and prunes old layers.
func (b *Builder) savePipLayer(key, venv string) error {
	root := b.pipLayersDir()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	final := filepath.Join(root, key)
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(root, ".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // gone after a successful rename
	if err := copyLinks(venv, filepath.Join(tmp, venvName)); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, statErr := os.Stat(final); statErr == nil {
			return nil
		}
		return err
	}
	b.pruneLayers(root)
	return nil
}

// copyLinks copies the tree src to dst (which must not exist), keeping
// symbolic links as links and file permissions.
func copyLinks(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm())
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm())
		}
		return errors.New("copy " + p + ": not a file, folder or link")
	})
}
