package builder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

// Dependency layers play the part of Docker's layer cache for the usual
// `COPY package*.json ./` + `RUN npm install` lines of an actor's
// Dockerfile: after an install, the build's node_modules is copied to
// DATA/npm-layers/KEY, and a later build whose install inputs are the same
// byte for byte copies it from there instead of running npm again.
//
// KEY covers package.json, the lockfile, the project's .npmrc, the install
// command and the Node.js version. Only projects whose install is fully
// determined by those get a layer: they have a lockfile, no local (file:,
// link:) dependencies and no install scripts of their own.

// maxLayers is how many layers are kept; the least recently used go first.
const maxLayers = 16

// layerFiles are the project files an npm install reads.
var layerFiles = []string{"package.json", "package-lock.json", "npm-shrinkwrap.json", ".npmrc"}

// layerKey returns the key of the project's dependency layer, or "" when
// the project's install cannot be reused.
func (b *Builder) layerKey(ctx context.Context, dir string, argv []string) string {
	h := sha256.New()
	h.Write([]byte("troupe npm layer 1\x00"))
	for _, a := range argv {
		h.Write([]byte(a + "\x00"))
	}
	locked := false
	for _, name := range layerFiles {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			h.Write([]byte(name + " absent\x00"))
			continue
		}
		if err != nil || bytes.Contains(data, []byte(`"file:`)) || bytes.Contains(data, []byte(`"link:`)) {
			return ""
		}
		if name == "package.json" && hasInstallScripts(data) {
			return ""
		}
		locked = locked || name == "package-lock.json" || name == "npm-shrinkwrap.json"
		h.Write([]byte(name + "\x00"))
		h.Write(data)
		h.Write([]byte{0})
	}
	if !locked {
		return ""
	}
	cmd := exec.CommandContext(ctx, "node", "--version")
	cmd.Env = b.cfg.BaseEnv
	node, err := cmd.Output()
	if err != nil {
		return ""
	}
	h.Write(node)
	return hex.EncodeToString(h.Sum(nil))
}

// hasInstallScripts reports whether a package.json runs scripts of its own
// during npm install (or cannot be read).
func hasInstallScripts(pkgJSON []byte) bool {
	var pkg struct {
		Scripts map[string]string `json:"scripts"`
	}
	if json.Unmarshal(pkgJSON, &pkg) != nil {
		return true
	}
	for _, s := range []string{"preinstall", "install", "postinstall", "prepublish", "preprepare", "prepare", "postprepare"} {
		if pkg.Scripts[s] != "" {
			return true
		}
	}
	return false
}

func (b *Builder) layersDir() string { return filepath.Join(b.cfg.DataDir, "npm-layers") }

// restoreLayer copies the layer's node_modules into dir. It reports whether
// it did; on failure dir is left without node_modules.
func (b *Builder) restoreLayer(key, dir string) bool {
	layer := filepath.Join(b.layersDir(), key)
	if _, err := os.Stat(layer); err != nil {
		return false
	}
	dst := filepath.Join(dir, "node_modules")
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(layer, "node_modules"))); err != nil {
		// Pruned while copying, say: the caller installs instead.
		b.cfg.Logger.Warn("restore npm layer", "layer", key, "err", err)
		_ = os.RemoveAll(dst)
		return false
	}
	now := time.Now()
	_ = os.Chtimes(layer, now, now) // recently used: pruned last
	return true
}

// saveLayer copies dir's node_modules to the layer with this key (unless
// another build saved it first) and prunes old layers.
func (b *Builder) saveLayer(key, dir string) error {
	root := b.layersDir()
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
	if err := os.CopyFS(filepath.Join(tmp, "node_modules"), os.DirFS(filepath.Join(dir, "node_modules"))); err != nil {
		return err
	}
	// The rename makes the layer appear whole; losing a race to another
	// build saving the same key is fine.
	if err := os.Rename(tmp, final); err != nil {
		if _, statErr := os.Stat(final); statErr == nil {
			return nil
		}
		return err
	}
	b.pruneLayers(root)
	return nil
}

// pruneLayers removes the least recently used layers beyond maxLayers, and
// unfinished copies older than an hour.
func (b *Builder) pruneLayers(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	type layer struct {
		path string
		used time.Time
	}
	var layers []layer
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !e.IsDir() {
			continue
		}
		if e.Name()[0] == '.' {
			// A copy in progress, or one a crashed server left behind.
			if time.Since(info.ModTime()) > time.Hour {
				_ = os.RemoveAll(filepath.Join(root, e.Name()))
			}
			continue
		}
		layers = append(layers, layer{filepath.Join(root, e.Name()), info.ModTime()})
	}
	if len(layers) <= maxLayers {
		return
	}
	slices.SortFunc(layers, func(a, b layer) int { return b.used.Compare(a.used) })
	for _, l := range layers[maxLayers:] {
		if err := os.RemoveAll(l.path); err != nil {
			b.cfg.Logger.Warn("prune npm layer", "layer", l.path, "err", err)
		}
	}
}
