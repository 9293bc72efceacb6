package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/artifact"
	"github.com/troupehq/troupe/internal/logsink"
)

// podInstallArgs is the install command of a Node.js project run by
// Config.Installer (its npm cache is the pod's own).
var podInstallArgs = []string{"npm", "install", "--no-audit", "--no-fund", "--omit=dev"}

// installAway runs npm install through Config.Installer, in the image
// named by the Dockerfile's FROM: the build's folder dir is kept as an
// archive in the store (Build.InstallSource), the installer's step fetches
// it with the build's token, installs, and uploads the folder it made
// (Build.InstallResult, its digest computed by the server). That archive,
// once artifact.Unpack has unpacked it in place of dir (refusing what it
// refuses), is the build's archive: installAway returns its digest.
func (b *Builder) installAway(ctx context.Context, bd *troupe.Build, dir, image string, sink *logsink.Sink, logf func(string, ...any)) (string, error) {
	if image == "" {
		return "", troupe.Errorf(troupe.ErrInvalidInput, "The Dockerfile has no FROM line: the install step runs in that image.")
	}
	source, err := b.putFolder(ctx, dir)
	if err != nil {
		return "", fmt.Errorf("keep the build's source: %w", err)
	}
	_, err = b.cfg.Store.UpdateBuild(ctx, bd.ID, func(x *troupe.Build) error {
		x.InstallSource, x.InstallResult = source, ""
		return nil
	})
	if err != nil {
		return "", err
	}
	spec := &troupe.InstallSpec{
		BuildID: bd.ID, Image: image, Command: podInstallArgs, Env: b.cfg.BuildEnv,
		Token: troupe.BuildToken(b.cfg.TokenSecret, bd.ID), Source: source,
		MemoryMbytes: bd.Options.MemoryMbytes, Output: sink.Line,
	}
	if d, ok := ctx.Deadline(); ok {
		spec.Deadline = d
	}
	logf("Installing dependencies with npm install in a pod of the image %s.", image)
	if err := b.cfg.Installer.Install(ctx, spec); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", troupe.Errorf(troupe.ErrBuildFailed, "npm install failed: %v", err)
	}
	got, err := b.cfg.Store.GetBuild(ctx, bd.ID)
	if err != nil {
		return "", err
	}
	if got.InstallResult == "" {
		return "", troupe.Errorf(troupe.ErrBuildFailed, "npm install ended without uploading the installed folder.")
	}
	size, err := b.takeResult(ctx, got.InstallResult, dir)
	if err != nil {
		return "", err
	}
	logf("Kept the build's files as the archive the install uploaded, of %.1f MB (sha256 %s).", float64(size)/1e6, got.InstallResult)
	return got.InstallResult, nil
}

// putFolder streams the archive of dir into the store and returns its
// digest.
func (b *Builder) putFolder(ctx context.Context, dir string) (string, error) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(artifact.Pack(dir, pw))
	}()
	digest, _, err := b.cfg.Store.PutArtifact(ctx, pr)
	pr.CloseWithError(errors.New("archive no longer read"))
	<-done
	return digest, err
}

// takeResult unpacks the uploaded archive with this digest in place of
// dir and returns its size. An archive artifact.Unpack refuses fails the
// build.
func (b *Builder) takeResult(ctx context.Context, digest, dir string) (int64, error) {
	rc, size, err := b.cfg.Store.OpenArtifact(ctx, digest)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	tmp := dir + ".installed"
	if err := os.RemoveAll(tmp); err != nil {
		return 0, err
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return 0, err
	}
	if err := artifact.Unpack(rc, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		if errors.Is(err, artifact.ErrRefused) {
			return 0, troupe.Errorf(troupe.ErrBuildFailed, "The folder npm install uploaded was refused: %v", err)
		}
		return 0, fmt.Errorf("unpack the installed folder: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return 0, err
	}
	return size, os.Rename(tmp, dir)
}
