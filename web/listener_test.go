package web

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
)

// flakyListener fails its first accepts as a process out of file handles does.
type flakyListener struct {
	net.Listener
	failures atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, fmt.Errorf("accept tcp: %w", syscall.EMFILE)
	}
	return l.Listener.Accept()
}

func TestAFailedAcceptIsRetriedAndCountedInsteadOfEndingTheServer(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	flaky := &flakyListener{Listener: inner}
	flaky.failures.Store(3)
	var counted atomic.Int32
	ln := GuardListener(flaky, ListenerConfig{MaxConnections: 4, OnAcceptError: func() { counted.Add(1) }})
	defer ln.Close()
	client, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatalf("Accept gave up: %v; want it to retry past out-of-file-handle errors", err)
	}
	conn.Close()
	if n := counted.Load(); n != 3 {
		t.Fatalf("%d accept errors counted, want 3", n)
	}
}

func TestAtMostMaxConnectionsAreOpenAndAClosedOneFreesItsSlot(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := GuardListener(inner, ListenerConfig{MaxConnections: 2})
	defer ln.Close()
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted while two were open")
	default:
	}
	// The third is accepted as soon as one of the two closes: the positive
	// marker that the cap, not a failure, held it back.
	first.Close()
	if third := <-accepted; third == nil {
		t.Fatal("the listener closed instead of accepting the waiting connection")
	}
	second.Close()
	ln.Close()
	for c := range accepted {
		if c != nil {
			c.Close()
		}
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}
}

func TestTheConnectionLimitKeepsAReserveBelowTheFileHandleLimit(t *testing.T) {
	limit, handles := ConnectionLimit()
	if handles > 0 && (limit >= handles || handles-limit < 64) {
		t.Fatalf("limit %d of %d file handles keeps no reserve", limit, handles)
	}
}
