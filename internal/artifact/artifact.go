// Package artifact turns a build folder into the archive troupe keeps in
// its store (a gzip-compressed tar, see Pack) and back into a folder on any
// replica (Unpack, and Cache, which fetches each archive once by its
// digest).
package artifact

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Limits of what Unpack writes: an archive that goes beyond them is refused.
const (
	// MaxEntries is the most files, folders and links one archive unpacks to.
	MaxEntries = 1_000_000
	// MaxBytes is the most file content one archive unpacks to (16 GiB).
	MaxBytes = 16 << 30
)

// ErrRefused is wrapped by the errors of Unpack about an archive it will
// not unpack (a path or link leaving the folder, an entry of another kind
// than file, folder or symbolic link, a limit exceeded).
var ErrRefused = errors.New("archive refused")

// Pack writes the folder dir as a gzip-compressed tar (at gzip's fastest
// level: a build waits for it) to w: its folders,
// regular files (with their permission bits) and symbolic links (as they
// are), in lexical order, with no times or owners, so that the same files
// give the same archive. Other kinds of files are skipped.
func Pack(dir string, w io.Writer) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		name := filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		h := &tar.Header{Name: name, Mode: int64(info.Mode().Perm()), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		switch {
		case d.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, name+"/"
		case info.Mode()&fs.ModeSymlink != 0:
			if h.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
			h.Typeflag = tar.TypeSymlink
		case info.Mode().IsRegular():
			h.Typeflag, h.Size = tar.TypeReg, info.Size()
		default:
			return nil
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.CopyN(tw, f, h.Size); err != nil {
			return fmt.Errorf("pack %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// Unpack writes the gzip-compressed tar read from r into dest, an empty
// folder, and nothing outside it: every write goes through an os.Root of
// dest, and Unpack refuses (ErrRefused) absolute paths, paths with "..",
// a path that already exists or passes through a symbolic link, links
// (symbolic) whose target is absolute or leaves dest, hard links and
// device files, and archives beyond MaxEntries or MaxBytes. On an error
// dest holds part of the archive; the caller removes it.
func Unpack(r io.Reader, dest string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("%w: not gzip: %v", ErrRefused, err)
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(zr)
	links := map[string]bool{}
	var entries, total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrRefused, err)
		}
		if entries++; entries > MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrRefused, MaxEntries)
		}
		name, err := entryName(h.Name, links)
		if err != nil {
			return err
		}
		if sparse(h) {
			return fmt.Errorf("%w: %s is a sparse file", ErrRefused, name)
		}
		perm := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(name, perm|0o700); err != nil {
				return fmt.Errorf("%w: %v", ErrRefused, err)
			}
		case tar.TypeReg:
			if total += h.Size; total > MaxBytes {
				return fmt.Errorf("%w: more than %d bytes of files", ErrRefused, int64(MaxBytes))
			}
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm|0o600)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrRefused, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("unpack %s: %w", name, err)
			}
		case tar.TypeSymlink:
			if !linkInside(name, h.Linkname) {
				return fmt.Errorf("%w: link %s points to %s, outside the folder", ErrRefused, name, h.Linkname)
			}
			if err := root.Symlink(h.Linkname, name); err != nil {
				return fmt.Errorf("%w: %v", ErrRefused, err)
			}
			links[name] = true
		default:
			return fmt.Errorf("%w: %s is of type %q, not a file, folder or symbolic link", ErrRefused, name, h.Typeflag)
		}
	}
	return nil
}

// entryName returns the cleaned slash path of an archive entry, refusing
// one that is absolute, leaves the folder or passes through a link already
// unpacked.
func entryName(raw string, links map[string]bool) (string, error) {
	name := path.Clean(strings.TrimSuffix(raw, "/"))
	if raw == "" || path.IsAbs(raw) || name == "." || name == ".." || strings.HasPrefix(name, "../") ||
		strings.Contains(raw, "\\") || strings.Contains(raw, "\x00") {
		return "", fmt.Errorf("%w: entry %q leaves the folder", ErrRefused, raw)
	}
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		if links[p] {
			return "", fmt.Errorf("%w: entry %q passes through the link %s", ErrRefused, raw, p)
		}
	}
	return name, nil
}

// linkInside reports whether a symbolic link at name (a cleaned relative
// path) with that target points inside the folder. A ".." must come before
// every other part of the target: after a part that may itself be a link,
// ".." would climb from wherever that link leads.
func linkInside(name, target string) bool {
	if target == "" || path.IsAbs(target) || strings.Contains(target, "\x00") {
		return false
	}
	down := false
	for _, part := range strings.Split(target, "/") {
		switch {
		case part == "..":
			if down {
				return false
			}
		case part != "" && part != ".":
			down = true
		}
	}
	to := path.Join(path.Dir(name), target)
	return to != ".." && !strings.HasPrefix(to, "../")
}

// sparse reports whether h is a GNU sparse file in PAX form (the old GNU
// form has a type of its own, refused as such). troupe's archives never
// hold one, and its holes would unpack to as many zeros as its header
// claims from a few bytes of archive.
func sparse(h *tar.Header) bool {
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}
