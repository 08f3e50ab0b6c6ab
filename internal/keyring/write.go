package keyring

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeNew creates path with data, mode 0600, never replacing an existing file: data goes
// to a temporary file in the same directory, is synced, and is then hard-linked to path,
// which fails if path exists. A crash leaves either no file or the whole file, never a
// truncated key under its name.
func writeNew(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		if os.IsExist(err) {
			return fmt.Errorf("%s: %w", path, os.ErrExist)
		}
		return err
	}
	return syncDir(dir)
}

// syncDir makes the directory's entries (a new or removed key file) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
