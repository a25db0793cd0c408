package spoolstorage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"
)

// Files of a client's directory.
const (
	keyPrefix   = "k-" // a key's value: k-<hex of the key>
	tmpPrefix   = "t-" // a value written by a batch not yet committed
	journalName = "journal"
	journalTmp  = "journal.tmp"
	lockName    = "lock"
	journalEnd  = "END" // last line of a whole journal
)

var errClosed = errors.New("settlewatch_spool: the client is closed")

// client is the storage of one component: a directory of files.
type client struct {
	dir     string
	journal string // the committed journal's path, built once
	fsync   bool
	logger  *zap.Logger
	unlock  func()
	onClose func()

	mu        sync.Mutex
	closed    bool
	seq       uint64
	unapplied bool // a committed journal is not applied yet
}

var _ storage.Client = (*client)(nil)

func openClient(dir string, fsync bool, logger *zap.Logger) (*client, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	unlock, err := lockDir(filepath.Join(dir, lockName))
	if err != nil {
		return nil, fmt.Errorf("%s: %w (is another collector using this queue directory?)", dir, err)
	}
	c := &client{dir: dir, journal: filepath.Join(dir, journalName), fsync: fsync, logger: logger, unlock: unlock}
	if err := c.recover(); err != nil {
		unlock()
		return nil, err
	}
	return c, nil
}

// recover finishes the batch whose journal was committed, then removes the
// temporary files of batches that were not.
func (c *client) recover() error {
	if err := c.finishJournal(); err != nil {
		return err
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", c.dir, err)
	}
	removed := 0
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, tmpPrefix) || n == journalTmp {
			if err := os.Remove(filepath.Join(c.dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove uncommitted %s: %w", n, err)
			}
			removed++
		}
	}
	if removed > 0 {
		c.logger.Info("Removed the files of batches interrupted before they committed", zap.Int("files", removed))
	}
	return nil
}

// finishJournal applies a committed journal, if there is one, and removes it.
// Applying is idempotent: a value already renamed into place has no
// temporary file left, a key already deleted has no file.
func (c *client) finishJournal() error {
	b, err := readWhole(c.journal)
	if errors.Is(err, fs.ErrNotExist) {
		c.unapplied = false
		return nil
	}
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	changes, err := parseJournal(b)
	if err != nil {
		// Only a power loss with fsync off tears a journal (it is renamed
		// into place whole): the batch is lost as it would be with
		// file_storage; say so loudly and go on.
		c.logger.Error("Discarding a torn journal: the batch it held is lost", zap.Error(err))
		changes = nil
	}
	return c.applyJournal(changes)
}

// applyJournal puts a committed journal's changes in place and removes the
// journal. A batch that has just committed passes its changes from memory
// (reading its journal back cost four system calls a batch, three batches
// a queued request); a failure leaves the journal for the next batch or the
// next start to read and finish.
func (c *client) applyJournal(changes []change) error {
	for _, ch := range changes {
		if err := c.apply(ch, true); err != nil {
			c.unapplied = true
			return fmt.Errorf("apply journal: %w", err)
		}
	}
	if len(changes) > 0 {
		if err := c.syncDir(); err != nil {
			c.unapplied = true
			return err
		}
	}
	if err := removeFile(c.journal); err != nil {
		c.unapplied = true
		return fmt.Errorf("remove journal: %w", err)
	}
	c.unapplied = false
	return nil
}

// change is one key's new state in a batch: a value in a temporary file,
// or deleted.
type change struct {
	key   string // file name of the key
	tmp   string // temporary file name; "" deletes
	value []byte // what tmp holds, for a Get later in the same batch
}

func (c *client) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	err := c.Batch(ctx, op)
	return op.Value, err
}

func (c *client) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, storage.SetOperation(key, value))
}

func (c *client) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, storage.DeleteOperation(key))
}

// Batch runs ops in order, all or none: a Get sees the batch's own earlier
// Set and Delete; the batch's writes become visible together.
func (c *client) Batch(ctx context.Context, ops ...*storage.Operation) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	if c.unapplied {
		if err := c.finishJournal(); err != nil {
			return err
		}
	}
	var changes []change
	pending := map[string]int{} // key → its change
	committed := false
	defer func() {
		if err != nil && !committed { // the batch did not commit: its files go
			for _, ch := range changes {
				if ch.tmp != "" {
					_ = removeFile(filepath.Join(c.dir, ch.tmp))
				}
			}
		}
	}()
	for _, op := range ops {
		name := keyPrefix + hex.EncodeToString([]byte(op.Key))
		switch op.Type {
		case storage.Get:
			if i, ok := pending[name]; ok {
				op.Value = nil
				if changes[i].tmp != "" {
					op.Value = bytes.Clone(changes[i].value)
				}
				continue
			}
			if op.Value, err = c.read(name); err != nil {
				return fmt.Errorf("get %q: %w", op.Key, err)
			}
		case storage.Set, storage.Delete:
			ch := change{key: name}
			if op.Type == storage.Set {
				if ch.tmp, err = c.write(op.Value); err != nil {
					return fmt.Errorf("set %q: %w", op.Key, err)
				}
				ch.value = op.Value
			}
			if i, ok := pending[name]; ok {
				if old := changes[i].tmp; old != "" {
					_ = removeFile(filepath.Join(c.dir, old))
				}
				changes[i] = ch
				continue
			}
			pending[name] = len(changes)
			changes = append(changes, ch)
		default:
			return fmt.Errorf("settlewatch_spool: operation %d on %q: unknown type", op.Type, op.Key)
		}
	}
	committed, err = c.commit(changes)
	return err
}

// commit makes the changes visible: one by itself (a rename or an unlink is
// atomic), several through the journal. Once it reports committed, the
// batch's temporary files belong to the journal, whatever fails after.
func (c *client) commit(changes []change) (committed bool, err error) {
	switch len(changes) {
	case 0:
		return false, nil
	case 1:
		if err := c.apply(changes[0], false); err != nil {
			return false, err
		}
		return true, c.syncDir()
	}
	var j strings.Builder
	for _, ch := range changes {
		if ch.tmp == "" {
			fmt.Fprintf(&j, "D %s\n", ch.key)
		} else {
			fmt.Fprintf(&j, "S %s %s\n", ch.key, ch.tmp)
		}
	}
	j.WriteString(journalEnd + "\n")
	if err := c.writeFile(journalTmp, []byte(j.String())); err != nil {
		return false, fmt.Errorf("write journal: %w", err)
	}
	if err := renameFile(filepath.Join(c.dir, journalTmp), c.journal); err != nil {
		return false, fmt.Errorf("commit journal: %w", err)
	}
	// Committed: from here a failure leaves the journal for the next batch
	// or the next start to finish.
	if err := c.syncDir(); err != nil {
		c.unapplied = true
		return true, err
	}
	if err := c.applyJournal(changes); err != nil {
		c.logger.Warn("Batch committed; applying it failed and is retried", zap.Error(err))
	}
	return true, nil
}

// apply puts one change in place. Replaying a journal, a temporary file
// already renamed is no error.
func (c *client) apply(ch change, replay bool) error {
	dst := filepath.Join(c.dir, ch.key)
	if ch.tmp == "" {
		if err := removeFile(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", ch.key, err)
		}
		return nil
	}
	err := renameFile(filepath.Join(c.dir, ch.tmp), dst)
	if replay && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("put %s in place: %w", ch.key, err)
	}
	return nil
}

func (c *client) read(name string) ([]byte, error) {
	b, err := readWhole(filepath.Join(c.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// write stores v in a new temporary file and returns its name.
func (c *client) write(v []byte) (string, error) {
	c.seq++
	name := tmpPrefix + strconv.FormatUint(c.seq, 10)
	return name, c.writeFile(name, v)
}

func (c *client) writeFile(name string, v []byte) error {
	path := filepath.Join(c.dir, name)
	if err := writeWhole(path, v, c.fsync); err != nil {
		_ = removeFile(path)
		return full(err)
	}
	return nil
}

// full marks a full disk as the storage API's ErrStorageFull.
func full(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", storage.ErrStorageFull, err)
	}
	return err
}

func (c *client) syncDir() error {
	if !c.fsync {
		return nil
	}
	d, err := os.Open(c.dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", c.dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", c.dir, err)
	}
	return nil
}

func (c *client) Close(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.unlock()
	if c.onClose != nil {
		c.onClose()
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

// Keys lists the keys whose values are stored in a client's directory (one
// subdirectory of the extension's directory), read from the file names:
// for tools and tests that look at a queue without opening it.
func Keys(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var keys []string
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), keyPrefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		k, err := hex.DecodeString(name)
		if err != nil {
			return nil, fmt.Errorf("%s: not a key's file: %w", e.Name(), err)
		}
		keys = append(keys, string(k))
	}
	return keys, nil
}
