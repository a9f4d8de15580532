package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/handover-relay/handover/app"
	"github.com/handover-relay/handover/internal/testkit"
)

// startServer runs main's own run until the returned stop is called.
func startServer(t *testing.T, env map[string]string) (logs *testkit.SyncBuffer, stop func() error) {
	t.Helper()
	logs = &testkit.SyncBuffer{}
	stop = testkit.Serve(t, "http://"+env["HANDOVER_ADDR"], logs, app.ShutdownGrace, func(ctx context.Context) error {
		return run(ctx, nil, func(k string) string { return env[k] }, logs)
	})
	return logs, stop
}

func TestFirstStartCreatesTheDatabaseAndAnAdminWhoCanSignIn(t *testing.T) {
	dir := t.TempDir()
	addr := testkit.FreeAddr(t)
	env := map[string]string{"HANDOVER_ADDR": addr, "HANDOVER_DATABASE_URL": "sqlite:" + filepath.Join(dir, "handover.db")}
	logs, stop := startServer(t, env)

	match := regexp.MustCompile(`password=([0-9a-f]+)`).FindStringSubmatch(logs.String())
	if match == nil {
		t.Fatalf("no generated admin password in the log:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "console=http://"+addr+"/") {
		t.Fatalf("the log does not say where to open the console:\n%s", logs)
	}
	client := testkit.SignedInClient(t, "http://"+addr, "admin", match[1])

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
	addr := testkit.FreeAddr(t)
	startServer(t, map[string]string{
		"HANDOVER_ADDR":           addr,
		"HANDOVER_DATABASE_URL":   "sqlite:" + filepath.Join(t.TempDir(), "handover.db"),
		"HANDOVER_ADMIN_USER":     "ops",
		"HANDOVER_ADMIN_PASSWORD": "from-the-environment",
	})
	testkit.SignedInClient(t, "http://"+addr, "ops", "from-the-environment")
}

func TestStartFailsClearlyOnBadConfiguration(t *testing.T) {
	err := run(context.Background(), nil, func(k string) string {
		return map[string]string{"HANDOVER_SECRET_KEY": "too-short"}[k]
	}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "HANDOVER_SECRET_KEY") {
		t.Fatalf("err = %v", err)
	}
}
