//go:build unix

package spoolstorage

import (
	"io"
	"io/fs"
	"syscall"
)

// The queue's file operations, as bare system calls. Through package os,
// opening a file also costs four fcntl calls and an epoll_ctl that fails
// (os puts every file it opens to its poller, which a regular file refuses),
// and a rename first stats its target: eight system calls for each of the
// six files a queued request writes or reads, where three do
// (docs/benchmarks.md, "The queue's files by bare system calls").

// writeWhole creates or truncates path and writes v to it, flushed to the
// disk first when sync.
func writeWhole(path string, v []byte, sync bool) error {
	fd, err := retry(func() (int, error) {
		return syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC, 0o600)
	})
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	for len(v) > 0 && err == nil {
		var n int
		n, err = retry(func() (int, error) { return syscall.Write(fd, v) })
		if n <= 0 && err == nil {
			err = io.ErrShortWrite
		}
		v = v[max(n, 0):]
	}
	if err == nil && sync {
		_, err = retry(func() (int, error) { return 0, syscall.Fsync(fd) })
	}
	if cerr := syscall.Close(fd); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return &fs.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

// readWhole reads the file at path.
func readWhole(path string) ([]byte, error) {
	fd, err := retry(func() (int, error) { return syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0) })
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if _, err := retry(func() (int, error) { return 0, syscall.Fstat(fd, &st) }); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	// One byte more than its size, so that the read that finds the end
	// needs no room of its own.
	b := make([]byte, 0, int(st.Size)+1)
	for {
		n, err := retry(func() (int, error) { return syscall.Read(fd, b[len(b):cap(b)]) })
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return b, nil
		}
		b = b[:len(b)+n]
		if len(b) == cap(b) { // it grew since the stat
			b = append(b, 0)[:len(b)]
		}
	}
}

// renameFile renames from to to (never a directory).
func renameFile(from, to string) error {
	if _, err := retry(func() (int, error) { return 0, syscall.Rename(from, to) }); err != nil {
		return &fs.PathError{Op: "rename", Path: from + " " + to, Err: err}
	}
	return nil
}

// removeFile removes the file at path.
func removeFile(path string) error {
	if _, err := retry(func() (int, error) { return 0, syscall.Unlink(path) }); err != nil {
		return &fs.PathError{Op: "remove", Path: path, Err: err}
	}
	return nil
}

// retry repeats a system call interrupted by a signal, as package os does.
func retry(call func() (int, error)) (int, error) {
	for {
		n, err := call()
		if err != syscall.EINTR {
			return n, err
		}
	}
}
