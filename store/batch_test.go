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
