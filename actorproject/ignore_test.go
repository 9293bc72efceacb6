package actorproject

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIgnoreRules(t *testing.T) {
	t.Parallel()
	git := &ignore{parsePatterns(strings.Split("*.tmp\n/top.txt\nlogs/\na/**/z\n\\#hash\n  \n# comment", "\n"), nil, false)}
	docker := &ignore{parsePatterns(strings.Split("  /top2.txt  \n**/*.bak\n*\n!src\n# c\n/\n", "\n"), nil, true)}
	nested := &ignore{parsePatterns([]string{"/only-here", "*.gen", "!keep.gen"}, []string{"sub"}, false)}
	for _, tc := range []struct {
		ig   *ignore
		path string
		dir  bool
		want bool
	}{
		{git, "x.tmp", false, true},
		{git, "deep/er/x.tmp", false, true},
		{git, "top.txt", false, true},
		{git, "sub/top.txt", false, false},
		{git, "logs", true, true},
		{git, "logs", false, false},
		{git, "sub/logs", true, true},
		{git, "a/z", false, true},
		{git, "a/b/c/z", false, true},
		{git, "b/a/z", false, false},
		{git, "#hash", false, true},
		{git, ".actor/x.tmp", false, false},
		{git, "node_modules", true, true},
		{git, "src/node_modules", true, true},
		{git, "storage", true, true},
		{git, "src/storage", true, false},
		{docker, "top2.txt", false, true},
		{docker, "x/y.bak", false, true},
		{docker, "anything", false, true},
		{docker, "src", true, false},
		{docker, "src/main.js", false, false},
		{nested, "sub/only-here", false, true},
		{nested, "only-here", false, false},
		{nested, "sub/deeper/only-here", false, false},
		{nested, "sub/deeper/x.gen", false, true},
		{nested, "sub/keep.gen", false, false},
		{nested, "x.gen", false, false},
	} {
		if got := tc.ig.skip(tc.path, tc.dir); got != tc.want {
			t.Errorf("skip(%q, dir=%v) = %v, want %v", tc.path, tc.dir, got, tc.want)
		}
	}
}

func TestWalk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		".actor/actor.json":     `{"name":"hello"}`,
		".actor/notes.tmp":      "kept: .actor is always uploaded",
		".gitignore":            "*.tmp\n/dist/\n",
		".actorignore":          "secret/\n!important.tmp\n",
		".dockerignore":         "docker-only.txt\n",
		"main.js":               "x",
		"a.tmp":                 "x",
		"important.tmp":         "re-included by .actorignore",
		"docker-only.txt":       "x",
		"sub/docker-only.txt":   "kept: docker patterns are anchored",
		"dist/out.js":           "x",
		"secret/key":            "x",
		"src/.gitignore":        "gen/\n/local.txt\n!keep.tmp\n",
		"src/gen/x.js":          "x",
		"src/local.txt":         "x",
		"src/deeper/local.txt":  "kept: anchored at src",
		"src/keep.tmp":          "re-included by src/.gitignore",
		"src/drop.tmp":          "x",
		"lib/node_modules/m.js": "x",
		"__pycache__/c.pyc":     "x",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("main.js", filepath.Join(dir, "link.js")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("src", filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere", filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := Walk(dir, func(rel string, isDir bool) error {
		if isDir {
			rel += "/"
		}
		got = append(got, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := ".actor/ .actor/actor.json .actor/notes.tmp .actorignore .dockerignore .gitignore important.tmp lib/ link.js main.js " +
		"src/ src/.gitignore src/deeper/ src/deeper/local.txt src/keep.tmp sub/ sub/docker-only.txt"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("walked\n%s\nwant\n%s", g, want)
	}
}
