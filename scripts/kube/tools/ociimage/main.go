// Command ociimage writes a container image archive that `ctr images import`
// loads, from layer tarballs made on this machine, so the local test cluster
// runs images that no registry serves.
//
// Usage:
//
//	ociimage -o OUT.tar -name REF -layer L1.tar [-layer L2.tar ...]
//	         [-env K=V ...] [-entrypoint ARG ...] [-cmd ARG ...] [-workdir DIR]
//
// Layers are applied in the order given. REF should be fully qualified
// (docker.io/owner/name:tag) so containerd never tries to pull it.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return fmt.Sprint(*l) }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var layers, env, entrypoint, cmd list
	out := flag.String("o", "", "archive to write")
	ref := flag.String("name", "", "image reference, e.g. docker.io/troupe-local/busybox:1")
	workdir := flag.String("workdir", "/", "working directory of the image")
	flag.Var(&layers, "layer", "uncompressed layer tarball (repeatable, applied in order)")
	flag.Var(&env, "env", "KEY=VALUE environment entry (repeatable)")
	flag.Var(&entrypoint, "entrypoint", "entrypoint argument (repeatable)")
	flag.Var(&cmd, "cmd", "command argument (repeatable)")
	flag.Parse()
	if *out == "" || *ref == "" || len(layers) == 0 || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := write(*out, *ref, layers, env, entrypoint, cmd, *workdir); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func write(out, ref string, layers, env, entrypoint, cmd []string, workdir string) error {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return err
	}
	img := empty.Image
	for _, path := range layers {
		layer, err := tarball.LayerFromFile(path)
		if err != nil {
			return fmt.Errorf("layer %s: %w", path, err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Config = v1.Config{Env: env, Entrypoint: entrypoint, Cmd: cmd, WorkingDir: workdir}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	return tarball.WriteToFile(out, tag, img)
}
