package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// The endpoint reads of the hot paths are cached (endpointcache.go): every
// write must be seen by the next read, whichever way it was made. On
// PostgreSQL the test starts once the cache answers (endpointwatch.go).
func TestEndpointReadsSeeEveryWrite(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		events := make(chan string, 256)
		s := storetest.NewOf(t, d, store.WatchingEndpoints(events, 0))
		if d == store.Postgres {
			awaitWatch(t, events, "armed")
		}
		e := newEndpoint(t, s, "cached")
		if err := s.SetEndpointIntegration(ctx, e.ID, "integration-1", ""); err != nil {
			t.Fatal(err)
		}
		read := func() store.Endpoint {
			t.Helper()
			got, err := s.EndpointByToken(ctx, e.URLToken)
			if err != nil {
				t.Fatal(err)
			}
			byIntegration, err := s.EndpointsByIntegrationID(ctx, "integration-1")
			if err != nil || len(byIntegration) != 1 || byIntegration[0].QueueID != got.QueueID {
				t.Fatalf("by integration: %v %v, by token queue %q", byIntegration, err, got.QueueID)
			}
			return got
		}
		first := read()

		// A caller editing what it got edits its own copy.
		first.DefaultCustomAttributes = map[string]string{"tier": "gold"}
		first.DefaultSkills = append(first.DefaultSkills, "billing")
		if again := read(); len(again.DefaultCustomAttributes) != 0 || len(again.DefaultSkills) != 0 {
			t.Fatalf("the cached endpoint changed with a caller's copy: %+v", again)
		}

		// A plain update.
		first.QueueID = "queue-2"
		if err := s.UpdateEndpoint(ctx, &first); err != nil {
			t.Fatal(err)
		}
		if got := read(); got.QueueID != "queue-2" || got.DefaultCustomAttributes["tier"] != "gold" {
			t.Fatalf("after an update: queue %q, attributes %v", got.QueueID, got.DefaultCustomAttributes)
		}

		// An update inside a transaction, with a read of the old row by
		// another caller between the write and the commit.
		err := s.InTx(ctx, func(tx *store.Store) error {
			e, err := tx.EndpointByID(ctx, e.ID)
			if err != nil {
				return err
			}
			e.QueueID = "queue-3"
			if err := tx.UpdateEndpoint(ctx, &e); err != nil {
				return err
			}
			if own, err := tx.EndpointByToken(ctx, e.URLToken); err != nil || own.QueueID != "queue-3" {
				t.Errorf("the transaction read its own endpoint back as queue %q (%v)", own.QueueID, err)
			}
			// SQLite's readers do not wait for the writer (WAL).
			if got := read(); got.QueueID != "queue-2" {
				t.Errorf("before the commit another caller read queue %q", got.QueueID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := read(); got.QueueID != "queue-3" {
			t.Fatalf("after the transaction: queue %q, want queue-3", got.QueueID)
		}

		// A rolled-back write leaves the endpoint as it was.
		rollback := errors.New("roll back")
		err = s.InTx(ctx, func(tx *store.Store) error {
			if err := tx.SetEndpointIntegration(ctx, e.ID, "integration-2", ""); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		read()

		// Deleted: no longer found by either key.
		if err := s.DeleteEndpoint(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EndpointByToken(ctx, e.URLToken); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted endpoint by token: %v", err)
		}
		if found, err := s.EndpointsByIntegrationID(ctx, "integration-1"); err != nil || len(found) != 0 {
			t.Fatalf("deleted endpoint by integration: %v %v", found, err)
		}
	})
}
