package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects the log while the server writes to it.
type syncBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer runs the real wiring (run) until the returned stop is called.
func startServer(t *testing.T, env map[string]string) (logs *syncBuffer, stop func() error) {
	t.Helper()
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, logs) }()
	base := "http://" + env["HANDOVER_ADDR"]
	ready := false
	defer func() {
		if !ready { // the server stopped, or waitFor gave up: show why
			t.Logf("server log:\n%s", logs)
		}
	}()
	waitReady(t, 10*time.Second, base, done)
	ready = true
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(shutdownGrace + 5*time.Second):
				t.Fatal("server did not shut down")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	return logs, stop
}

func TestFirstStartCreatesTheDatabaseAndAnAdminWhoCanSignIn(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	env := map[string]string{"HANDOVER_ADDR": addr, "HANDOVER_DATABASE_URL": "sqlite:" + filepath.Join(dir, "handover.db")}
	logs, stop := startServer(t, env)

	match := regexp.MustCompile(`password=([0-9a-f]+)`).FindStringSubmatch(logs.String())
	if match == nil {
		t.Fatalf("no generated admin password in the log:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "console=http://"+addr+"/") {
		t.Fatalf("the log does not say where to open the console:\n%s", logs)
	}
	client := signedInClient(t, "http://"+addr, "admin", match[1])

	if err := probeReady(context.Background(), addr); err != nil {
		t.Fatalf("-healthcheck against a running server: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
	if err := probeReady(context.Background(), addr); err == nil {
		t.Fatal("-healthcheck passed with the server stopped")
	}

	// A restart on the same database keeps the admin and the session, and prints no new password.
	logs, _ = startServer(t, env)
	if strings.Contains(logs.String(), "password=") {
		t.Fatalf("restart printed a password again:\n%s", logs)
	}
	resp, err := client.Get("http://" + addr + "/endpoints")
	if err != nil || resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/endpoints" {
		t.Fatalf("session after restart: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestAdminPasswordFromTheEnvironment(t *testing.T) {
	addr := freeAddr(t)
	startServer(t, map[string]string{
		"HANDOVER_ADDR":           addr,
		"HANDOVER_DATABASE_URL":   "sqlite:" + filepath.Join(t.TempDir(), "handover.db"),
		"HANDOVER_ADMIN_USER":     "ops",
		"HANDOVER_ADMIN_PASSWORD": "from-the-environment",
	})
	signedInClient(t, "http://"+addr, "ops", "from-the-environment")
}

func TestStartFailsClearlyOnBadConfiguration(t *testing.T) {
	err := run(context.Background(), nil, func(k string) string {
		return map[string]string{"HANDOVER_SECRET_KEY": "too-short"}[k]
	}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "HANDOVER_SECRET_KEY") {
		t.Fatalf("err = %v", err)
	}
}

// signedInClient signs in through the real login form over HTTP.
func signedInClient(t *testing.T, base, user, password string) *http.Client {
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
