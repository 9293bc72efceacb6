package actorproject

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// Walk calls fn with each folder and file of the project in dir that a
// push uploads, in lexical order, rel being the slash-separated path
// relative to dir. Left out are:
//   - node_modules, .git, .venv and __pycache__ folders anywhere, and
//     storage, apify_storage and crawlee_storage at the top;
//   - what the ignore files list: .gitignore files (at the top and in
//     subfolders, for the folder they are in), and at the top .dockerignore
//     (every pattern taken from the top, as Docker does) and .actorignore
//     (gitignore syntax); the last pattern that matches a path decides, in
//     the order .gitignore, .dockerignore, .actorignore, then the .gitignore
//     files of subfolders;
//   - what is neither a folder nor a regular file, and links to folders or
//     to nothing (a link to a file is passed on).
//
// The .actor folder is always kept. An ignored folder is not entered.
func Walk(dir string, fn func(rel string, isDir bool) error) error {
	ig := &ignore{}
	if err := ig.load(dir); err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		isDir := d.IsDir()
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(p)
			if err != nil || fi.IsDir() {
				return nil
			}
		} else if !isDir && !d.Type().IsRegular() {
			return nil
		}
		if ig.skip(rel, isDir) {
			if isDir {
				return filepath.SkipDir
			}
			return nil
		}
		if isDir {
			if err := ig.addGitignore(p, strings.Split(rel, "/")); err != nil {
				return err
			}
		}
		return fn(rel, isDir)
	})
}

// ignore holds the ignore patterns read so far, in order.
type ignore struct {
	patterns []gitignore.Pattern
}

// load reads the ignore files at the top of the project.
func (ig *ignore) load(dir string) error {
	var git, docker, actor []gitignore.Pattern
	for _, f := range []struct {
		name   string
		dst    *[]gitignore.Pattern
		docker bool
	}{{".gitignore", &git, false}, {".dockerignore", &docker, true}, {".actorignore", &actor, false}} {
		lines, err := readLines(filepath.Join(dir, f.name))
		if err != nil {
			return err
		}
		*f.dst = parsePatterns(lines, nil, f.docker)
	}
	ig.patterns = append(append(append(ig.patterns, git...), docker...), actor...)
	return nil
}

// addGitignore adds the patterns of the .gitignore in the subfolder p (at
// path domain of the project).
func (ig *ignore) addGitignore(p string, domain []string) error {
	lines, err := readLines(filepath.Join(p, ".gitignore"))
	if err != nil {
		return err
	}
	ig.patterns = append(ig.patterns, parsePatterns(lines, domain, false)...)
	return nil
}

// skip reports whether the file or folder rel is left out.
func (ig *ignore) skip(rel string, isDir bool) bool {
	if rel == MetaDir || strings.HasPrefix(rel, MetaDir+"/") {
		return false
	}
	if isDir {
		switch path.Base(rel) {
		case "node_modules", ".git", ".venv", "__pycache__":
			return true
		}
		switch rel {
		case "storage", "apify_storage", "crawlee_storage":
			return true
		}
	}
	return gitignore.NewMatcher(ig.patterns).Match(strings.Split(rel, "/"), isDir)
}

// readLines returns the lines of a file; none when it does not exist.
func readLines(name string) ([]string, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

// parsePatterns parses the lines of an ignore file. Docker patterns are
// all relative to the top folder and have no folder-only form, so each
// becomes an anchored gitignore pattern.
func parsePatterns(lines []string, domain []string, docker bool) []gitignore.Pattern {
	var out []gitignore.Pattern
	for _, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if docker {
			line = strings.TrimSpace(line)
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if docker {
			neg := strings.HasPrefix(line, "!")
			line = strings.TrimPrefix(line, "!")
			line = path.Clean("/" + line)
			if line == "/" {
				continue
			}
			if neg {
				line = "!" + line
			}
		}
		out = append(out, gitignore.ParsePattern(line, domain))
	}
	return out
}
