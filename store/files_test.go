//go:build unix

package store_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// withUmask runs the test under the common umask 022, under which files are
// created readable by everyone unless asked otherwise.
func withUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
}

func TestTheDatabaseItsWALAndSHMAndItsDirectoryAreTheOwnersAlone(t *testing.T) {
	withUmask(t)
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "handover.db")
	s := storetest.Open(t, "sqlite:"+path)
	if _, err := s.CreateOrganisation(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600}
	for name, mode := range want {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != mode {
			t.Errorf("%s has mode %04o, want %04o", filepath.Base(name), got, mode)
		}
	}
}

func TestADatabaseFileOthersMayReadIsLeftAloneWithAWarning(t *testing.T) {
	withUmask(t)
	path := filepath.Join(t.TempDir(), "handover.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	box, _ := secret.NewBox(storetest.Key)
	s, err := store.Open(context.Background(), "sqlite:"+path, box, store.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(logs.String(), "chmod 600") || !strings.Contains(logs.String(), "mode=0644") {
		t.Fatalf("no warning about the file's mode:\n%s", logs.String())
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o644 {
		t.Fatalf("the operator's file mode was changed to %04o", info.Mode().Perm())
	}
}

func TestACheckpointEmptiesTheWriteAheadLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "handover.db")
	s := storetest.Open(t, "sqlite:"+path)
	ctx := context.Background()
	for i := range 50 {
		if _, err := s.InsertWebhook(ctx, &store.Webhook{Body: strings.Repeat("x", 10_000), Verdict: store.VerdictMalformed, Status: 400, VerdictDetail: string(rune('a' + i%26))}); err != nil {
			t.Fatal(err)
		}
	}
	if info, err := os.Stat(path + "-wal"); err != nil || info.Size() == 0 {
		t.Fatalf("no write-ahead log to checkpoint: %v", err)
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path + "-wal"); err != nil || info.Size() != 0 {
		t.Fatalf("after the checkpoint the write-ahead log holds %d bytes, %v", info.Size(), err)
	}
}
