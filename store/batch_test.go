package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// Writes handed to InBatch by many callers at once commit together on
// SQLite (batch.go); each caller gets its own outcome, a failing caller's
// writes are rolled back alone, and a caller's write is readable when
// InBatch returns.
func TestBatchedWritesCommitOrFailEachOnItsOwn(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := newEndpoint(t, s, "batched")
		refused := errors.New("refused by the caller")
		const callers = 200
		var wg sync.WaitGroup
		errs := make([]error, callers)
		for i := range callers {
			wg.Go(func() {
				errs[i] = s.InBatch(ctx, func(ctx context.Context, tx *store.Store) error {
					c := store.Conversation{EndpointID: e.ID, SessionID: fmt.Sprintf("s-%03d", i), UserID: "u", CustomerID: fmt.Sprintf("c-%03d", i), State: store.StateQueued}
					if err := tx.CreateConversation(ctx, &c); err != nil {
						return err
					}
					switch i % 10 {
					case 3:
						return refused // after a write: it must be undone
					case 7:
						panic("a caller's bug")
					}
					// Readable by anyone once InBatch has returned.
					return nil
				})
				if errs[i] == nil {
					if _, err := s.OpenConversation(ctx, e.ID, fmt.Sprintf("s-%03d", i)); err != nil {
						errs[i] = fmt.Errorf("not readable after InBatch returned: %w", err)
					}
				}
			})
		}
		wg.Wait()
		for i, err := range errs {
			switch i % 10 {
			case 3:
				if !errors.Is(err, refused) {
					t.Errorf("caller %d: %v, want its own error", i, err)
				}
			case 7:
				if err == nil {
					t.Errorf("caller %d panicked but succeeded", i)
				}
			default:
				if err != nil {
					t.Errorf("caller %d: %v", i, err)
				}
			}
		}
		for i := range callers {
			_, err := s.OpenConversation(ctx, e.ID, fmt.Sprintf("s-%03d", i))
			if kept := err == nil; kept != (i%10 != 3 && i%10 != 7) {
				t.Errorf("caller %d: kept %v (%v)", i, kept, err)
			}
		}
	})
}

// A caller alone in its batch runs without a savepoint: its failure or
// panic rolls the whole transaction back, which must undo its writes and
// leave the next caller's batch to commit as usual.
func TestACallerAloneInItsBatchFailsOrCommitsOnItsOwn(t *testing.T) {
	s := storetest.Open(t, storetest.DatabaseURL(t, store.SQLite))
	ctx := context.Background()
	e := newEndpoint(t, s, "alone")
	refused := errors.New("refused by the caller")
	create := func(i int, then func() error) error {
		return s.InBatch(ctx, func(ctx context.Context, tx *store.Store) error {
			c := store.Conversation{EndpointID: e.ID, SessionID: fmt.Sprintf("s-%d", i), UserID: "u", CustomerID: fmt.Sprintf("c-%d", i), State: store.StateQueued}
			if err := tx.CreateConversation(ctx, &c); err != nil {
				return err
			}
			return then()
		})
	}
	// One after another, so that each batch holds one caller.
	if err := create(1, func() error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("a failing caller got %v, want its own error", err)
	}
	if err := create(2, func() error { panic("a caller's bug") }); err == nil {
		t.Fatal("a panicking caller succeeded")
	}
	if err := create(3, func() error { return nil }); err != nil {
		t.Fatalf("the caller after them: %v", err)
	}
	for i, want := range map[int]bool{1: false, 2: false, 3: true} {
		if _, err := s.OpenConversation(ctx, e.ID, fmt.Sprintf("s-%d", i)); (err == nil) != want {
			t.Errorf("caller %d: kept %v, want %v (%v)", i, err == nil, want, err)
		}
	}
}
