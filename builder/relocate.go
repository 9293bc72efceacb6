package builder

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// relocate makes the virtual environment venv (made with --copies) run
// from any folder: python3 and python3.X in bin become links to the copy
// named python, and the scripts in bin whose first line names one of
// bin's interpreters by its absolute path start instead with lines that
// run the interpreter next to the script (the form pip itself writes for
// paths a #! line cannot hold). It fails if any link in venv is absolute.
//
// The build wrote venv: every change goes through an os.Root of it, so
// that no link the build left makes relocate touch a file outside.
func relocate(venv string) error {
	abs, err := filepath.Abs(venv)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(abs); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", venv)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return err
	}
	defer root.Close()
	if fi, err := root.Lstat("bin"); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s/bin is not a folder", venv)
	}
	entries, err := fs.ReadDir(root.FS(), "bin")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		name := e.Name()
		p := "bin/" + name
		if strings.HasPrefix(name, "python") && name != "python" {
			if err := root.Remove(p); err != nil {
				return err
			}
			if err := root.Symlink("python", p); err != nil {
				return err
			}
			continue
		}
		if err := relativeShebang(root, p, filepath.Join(abs, "bin")); err != nil {
			return err
		}
	}
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		target, err := root.Readlink(p)
		if err != nil {
			return err
		}
		if filepath.IsAbs(target) {
			return fmt.Errorf("%s links to %s, outside the environment", p, target)
		}
		return nil
	})
}

// relativeShebang rewrites the script p of root when its first line is
// "#!BIN/python…" (an interpreter of bin, the absolute path of root's bin).
func relativeShebang(root *os.Root, p, bin string) error {
	f, err := root.Open(p)
	if err != nil {
		return err
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	f.Close()
	line, _, ok := bytes.Cut(head[:n], []byte("\n"))
	if !ok {
		return nil
	}
	interp, found := bytes.CutPrefix(line, []byte("#!"+bin+"/"))
	if !found || !bytes.HasPrefix(interp, []byte("python")) || bytes.ContainsAny(interp, " \t'\"$`\\/") {
		return nil
	}
	data, err := root.ReadFile(p)
	if err != nil {
		return err
	}
	fi, err := root.Lstat(p)
	if err != nil {
		return err
	}
	// sh runs the exec; Python reads the two lines after #! as a string.
	start := "#!/bin/sh\n'''exec' \"$(dirname -- \"$0\")/" + string(interp) + "\" \"$0\" \"$@\"\n' '''\n"
	return root.WriteFile(p, append([]byte(start), data[len(line)+1:]...), fi.Mode().Perm())
}
