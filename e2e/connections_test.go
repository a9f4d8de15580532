package e2e

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handover-relay/handover/internal/testkit"
)

// The real binary, started with 1,024 file handles as many systems give a
// service, must outlive more idle connections than that and answer as soon
// as they are gone: before, "too many open files" from accept ended it.
func TestTheServerOutlivesMoreIdleConnectionsThanFileHandles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and floods the real binary")
	}
	const handles, idle = 1024, 1500
	bin := buildBinary(t)
	addr := testkit.FreeAddr(t)
	base := "http://" + addr
	env := binaryEnv(map[string]string{"HANDOVER_ADDR": addr, "HANDOVER_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "h.db"),
		"HANDOVER_ADMIN_PASSWORD": "hostile-test-password", "HANDOVER_SANDBOX": "false"})
	p := startBinaryWith(t, []string{"sh", "-c", `ulimit -n 1024 && exec "$0"`, bin}, env, base)
	if log := startLogged(t, p.out); !strings.Contains(log, "file_handle_limit=1024") || !strings.Contains(log, "max_connections=768") {
		t.Fatalf("the start does not say the connection cap for 1,024 handles:\n%s", log)
	}

	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	for range 15 {
		wg.Go(func() {
			for range idle / 15 {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					t.Errorf("connection refused by the kernel: %v", err)
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Every connection is open; the server has taken what its cap allows.
	// One more that sends a request proves the process still serves.
	// The positive marker: the process holds as many connections as its cap
	// allows (its open files, on Linux), the rest wait in the kernel.
	fds := filepath.Join("/proc", strconv.Itoa(p.cmd.Process.Pid), "fd")
	testkit.WaitFor(t, 10*time.Second, "the server at its connection cap", func() bool {
		entries, err := os.ReadDir(fds)
		return err == nil && len(entries) >= 768
	})
	select {
	case err := <-p.done:
		t.Fatalf("handover exited under %d idle connections: %v\n%s", len(conns), err, p.out)
	default:
	}
	for _, c := range conns {
		c.Close()
	}
	testkit.WaitFor(t, 30*time.Second, "/healthz once the idle connections are gone", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	select {
	case err := <-p.done:
		t.Fatalf("handover exited: %v\n%s", err, p.out)
	default:
	}
}
