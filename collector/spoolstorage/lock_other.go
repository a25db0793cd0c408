//go:build !unix

package spoolstorage

// lockDir does nothing where flock(2) is missing.
func lockDir(string) (func(), error) { return func() {}, nil }
