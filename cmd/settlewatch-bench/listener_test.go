package main

import (
	"net"
	"os"
	"strings"
	"testing"
)

// The process listening on a loopback port is found: here, this test's own.
func TestListenerPIDFindsTheListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pid, err := listenerPID(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if pid != os.Getpid() {
		t.Errorf("pid %d, want this test's %d", pid, os.Getpid())
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if _, err := listenerPID(l.Addr().String()); err == nil || !strings.Contains(err.Error(), "nothing listens") {
		t.Errorf("closed port %d: err %v, want nothing listens", port, err)
	}
	if _, err := listenerPID("192.0.2.1:9000"); err == nil || !strings.Contains(err.Error(), "not on this host") {
		t.Errorf("remote address: err %v", err)
	}
}

// Only sockets in LISTEN state on the port count, not connections to it.
func TestListeningInodes(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:4C2C 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 555 1 0 100 0 0 10 0
   1: 0100007F:D2F0 0100007F:4C2C 01 00000000:00000000 00:00000000 00000000     0        0 666 1 0 20 4 30 10 -1
   2: 0100007F:4C2C 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000   101        0 777 1 0 20 4 30 10 -1
   3: 0100007F:4C2D 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 888 1 0 100 0 0 10 0
`
	got, err := listeningInodes(strings.NewReader(table), 0x4C2C)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "555" {
		t.Errorf("inodes %v, want [555]", got)
	}
	if _, err := listeningInodes(strings.NewReader("header\n 0: garbage\n"), 1); err == nil {
		t.Error("a malformed table was read")
	}
}
