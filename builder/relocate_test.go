package builder

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRelocate: a virtual environment made in one folder, made
// relocatable and moved to another, runs there: its interpreter (under
// each of its names) takes the new folder for its prefix, and a script
// pip would have written runs with it.
func TestRelocate(t *testing.T) {
	t.Parallel()
	first := filepath.Join(t.TempDir(), "build-a", ".venv")
	if out, err := exec.Command("python3", "-m", "venv", "--copies", "--without-pip", first).CombinedOutput(); err != nil {
		t.Fatalf("python3 -m venv: %v\n%s", err, out)
	}
	site, err := filepath.Glob(filepath.Join(first, "lib", "python3*", "site-packages"))
	if err != nil || len(site) != 1 {
		t.Fatalf("site-packages: %v %v", site, err)
	}
	if err := os.WriteFile(filepath.Join(site[0], "hello.py"), []byte("import sys\ndef main():\n    print('hello from', sys.prefix)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := "#!" + filepath.Join(first, "bin", "python3") + "\nimport sys\nfrom hello import main\nsys.exit(main())\n"
	if err := os.WriteFile(filepath.Join(first, "bin", "hello"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := relocate(first); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(t.TempDir(), "elsewhere", ".venv")
	if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(first, moved); err != nil {
		t.Fatal(err)
	}
	for _, py := range []string{"python", "python3"} {
		out, err := exec.Command(filepath.Join(moved, "bin", py), "-c", "import sys; print(sys.prefix)").CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != moved {
			t.Errorf("%s: prefix %q (%v), want %s", py, got, err, moved)
		}
	}
	out, err := exec.Command(filepath.Join(moved, "bin", "hello")).CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "hello from "+moved {
		t.Errorf("script: %q (%v)", got, err)
	}
	err = filepath.WalkDir(moved, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type()&os.ModeSymlink != 0 {
			if target, _ := os.Readlink(p); filepath.IsAbs(target) {
				t.Errorf("%s links to %s", p, target)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRelocateStaysInside: a bin that the build made a link to another
// folder is refused, and nothing in that folder changes.
func TestRelocateStaysInside(t *testing.T) {
	t.Parallel()
	outside, venv := t.TempDir(), filepath.Join(t.TempDir(), ".venv")
	victim := filepath.Join(outside, "python3")
	if err := os.WriteFile(victim, []byte("not yours"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(venv, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(venv, "bin")); err != nil {
		t.Fatal(err)
	}
	if err := relocate(venv); err == nil {
		t.Fatal("relocate followed bin out of the environment")
	}
	if fi, err := os.Lstat(victim); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("the file outside changed: %v %v", fi, err)
	}
}
