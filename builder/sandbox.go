package builder

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/troupehq/troupe/internal/logsink"
)

// Sandbox configures the bubblewrap sandbox every install step of a build
// runs in: its own PID namespace (the whole step dies as one), the system
// folders read-only, the build's own folder and the npm cache writable, a
// private /tmp as HOME, the Hide paths (the server's data folder) invisible
// otherwise, the network open (the npm registry), no capabilities and no
// new privileges, and, when the server runs as root, the unprivileged user
// UID.
type Sandbox struct {
	// Bwrap is the bwrap program, as found by bwrap.Find.
	Bwrap string
	// Hide lists host paths no build may see, such as the server's data
	// folder. A build still sees its own folder and the npm cache inside
	// them.
	Hide []string
	// UID is the user (and group) id install steps run as when the server
	// runs as root. Default DefaultBuildUID.
	UID int
	// MaxProcs bounds the processes and threads of that user (RLIMIT_NPROC).
	// Default DefaultBuildMaxProcs.
	MaxProcs int
}

const (
	// DefaultBuildUID is the user every build runs as when the server runs
	// as root: unprivileged, owning no file outside troupe's build folders,
	// and outside the range runs get theirs from.
	DefaultBuildUID = 1_499_999_999
	// DefaultBuildMaxProcs leaves npm and its scripts room while a fork bomb
	// stops well before the machine's pid space runs out.
	DefaultBuildMaxProcs = 2048
	// buildTmpBytes caps the build's private /tmp (and /dev/shm).
	buildTmpBytes = 1 << 30
)

// NoSandboxWarning is the first line of every build's log when builds are
// not sandboxed (Config.WarnNoSandbox).
const NoSandboxWarning = "WARNING: this build is NOT sandboxed (troupe serve --sandbox none): its install scripts run as the server's user and can read the server's files, environment and secrets."

// chownTree gives the tree at root, symbolic links included, to uid and
// gid. Links are never followed.
func chownTree(root string, uid, gid int) error {
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// cacheDir is the npm cache every build shares.
func (b *Builder) cacheDir() string {
	dir, err := filepath.Abs(filepath.Join(b.cfg.DataDir, "npm-cache"))
	if err != nil {
		return filepath.Join(b.cfg.DataDir, "npm-cache")
	}
	return dir
}

// sandboxOwns reports whether install steps run as Sandbox.UID, whose
// files troupe must hand over first (the server runs as root).
func (b *Builder) sandboxOwns() bool {
	return b.cfg.Sandbox != nil && os.Geteuid() == 0
}

// install runs the install step argv in the build folder dir. Sandboxed as
// root, the sandbox user gets the folder (and the npm cache) for the step,
// and the server's user takes the folder back afterwards, so that nothing
// a build started can change it later.
func (b *Builder) install(ctx context.Context, dir string, sink *logsink.Sink, argv []string) error {
	if !b.sandboxOwns() {
		return b.run(ctx, dir, sink, argv)
	}
	uid := b.cfg.Sandbox.UID
	if err := b.ownCache(uid); err != nil {
		return err
	}
	if err := chownTree(dir, uid, uid); err != nil {
		return err
	}
	runErr := b.run(ctx, dir, sink, argv)
	if err := chownTree(dir, os.Geteuid(), os.Getegid()); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

// ownCache gives the npm cache to uid once (what builds add later is
// theirs already).
func (b *Builder) ownCache(uid int) error {
	b.cacheMu.Lock()
	defer b.cacheMu.Unlock()
	if b.cacheOwned {
		return nil
	}
	cache := b.cacheDir()
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	if err := chownTree(cache, uid, uid); err != nil {
		return err
	}
	b.cacheOwned = true
	return nil
}
