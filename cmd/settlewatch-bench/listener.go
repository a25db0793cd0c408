package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// listenerPID finds the process listening on addr's TCP port on this host,
// from /proc/net/tcp{,6} and the processes' open sockets, so that the
// benchmark can read the ClickHouse server's CPU time beside the
// collector's. It fails for a remote address or a process it may not see.
func listenerPID(addr string) (int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("server address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return 0, fmt.Errorf("server %s is not on this host", addr)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("server address %q: port: %w", addr, err)
	}
	var inodes []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue // no IPv6 here
		}
		found, err := listeningInodes(f, uint16(port))
		_ = f.Close()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", table, err)
		}
		inodes = append(inodes, found...)
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing listens on port %d", port)
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		link, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		for _, ino := range inodes {
			if link == "socket:["+ino+"]" {
				pid, err := strconv.Atoi(strings.Split(fd, "/")[2])
				if err != nil {
					return 0, fmt.Errorf("%s: %w", fd, err)
				}
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no visible process holds the socket listening on port %d", port)
}

// listeningInodes returns the inodes of the sockets in LISTEN state on port
// in one /proc/net/tcp table.
func listeningInodes(r io.Reader, port uint16) ([]string, error) {
	const listen = "0A"
	var out []string
	sc := bufio.NewScanner(r)
	sc.Scan() // the header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			return nil, fmt.Errorf("unexpected line %q", sc.Text())
		}
		_, hexPort, ok := strings.Cut(f[1], ":") // local_address, e.g. 0100007F:4C2C
		if !ok {
			return nil, fmt.Errorf("local address %q", f[1])
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			return nil, fmt.Errorf("local address %q: %w", f[1], err)
		}
		if uint16(p) == port && f[3] == listen {
			out = append(out, f[9])
		}
	}
	return out, sc.Err()
}
