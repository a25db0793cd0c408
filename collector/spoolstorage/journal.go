package spoolstorage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"
)

// Before the log, a batch of several changes was committed by a journal
// renamed into place, naming the temporary files to rename over their keys
// and the keys to delete. A directory left by such a collector may hold a
// committed journal: it is finished when the client opens.
const (
	journalName = "journal"
	journalTmp  = "journal.tmp"
	journalEnd  = "END" // last line of a whole journal
)

// finishJournal applies a committed journal, if there is one, and removes
// it. Applying is idempotent: a value already renamed into place has no
// temporary file left, a key already deleted has no file.
func (c *client) finishJournal() error {
	path := filepath.Join(c.dir, journalName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	changes, err := parseJournal(b)
	if err != nil {
		// Only a power loss with fsync off tears a journal (it is renamed
		// into place whole): the batch is lost; say so loudly and go on.
		c.logger.Error("Discarding a torn journal: the batch it held is lost", zap.Error(err))
		changes = nil
	}
	for _, ch := range changes {
		dst := filepath.Join(c.dir, ch.key)
		if ch.tmp == "" {
			err = removeIfAny(dst)
		} else if err = os.Rename(filepath.Join(c.dir, ch.tmp), dst); errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		if err != nil {
			return fmt.Errorf("finish journal: %s: %w", ch.key, err)
		}
	}
	if err := c.syncDir(); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove journal: %w", err)
	}
	return nil
}

// parseJournal reads the changes of a journal, refusing one without its
// last line.
func parseJournal(b []byte) ([]change, error) {
	var out []change
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == journalEnd:
			return out, nil
		case len(f) == 2 && f[0] == "D" && strings.HasPrefix(f[1], keyPrefix):
			out = append(out, change{key: f[1]})
		case len(f) == 3 && f[0] == "S" && strings.HasPrefix(f[1], keyPrefix) && strings.HasPrefix(f[2], tmpPrefix):
			out = append(out, change{key: f[1], tmp: f[2]})
		default:
			return nil, fmt.Errorf("journal line %q", sc.Text())
		}
	}
	return nil, errors.New("journal ends before its last line")
}
