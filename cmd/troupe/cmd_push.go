package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/actorproject"
	"github.com/troupehq/troupe/client"
)

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
apify_storage and crawlee_storage at the top; and what .gitignore files, the
top .dockerignore and the top .actorignore (gitignore syntax) list (the
.actor folder is always kept).`,
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
				SourceType: client.Ptr(client.SourceFiles), SourceFiles: files, BuildTag: &tag,
			})
			if client.IsNotFound(err) {
				_, err = ac.Versions().Create(ctx, &client.Version{
					VersionNumber: version, SourceType: client.SourceFiles, SourceFiles: files, BuildTag: tag,
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
			err = out.print(cmd.OutOrStdout(), final, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "Build %s %s (id %s, %s)\n", final.BuildNumber, final.Status, final.ID, fmtDuration(buildDuration(final, troupe.Now())))
				return err
			})
			if err != nil {
				return err
			}
			if final.Status != client.StatusSucceeded {
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

// readActorJSON reads dir/.actor/actor.json, which must name the actor.
func readActorJSON(dir string) (*actorproject.ActorJSON, error) {
	m, err := actorproject.ReadActorJSON(dir)
	if err != nil {
		return nil, err
	}
	if m.Name == "" {
		return nil, fmt.Errorf("%s: no name", filepath.Join(dir, actorproject.MetaDir, "actor.json"))
	}
	return m, nil
}

func countFiles(files []client.SourceFile) int {
	n := 0
	for _, f := range files {
		if !f.Folder {
			n++
		}
	}
	return n
}

// collectSource returns the files of dir that a push uploads (see
// actorproject.Walk) as source files: folders as {name, folder:true}, text
// files as TEXT, the others as BASE64, with slash-separated names relative
// to dir, in lexical order.
func collectSource(dir string) ([]client.SourceFile, error) {
	var files []client.SourceFile
	err := actorproject.Walk(dir, func(rel string, isDir bool) error {
		if isDir {
			files = append(files, client.SourceFile{Name: rel, Folder: true})
			return nil
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		if utf8.Valid(b) && !bytes.Contains(b, []byte{0}) {
			files = append(files, client.SourceFile{Name: rel, Format: "TEXT", Content: string(b)})
		} else {
			files = append(files, client.SourceFile{Name: rel, Format: "BASE64", Content: base64.StdEncoding.EncodeToString(b)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}
