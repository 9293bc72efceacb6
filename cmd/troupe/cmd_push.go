package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/client"
)

// actorJSON is the part of .actor/actor.json push reads.
type actorJSON struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Version     string `json:"version"`
	BuildTag    string `json:"buildTag"`
}

var versionRe = regexp.MustCompile(`^\d{1,2}\.\d{1,2}$`)

func newPushCmd(sf *serverFlags) *cobra.Command {
	var (
		out     outputFlag
		version string
		tag     string
	)
	cmd := &cobra.Command{
		Use:   "push DIR",
		Short: "Upload an actor's source folder and build it",
		Long: `Push reads DIR/.actor/actor.json, uploads the folder's files as the source of
the actor version (creating the actor and the version when needed), builds
it, prints the build log to standard error and waits for the build. It exits
with an error unless the build SUCCEEDED.

Skipped: node_modules, .git, .venv and __pycache__ folders; storage,
apify_storage and crawlee_storage at the top; and what the top .gitignore and
.dockerignore list (the .actor folder is always kept).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			dir := args[0]
			meta, err := readActorJSON(dir)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("version") {
				version = meta.Version
			}
			if version == "" {
				version = "0.0"
			}
			if !versionRe.MatchString(version) {
				return fmt.Errorf("version %q is not MAJOR.MINOR (e.g. 0.1)", version)
			}
			if !cmd.Flags().Changed("tag") && meta.BuildTag != "" {
				tag = meta.BuildTag
			}
			files, err := collectSource(dir)
			if err != nil {
				return err
			}

			ctx := cmd.Context()
			c := sf.client()
			errOut := cmd.ErrOrStderr()
			actor, err := c.Actor("~" + meta.Name).Get(ctx)
			if err != nil {
				return err
			}
			if actor == nil {
				actor, err = c.Actors().Create(ctx, &client.ActorCreate{Name: meta.Name, Title: meta.Title, Description: meta.Description})
				if err != nil {
					return err
				}
				fmt.Fprintf(errOut, "Created actor %s (%s).\n", meta.Name, actor.ID)
			}
			ac := c.Actor(actor.ID)
			_, err = ac.Version(version).Update(ctx, &client.VersionUpdate{
				SourceType: client.Ptr(troupe.SourceFiles), SourceFiles: files, BuildTag: &tag,
			})
			if client.IsNotFound(err) {
				_, err = ac.Versions().Create(ctx, &troupe.Version{
					VersionNumber: version, SourceType: troupe.SourceFiles, SourceFiles: files, BuildTag: tag,
				})
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(errOut, "Uploaded %d files to %s version %s.\n", countFiles(files), meta.Name, version)

			build, err := ac.Build(ctx, version, &client.BuildOptions{Tag: tag})
			if err != nil {
				return err
			}
			fmt.Fprintf(errOut, "Build %s started.\n", build.BuildNumber)
			final, err := followBuild(ctx, c, build, errOut)
			if err != nil {
				return err
			}
			if out.json() {
				err = printJSON(cmd.OutOrStdout(), final)
			} else {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "Build %s %s (id %s, %s)\n", final.BuildNumber, final.Status, final.ID, fmtDuration(buildDuration(final, troupe.Now())))
			}
			if err != nil {
				return err
			}
			if final.Status != troupe.StatusSucceeded {
				return fmt.Errorf("build %s %s", final.BuildNumber, final.Status)
			}
			return nil
		},
	}
	out.register(cmd)
	cmd.Flags().StringVar(&version, "version", "", "actor version MAJOR.MINOR (default: actor.json's version, else 0.0)")
	cmd.Flags().StringVar(&tag, "tag", "latest", "tag to give the build (default: actor.json's buildTag, else latest)")
	return cmd
}

// readActorJSON reads dir/.actor/actor.json.
func readActorJSON(dir string) (*actorJSON, error) {
	p := filepath.Join(dir, ".actor", "actor.json")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no .actor/actor.json", dir)
	}
	if err != nil {
		return nil, err
	}
	var m actorJSON
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if m.Name == "" {
		return nil, fmt.Errorf("%s: no name", p)
	}
	return &m, nil
}

func countFiles(files []troupe.SourceFile) int {
	n := 0
	for _, f := range files {
		if !f.Folder {
			n++
		}
	}
	return n
}

// collectSource returns the files of dir as source files: folders as
// {name, folder:true}, text files as TEXT, the others as BASE64, with
// slash-separated names relative to dir, in lexical order. It skips
// node_modules, .git, .venv and __pycache__ everywhere, storage,
// apify_storage and crawlee_storage at the top, and what dir's .gitignore
// and .dockerignore list (best effort; the .actor folder is always kept).
func collectSource(dir string) ([]troupe.SourceFile, error) {
	ign, err := loadIgnores(dir)
	if err != nil {
		return nil, err
	}
	var files []troupe.SourceFile
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		isDir := d.IsDir()
		if d.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(p)
			if err != nil || fi.IsDir() {
				return nil // dangling links and links to folders are left out
			}
		} else if !isDir && !d.Type().IsRegular() {
			return nil
		}
		if skipPath(rel, isDir, ign) {
			if isDir {
				return filepath.SkipDir
			}
			return nil
		}
		if isDir {
			files = append(files, troupe.SourceFile{Name: rel, Folder: true})
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if utf8.Valid(b) && !bytes.Contains(b, []byte{0}) {
			files = append(files, troupe.SourceFile{Name: rel, Format: "TEXT", Content: string(b)})
		} else {
			files = append(files, troupe.SourceFile{Name: rel, Format: "BASE64", Content: base64.StdEncoding.EncodeToString(b)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// skipPath reports whether push leaves out the file or folder rel.
func skipPath(rel string, isDir bool, ign []ignoreRule) bool {
	if rel == ".actor" || strings.HasPrefix(rel, ".actor/") {
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
	return ignored(ign, rel, isDir)
}

// ignoreRule is one line of a .gitignore or .dockerignore.
type ignoreRule struct {
	pattern  string // slash-separated glob; may hold "**"
	negate   bool   // "!pattern": keep what an earlier rule left out
	dirOnly  bool   // "pattern/": folders only
	anchored bool   // matched against the whole path, not only the base name
}

// loadIgnores reads the rules of dir's .gitignore and .dockerignore.
func loadIgnores(dir string) ([]ignoreRule, error) {
	var rules []ignoreRule
	for _, name := range []string{".gitignore", ".dockerignore"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		rules = append(rules, parseIgnore(string(b), name == ".dockerignore")...)
	}
	return rules, nil
}

// parseIgnore parses ignore rules. Docker's are always relative to the top
// folder; git's match the base name at any depth unless they hold a "/".
func parseIgnore(text string, docker bool) []ignoreRule {
	var rules []ignoreRule
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \t\r")
		if docker {
			line = strings.TrimSpace(line)
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var r ignoreRule
		if strings.HasPrefix(line, "!") {
			r.negate = true
			line = line[1:]
		} else if strings.HasPrefix(line, `\`) {
			line = line[1:] // \# and \! stand for themselves
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly = !docker
			line = strings.TrimRight(line, "/")
		}
		if docker {
			line = path.Clean("/" + line)[1:]
			r.anchored = true
		} else {
			r.anchored = strings.Contains(line, "/")
			line = strings.TrimPrefix(line, "/")
		}
		if line == "" {
			continue
		}
		r.pattern = line
		rules = append(rules, r)
	}
	return rules
}

// ignored applies the rules to rel: the last rule that matches decides.
func ignored(rules []ignoreRule, rel string, isDir bool) bool {
	out := false
	for _, r := range rules {
		if r.dirOnly && !isDir {
			continue
		}
		subject := rel
		if !r.anchored {
			subject = path.Base(rel)
		}
		if globMatch(strings.Split(r.pattern, "/"), strings.Split(subject, "/")) {
			out = !r.negate
		}
	}
	return out
}

// globMatch matches path segments against pattern segments, where "**"
// stands for any number of segments.
func globMatch(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(segs); i++ {
				if globMatch(pat[1:], segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], segs[0]); err != nil || !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}
