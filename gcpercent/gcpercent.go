// Package gcpercent sets a process's garbage-collection target, unless its
// operator has set one with GOGC.
package gcpercent

import "runtime/debug"

// SetDefault sets the GC target to percent when getenv (os.Getenv) finds no
// GOGC, and reports whether it did.
func SetDefault(percent int, getenv func(string) string) bool {
	if getenv("GOGC") != "" {
		return false
	}
	debug.SetGCPercent(percent)
	return true
}
