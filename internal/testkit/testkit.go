// Package testkit holds the few helpers the black-box suites (e2e/) and
// main's own test share: a log buffer, a free loopback address, and a wait
// on a condition with a deadline.
package testkit

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// SyncBuffer collects a log while a server writes to it.
type SyncBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

// FreeAddr is a loopback address nothing listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// WaitFor waits until cond holds, checking it on a ticker, and fails the
// test when timeout passes first.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		select {
		case <-poll.C:
		case <-deadline.C:
			if cond() {
				return
			}
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

// WaitReady waits until base answers /readyz, and fails at once if the
// server stops first (exited yields why).
func WaitReady(t testing.TB, timeout time.Duration, base string, exited <-chan error) {
	t.Helper()
	WaitFor(t, timeout, "the server ready", func() bool {
		select {
		case err := <-exited:
			t.Fatalf("the server stopped before it was ready: %v", err)
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Serve runs serve until the returned stop is called (or the test ends),
// once base answers /readyz; stop gives it grace to shut down. The log
// is shown when it never got ready.
func Serve(t testing.TB, base string, logs *SyncBuffer, grace time.Duration, serve func(context.Context) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	ready := false
	defer func() {
		if !ready { // the server stopped, or WaitReady gave up: show why
			t.Logf("server log:\n%s", logs)
		}
	}()
	WaitReady(t, 10*time.Second, base, done)
	ready = true
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(grace + 5*time.Second):
				t.Fatal("server did not shut down")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	return stop
}

// SignedInClient signs in through the real login form over HTTP.
func SignedInClient(t testing.TB, base, user, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	resp, err := client.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	token := regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`).FindSubmatch(body)
	if token == nil {
		t.Fatalf("no CSRF token on the login page:\n%s", body)
	}
	resp, err = client.PostForm(base+"/login", url.Values{"username": {user}, "password": {password}, "_csrf": {string(token[1])}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("sign in as %s: ended at %s with %d", user, resp.Request.URL, resp.StatusCode)
	}
	return client
}
