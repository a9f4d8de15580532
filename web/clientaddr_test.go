package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store/storetest"
	"github.com/handover-relay/handover/web"
)

// These tests serve the real app on a loopback listener: the peer address
// (127.0.0.1) is what decides whether X-Forwarded-For is believed, and
// app.Test has no real peer.

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

// serve starts the app on 127.0.0.1 with HANDOVER_TRUSTED_PROXIES set to
// trusted, and returns its base URL and log.
func serve(t *testing.T, trusted string) (string, *syncBuffer) {
	t.Helper()
	env := map[string]string{"HANDOVER_SECRET_KEY": strings.Repeat("07", 32), "HANDOVER_TRUSTED_PROXIES": trusted}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.New(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery staple"), bcrypt.MinCost)
	if _, err := st.CreateAdmin(context.Background(), "admin", string(hash)); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	app := web.New(web.Deps{Config: cfg, Store: st, Logger: logger, Relay: relay.New(relay.Config{Store: st, Logger: logger})})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	t.Cleanup(func() {
		if err := app.Shutdown(); err != nil {
			t.Errorf("shut down: %v", err)
		}
		if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), logs
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`)

// wrongPassword fetches the sign-in form and posts a wrong password with
// the X-Forwarded-For header given, returning the status.
func wrongPassword(t *testing.T, base, forwardedFor string) int {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	token := csrfField.FindSubmatch(body)
	if token == nil {
		t.Fatalf("no CSRF token on the sign-in page:\n%s", body)
	}
	form := url.Values{"username": {"admin"}, "password": {"wrong"}, "_csrf": {string(token[1])}}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", forwardedFor)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// statuses sends 30 wrong passwords, the n-th with forwardedFor(n), and
// returns the answers.
func statuses(t *testing.T, base string, forwardedFor func(n int) string) []int {
	t.Helper()
	out := make([]int, 30)
	for n := range out {
		out[n] = wrongPassword(t, base, forwardedFor(n))
	}
	return out
}

func throttledAfterTen(got []int) bool {
	for n, status := range got {
		if (n < 10 && status != http.StatusUnauthorized) || (n >= 10 && status != http.StatusTooManyRequests) {
			return false
		}
	}
	return true
}

func TestAClientBehindATrustedProxyIsThrottledWhateverItWritesBeforeItsAddress(t *testing.T) {
	base, logs := serve(t, "127.0.0.1")
	// The client writes "10.9.N.1" itself; the proxy (127.0.0.1) appends the
	// address it saw. Only that rightmost entry is the client's address.
	got := statuses(t, base, func(n int) string { return fmt.Sprintf("10.9.%d.1, 203.0.113.7", n) })
	if !throttledAfterTen(got) {
		t.Fatalf("answers %v; want 10 × 401, then 429 for the same client", got)
	}
	if !strings.Contains(logs.String(), "remote_ip=203.0.113.7") || strings.Contains(logs.String(), "10.9.") {
		t.Fatalf("the log does not name the client's address alone:\n%s", logs)
	}
}

func TestAForwardedForFromAnUntrustedPeerIsIgnored(t *testing.T) {
	base, logs := serve(t, "10.0.0.0/8")
	// The peer, 127.0.0.1, is no trusted proxy: whatever it claims, it is
	// counted, and logged, as itself.
	got := statuses(t, base, func(n int) string { return fmt.Sprintf("198.51.100.%d", n) })
	if !throttledAfterTen(got) {
		t.Fatalf("answers %v; want 10 × 401, then 429 for the peer", got)
	}
	if strings.Contains(logs.String(), "198.51.100.") || !strings.Contains(logs.String(), "remote_ip=127.0.0.1") {
		t.Fatalf("a spoofed address reached the log:\n%s", logs)
	}
}
