package chusers

import (
	"fmt"
	"os"
	"regexp"
	"time"
)

// SetProfile returns a users file with user's <profile> replaced.
func SetProfile(users []byte, user, profile string) []byte {
	re := regexp.MustCompile(`(?s)(<` + regexp.QuoteMeta(user) + `>.*?<profile>)[^<]*(</profile>)`)
	return re.ReplaceAll(users, []byte("${1}"+profile+"${2}"))
}

// Rewrite replaces a users file so that the server notices: 18.16 compares
// modification times in whole seconds, so a rewrite within the second of the
// last load would go unseen; the new time is set 2 s ahead.
func Rewrite(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("rewrite users file: %w", err)
	}
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		return fmt.Errorf("rewrite users file: %w", err)
	}
	return nil
}
