// Package gctarget sets a process's garbage-collection targets, the
// percentage of heap growth (GOGC) and the soft memory limit (GOMEMLIMIT),
// unless its operator has set them in the environment.
package gctarget

import "runtime/debug"

// SetPercent sets the GC target to percent when getenv (os.Getenv) finds no
// GOGC, and reports whether it did.
func SetPercent(percent int, getenv func(string) string) bool {
	return unlessSet("GOGC", getenv, func() { debug.SetGCPercent(percent) })
}

// SetMemoryLimit sets the soft memory limit to bytes when getenv finds no
// GOMEMLIMIT, and reports whether it did. Below the limit the GC percent
// governs; near it the runtime collects sooner, so the process can grow its
// batches up to the limit instead of to percent above their size.
func SetMemoryLimit(bytes int64, getenv func(string) string) bool {
	return unlessSet("GOMEMLIMIT", getenv, func() { debug.SetMemoryLimit(bytes) })
}

// unlessSet runs set unless the environment variable name is set.
func unlessSet(name string, getenv func(string) string, set func()) bool {
	if getenv(name) != "" {
		return false
	}
	set()
	return true
}
