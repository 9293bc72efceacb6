package builder_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/builder"
	"github.com/troupehq/troupe/internal/artifact"
	"github.com/troupehq/troupe/sqlite"
)

var installSecret = []byte("install secret")

// fakeInstaller does what an install pod does through the store: it
// unpacks the source archive, prints a line, and uploads an archive of
// entries (name → content; "" a folder) added to the source's, as busybox
// tar writes them ("./" first), unless fail says why it fails.
type fakeInstaller struct {
	t     *testing.T
	st    troupe.Store
	add   map[string]string
	fail  error
	specs []*troupe.InstallSpec
}

func (f *fakeInstaller) Forget(context.Context, string) error { return nil }

func (f *fakeInstaller) Install(ctx context.Context, spec *troupe.InstallSpec) error {
	f.specs = append(f.specs, spec)
	spec.Output("added 1 package")
	if f.fail != nil {
		return f.fail
	}
	rc, _, err := f.st.OpenArtifact(ctx, spec.Source)
	if err != nil {
		return err
	}
	defer rc.Close()
	dir := f.t.TempDir()
	if err := artifact.Unpack(rc, dir); err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		_ = tw.WriteHeader(&tar.Header{Name: "./" + e.Name(), Mode: 0o644, Size: int64(len(data))})
		_, _ = tw.Write(data)
	}
	// In name order, as tar writes a folder before what it holds.
	for _, name := range slices.Sorted(maps.Keys(f.add)) {
		body := f.add[name]
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}
		if body == "" {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		_ = tw.WriteHeader(h)
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	_ = zw.Close()
	digest, _, err := f.st.PutArtifact(ctx, &buf)
	if err != nil {
		return err
	}
	_, err = f.st.UpdateBuild(ctx, spec.BuildID, func(b *troupe.Build) error {
		b.InstallResult = digest
		return nil
	})
	return err
}

func podSetup(t *testing.T, f *fakeInstaller) (troupe.Store, *builder.Builder) {
	t.Helper()
	dataDir := t.TempDir()
	db, err := sqlite.Open(filepath.Join(dataDir, "troupe.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.t, f.st = t, db
	b := builder.New(builder.Config{Store: db, DataDir: dataDir, BaseEnv: []string{"PATH=" + os.Getenv("PATH")},
		BuildEnv: []string{"npm_config_registry=http://registry.example/"}, Installer: f, TokenSecret: installSecret})
	t.Cleanup(b.Stop)
	return db, b
}

var depFiles = []troupe.SourceFile{
	{Name: "Dockerfile", Format: "TEXT", Content: "FROM node:20\nCMD [\"node\", \"main.js\"]\n"},
	{Name: "package.json", Format: "TEXT", Content: `{"name":"p","version":"1.0.0","dependencies":{"greet":"1.0.0"}}`},
	{Name: "main.js", Format: "TEXT", Content: "require('greet');\n"},
}

// TestInstallAway: with an Installer, a Node.js build's npm install runs
// through it, in the FROM image with the build's token and deadline, its
// output in the build log; the archive it uploaded, unpacked into the
// build's folder, is the build's archive.
func TestInstallAway(t *testing.T) {
	t.Parallel()
	f := &fakeInstaller{add: map[string]string{"./node_modules/": "", "./node_modules/greet/": "", "./node_modules/greet/index.js": "module.exports = 1;\n"}}
	st, b := podSetup(t, f)
	got, log := buildActor(t, st, b, "away", depFiles)
	if got.Status != troupe.StatusSucceeded {
		t.Fatalf("build is %s:\n%s", got.Status, log)
	}
	if len(f.specs) != 1 {
		t.Fatalf("%d installs", len(f.specs))
	}
	spec := f.specs[0]
	if spec.Image != "node:20" || spec.Token != troupe.BuildToken(installSecret, got.ID) || spec.Deadline.IsZero() ||
		!slices.Contains(spec.Command, "install") || !slices.Equal(spec.Env, []string{"npm_config_registry=http://registry.example/"}) ||
		spec.MemoryMbytes != 1024 {
		t.Errorf("spec = %+v", spec)
	}
	if got.Artifact == "" || got.Artifact != got.InstallResult {
		t.Errorf("artifact %q, install result %q: want the uploaded archive", got.Artifact, got.InstallResult)
	}
	if data, err := os.ReadFile(filepath.Join(got.Dir, "node_modules", "greet", "index.js")); string(data) != "module.exports = 1;\n" {
		t.Errorf("installed file in the build's folder: %q, %v", data, err)
	}
	for _, want := range []string{"in a pod of the image node:20", "added 1 package", "Kept the build's files as the archive the install uploaded"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestInstallAwayFails: an install that fails, or uploads an archive that
// artifact.Unpack refuses, fails the build saying why.
func TestInstallAwayFails(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		f    *fakeInstaller
		want string
	}{
		"Install":  {&fakeInstaller{fail: errors.New("it exited with code 1")}, "Build failed: npm install failed: it exited with code 1"},
		"Escaping": {&fakeInstaller{add: map[string]string{"../escape.js": "x"}}, "Build failed: The folder npm install uploaded was refused"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, b := podSetup(t, tc.f)
			got, log := buildActor(t, st, b, "fails", depFiles)
			if got.Status != troupe.StatusFailed || !strings.HasPrefix(got.StatusMessage, tc.want) {
				t.Fatalf("build is %s (%q), want FAILED %q:\n%s", got.Status, got.StatusMessage, tc.want, log)
			}
			if got.Artifact != "" {
				t.Errorf("a failed build has the archive %s", got.Artifact)
			}
		})
	}
}
