package sqlite

import (
	"errors"
	"io/fs"
	"os"
)

// fileMode is the mode of the database file and of its -wal and -shm files:
// readable and writable by the server's user only.
const fileMode = 0o600

// restrictFiles creates the database file with fileMode when it is missing
// (SQLite gives the -wal and -shm files it creates later the mode of the
// database file) and narrows the mode of the database and its -wal and -shm
// files when they exist with a wider one.
func restrictFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&^fileMode != 0 {
			if err := os.Chmod(p, fileMode); err != nil {
				return err
			}
		}
	}
	return nil
}
