package troupe

import (
	"bytes"
	"encoding/base64"
	"io/fs"
	"path"
	"unicode/utf8"
)

// skippedDirs are folders never taken into an actor's source files: installed
// dependencies, version control and local storage.
var skippedDirs = map[string]bool{
	"node_modules": true, ".git": true, "storage": true, "apify_storage": true,
	"crawlee_storage": true, ".venv": true, "__pycache__": true,
}

// ReadSourceFiles reads a project folder into the source files of a
// SOURCE_FILES version: folders as folder entries, UTF-8 text as TEXT, other
// files as BASE64. Folders in skippedDirs are left out.
func ReadSourceFiles(fsys fs.FS) ([]SourceFile, error) {
	var files []SourceFile
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if d.IsDir() {
			if skippedDirs[path.Base(p)] {
				return fs.SkipDir
			}
			files = append(files, SourceFile{Name: p, Folder: true})
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if utf8.Valid(data) && !bytes.ContainsRune(data, 0) {
			files = append(files, SourceFile{Name: p, Format: "TEXT", Content: string(data)})
		} else {
			files = append(files, SourceFile{Name: p, Format: "BASE64", Content: base64.StdEncoding.EncodeToString(data)})
		}
		return nil
	})
	return files, err
}
