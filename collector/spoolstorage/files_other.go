//go:build !unix

package spoolstorage

import "os"

// The queue's file operations through package os, where the bare system
// calls of files_unix.go are not at hand.

func writeWhole(path string, v []byte, sync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(v)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func readWhole(path string) ([]byte, error) { return os.ReadFile(path) }

func renameFile(from, to string) error { return os.Rename(from, to) }

func removeFile(path string) error { return os.Remove(path) }
