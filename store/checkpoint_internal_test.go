package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The writer checkpoints rarely, and the checkpointer copies the log into the
// database file once enough commits have gone by.
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
	if err := s.db.WithContext(ctx).Raw("PRAGMA wal_autocheckpoint").Scan(&auto).Error; err != nil || auto != writerCheckpointPages {
		t.Fatalf("the writer's automatic checkpoint is every %d pages (%v), want %d", auto, err, writerCheckpointPages)
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

// Under steady writes the log keeps a bounded size: a checkpoint beside the
// writer never lets it start over by itself (writerCheckpointPages).
func TestTheWriteAheadLogStaysBoundedUnderSteadyWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := Open(ctx, "sqlite:"+path, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// Each commit writes a page of the table and one of each of its four
	// indexes: 4,000 commits are some 20,000 pages, five times the bound.
	const commits = 4000
	for i := range commits {
		if err := s.InsertAPICall(ctx, &APICall{Method: "POST", Path: "/", Status: 200, Attempt: i}); err != nil {
			t.Fatal(err)
		}
	}
	info, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// A log page is the page (4 KiB) and its 24-byte frame header.
	bound := int64(2 * writerCheckpointPages * (4096 + 24))
	if info.Size() > bound {
		t.Fatalf("after %d commits the write-ahead log holds %d bytes, more than twice the writer's checkpoint (%d)", commits, info.Size(), bound)
	}
	t.Logf("after %d commits the write-ahead log holds %d bytes", commits, info.Size())
}
