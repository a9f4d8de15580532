package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// The writer commits without checkpointing, and the checkpointer copies the
// log into the database file once enough commits have gone by.
func TestTheCheckpointerNotTheWriterCopiesTheLog(t *testing.T) {
	ctx := context.Background()
	checkpointed := make(chan int, 8)
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "h.db"), nil, Options{checkpointed: checkpointed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var auto int
	if err := s.db.WithContext(ctx).Raw("PRAGMA wal_autocheckpoint").Scan(&auto).Error; err != nil || auto != 0 {
		t.Fatalf("the writer's automatic checkpoint is every %d pages (%v), want off", auto, err)
	}
	for i := range checkpointEvery {
		if err := s.InsertAPICall(ctx, &APICall{Method: "POST", Path: "/", Status: 200, Attempt: i}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case copied := <-checkpointed:
		if copied == 0 {
			t.Fatalf("the checkpoint after %d commits copied no page of the log", checkpointEvery)
		}
	case <-time.After(time.Minute):
		t.Fatalf("no checkpoint a minute after %d commits", checkpointEvery)
	}
}
