package spoolstorage

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"
)

// Files of a client's directory.
const (
	keyPrefix = "k-" // a large value: k-<hex of the key>
	tmpPrefix = "t-" // a large value written by a batch not yet applied
	lockName  = "lock"
)

var errClosed = errors.New("settlewatch_spool: the client is closed")

// client is the storage of one component: a directory holding the log of
// its batches and a file per large value.
type client struct {
	dir     string
	fsync   bool
	logger  *zap.Logger
	unlock  func()
	onClose func()

	mu      sync.Mutex
	closed  bool
	seq     uint64
	small   map[string][]byte // key's file name → a value kept in the log
	files   map[string]bool   // keys whose value is a file
	log     *os.File
	logSize int64
	rec     []byte // the record being appended, reused
	// stale is why the files or the memory may be behind the log (a batch
	// committed but not applied, a failed append or snapshot): the next batch
	// reloads from the log first.
	stale error
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
	c := &client{dir: dir, fsync: fsync, logger: logger, unlock: unlock}
	if err := c.finishJournal(); err != nil {
		unlock()
		return nil, err
	}
	if err := c.reload(true); err != nil {
		unlock()
		return nil, err
	}
	return c, nil
}

// reload puts the state the log leaves in place, removes the temporary
// files of batches that never committed, lists the large values' files and
// starts the log afresh from a snapshot of the small values.
func (c *client) reload(atOpen bool) error {
	small, err := c.replayLog(atOpen)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", c.dir, err)
	}
	files := map[string]bool{}
	removed := 0
	for _, e := range entries {
		switch n := e.Name(); {
		case strings.HasPrefix(n, keyPrefix):
			files[n] = true
		case strings.HasPrefix(n, tmpPrefix) || n == journalTmp || n == logTmp:
			if err := removeIfAny(filepath.Join(c.dir, n)); err != nil {
				return fmt.Errorf("remove uncommitted %s: %w", n, err)
			}
			removed++
		}
	}
	if removed > 0 && atOpen {
		c.logger.Info("Removed the files of batches interrupted before they committed", zap.Int("files", removed))
	}
	c.small, c.files = small, files
	if err := c.writeSnapshot(); err != nil {
		return err
	}
	c.stale = nil
	return nil
}

// change is one key's new state in a batch: a small value, a large value in
// a temporary file, or deleted.
type change struct {
	key    string // file name of the key
	inline bool   // value is kept in the log
	tmp    string // temporary file of a large value
	seq    uint64 // tmp's number
	value  []byte // the value, for a Get later in the same batch
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
// Set and Delete; the batch's writes become visible together, when its
// record is appended to the log.
func (c *client) Batch(ctx context.Context, ops ...*storage.Operation) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	if c.stale != nil {
		c.logger.Warn("Reloading the queue's storage from its log", zap.Error(c.stale))
		if err := c.reload(false); err != nil {
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
					_ = os.Remove(filepath.Join(c.dir, ch.tmp))
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
				if changes[i].inline || changes[i].tmp != "" {
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
				ch.value = op.Value
				if len(op.Value) <= inlineMax {
					// Kept beyond the call: a copy, and an empty value is
					// still a value.
					ch.inline, ch.value = true, append([]byte{}, op.Value...)
				} else if ch.tmp, ch.seq, err = c.write(op.Value); err != nil {
					return fmt.Errorf("set %q: %w", op.Key, err)
				}
			}
			if i, ok := pending[name]; ok {
				if old := changes[i].tmp; old != "" {
					_ = os.Remove(filepath.Join(c.dir, old))
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
	if len(changes) == 0 {
		return nil
	}
	committed, err = c.commit(changes)
	return err
}

// commit appends the batch's record to the log, then applies it. Once the
// record is appended the batch's temporary files belong to the log,
// whatever fails after: the next batch reloads from the log.
func (c *client) commit(changes []change) (committed bool, err error) {
	if c.fsync {
		for _, ch := range changes {
			if ch.tmp != "" { // the temporary files' names must outlive a power loss before the log names them
				if err := c.syncDir(); err != nil {
					return false, err
				}
				break
			}
		}
	}
	if err := c.appendLog(changes); err != nil {
		return false, err
	}
	for _, ch := range changes {
		if err := c.apply(ch); err != nil {
			c.stale = err
			c.logger.Warn("Batch committed; applying it failed and is retried", zap.Error(err))
			return true, nil
		}
	}
	if c.logSize > compactAt {
		if err := c.writeSnapshot(); err != nil {
			c.stale = err
		}
	}
	return true, nil
}

// apply puts a committed change in place, in memory and on disk.
func (c *client) apply(ch change) error {
	dst := filepath.Join(c.dir, ch.key)
	switch {
	case ch.inline:
		c.small[ch.key] = ch.value
	case ch.tmp != "":
		if err := os.Rename(filepath.Join(c.dir, ch.tmp), dst); err != nil {
			return fmt.Errorf("put %s in place: %w", ch.key, err)
		}
		delete(c.small, ch.key)
		c.files[ch.key] = true
		return nil
	default:
		delete(c.small, ch.key)
	}
	if c.files[ch.key] { // deleted, or small now
		if err := removeIfAny(dst); err != nil {
			return fmt.Errorf("delete %s: %w", ch.key, err)
		}
		delete(c.files, ch.key)
	}
	return nil
}

func (c *client) read(name string) ([]byte, error) {
	if v, ok := c.small[name]; ok {
		return bytes.Clone(v), nil
	}
	if !c.files[name] {
		return nil, nil
	}
	return os.ReadFile(filepath.Join(c.dir, name))
}

// write stores a large value in a new temporary file.
func (c *client) write(v []byte) (string, uint64, error) {
	c.seq++
	name := tmpName(c.seq)
	return name, c.seq, c.writeFile(name, v)
}

func (c *client) writeFile(name string, v []byte) error {
	f, err := os.OpenFile(filepath.Join(c.dir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return full(err)
	}
	_, err = f.Write(v)
	if err == nil && c.fsync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
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
	if c.log != nil {
		_ = c.log.Close()
	}
	c.unlock()
	if c.onClose != nil {
		c.onClose()
	}
	return nil
}

// Keys lists the keys stored in a client's directory (one subdirectory of
// the extension's directory), from its files and its log, without opening
// it: for tools and tests that look at a queue.
func Keys(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	present := map[string]bool{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), keyPrefix) && e.Type().IsRegular() {
			present[e.Name()] = true
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read log: %w", err)
	}
	last, err := parseLog(b)
	if err != nil && !errors.Is(err, errTorn) {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	for name, ch := range last {
		present[name] = ch.inline || ch.tmp != ""
	}
	var keys []string
	for name, ok := range present {
		if !ok {
			continue
		}
		k, err := hex.DecodeString(strings.TrimPrefix(name, keyPrefix))
		if err != nil {
			return nil, fmt.Errorf("%s: not a key's file: %w", name, err)
		}
		keys = append(keys, string(k))
	}
	return keys, nil
}
