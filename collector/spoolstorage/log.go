package spoolstorage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The log holds the client's committed batches, one record each, appended
// in order: a small value in full (the queue's metadata, rewritten by every
// batch), a large value as the temporary file to rename over its key, a
// deletion as the key. Appending one record is the commit; renaming and
// unlinking the files after it can be redone from the log, so the log is
// rewritten to a snapshot of the small values only once those are durable.
//
// A record is its payload's length and CRC-32C (4 bytes each, little
// endian), then the payload: changes, each a kind byte, the key's file name
// (uvarint length, bytes), then for opInline the value (uvarint length,
// bytes) and for opFile the temporary file's sequence number (uvarint).
const (
	logName    = "log"
	logTmp     = "log.tmp"
	inlineMax  = 4 << 10 // larger values get a file of their own
	compactAt  = 1 << 20 // log size that has it rewritten
	headerSize = 8

	opInline = 'V'
	opFile   = 'F'
	opDelete = 'D'
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends one record of changes to b.
func appendRecord(b []byte, changes []change) []byte {
	start := len(b)
	b = append(b, make([]byte, headerSize)...)
	for _, ch := range changes {
		switch {
		case ch.inline:
			b = append(b, opInline)
			b = appendBytes(b, ch.key)
			b = binary.AppendUvarint(b, uint64(len(ch.value)))
			b = append(b, ch.value...)
		case ch.tmp != "":
			b = append(b, opFile)
			b = appendBytes(b, ch.key)
			b = binary.AppendUvarint(b, ch.seq)
		default:
			b = append(b, opDelete)
			b = appendBytes(b, ch.key)
		}
	}
	payload := b[start+headerSize:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(payload, crcTable))
	return b
}

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func tmpName(seq uint64) string { return tmpPrefix + strconv.FormatUint(seq, 10) }

// errTorn is a record cut short or not matching its checksum: a batch whose
// append a power loss interrupted (with fsync off), never acknowledged as
// committed when the disk kept it.
var errTorn = errors.New("the log's last record is torn")

// parseLog reads a log's records in order and returns each key's last change
// (the state the log leaves). A torn record ends it: the records before it
// are returned with errTorn.
func parseLog(b []byte) (last map[string]change, err error) {
	last = map[string]change{}
	for len(b) > 0 {
		if len(b) < headerSize {
			return last, errTorn
		}
		n := binary.LittleEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-headerSize) {
			return last, errTorn
		}
		payload := b[headerSize : headerSize+int(n)]
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(b[4:]) {
			return last, errTorn
		}
		b = b[headerSize+int(n):]
		for len(payload) > 0 {
			var ch change
			op := payload[0]
			payload = payload[1:]
			var ok bool
			if ch.key, payload, ok = readBytes(payload); !ok || !strings.HasPrefix(ch.key, keyPrefix) {
				return nil, fmt.Errorf("log record with a bad key")
			}
			switch op {
			case opInline:
				var v string
				if v, payload, ok = readBytes(payload); !ok {
					return nil, fmt.Errorf("log record with a bad value of %s", ch.key)
				}
				ch.inline, ch.value = true, append([]byte{}, v...)
			case opFile:
				seq, k := binary.Uvarint(payload)
				if k <= 0 {
					return nil, fmt.Errorf("log record with a bad file of %s", ch.key)
				}
				payload = payload[k:]
				ch.seq, ch.tmp = seq, tmpName(seq)
			case opDelete:
			default:
				return nil, fmt.Errorf("log record with change %q", op)
			}
			last[ch.key] = ch
		}
	}
	return last, nil
}

func readBytes(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

// replayLog puts the state the log leaves in place: large values renamed
// over their keys (a file already renamed has no temporary file left), the
// files of keys deleted or now small unlinked, and returns the small values.
// Only each key's last change is applied, so replaying twice, or after the
// batches were half applied, ends the same.
func (c *client) replayLog(atOpen bool) (map[string][]byte, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, logName))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	last, err := parseLog(b)
	switch {
	case errors.Is(err, errTorn) && atOpen:
		c.logger.Error("Discarding the torn last record of the queue's log: the batch it held is lost")
	case errors.Is(err, errTorn):
		// An append that failed and could not be cut back: its batch was
		// reported as failed.
	case err != nil:
		return nil, fmt.Errorf("read log: %w", err)
	}
	small := map[string][]byte{}
	for key, ch := range last {
		dst := filepath.Join(c.dir, key)
		var aerr error
		switch {
		case ch.inline:
			small[key] = ch.value
			aerr = removeIfAny(dst)
		case ch.tmp != "":
			if aerr = os.Rename(filepath.Join(c.dir, ch.tmp), dst); errors.Is(aerr, fs.ErrNotExist) {
				aerr = nil // renamed before
			}
		default:
			aerr = removeIfAny(dst)
		}
		if aerr != nil {
			return nil, fmt.Errorf("replay log: %s: %w", key, aerr)
		}
	}
	return small, nil
}

func removeIfAny(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// writeSnapshot replaces the log by one record of the small values, once
// every change of the old log is in place (and, with fsync, durable).
func (c *client) writeSnapshot() error {
	if c.log != nil {
		if err := c.log.Close(); err != nil {
			return fmt.Errorf("close log: %w", err)
		}
		c.log = nil
	}
	if err := c.syncDir(); err != nil {
		return err
	}
	snap := make([]change, 0, len(c.small))
	for key, v := range c.small {
		snap = append(snap, change{key: key, inline: true, value: v})
	}
	var rec []byte
	if len(snap) > 0 {
		rec = appendRecord(nil, snap)
	}
	if err := c.writeFile(logTmp, rec); err != nil {
		return fmt.Errorf("write log snapshot: %w", err)
	}
	if err := os.Rename(filepath.Join(c.dir, logTmp), filepath.Join(c.dir, logName)); err != nil {
		return fmt.Errorf("replace log: %w", err)
	}
	if err := c.syncDir(); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(c.dir, logName), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	c.log, c.logSize = f, int64(len(rec))
	return nil
}

// appendLog commits a batch: its record appended in one write (and flushed
// with fsync). A failed append is cut off again, so that the next record
// does not follow a torn one.
func (c *client) appendLog(changes []change) error {
	c.rec = appendRecord(c.rec[:0], changes)
	_, err := c.log.Write(c.rec)
	if err == nil && c.fsync {
		err = c.log.Sync()
	}
	if err != nil {
		if terr := c.log.Truncate(c.logSize); terr != nil {
			c.stale = fmt.Errorf("the queue's log could not be cut back after a failed append: %w", terr)
		}
		return full(fmt.Errorf("append to log: %w", err))
	}
	c.logSize += int64(len(c.rec))
	return nil
}
