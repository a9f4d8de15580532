package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

func TestOneClaimOfEachQueueUpdateWinsOnBothDatabases(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		s := storetest.NewOf(t, d, store.Options{})
		ctx := context.Background()
		e := &store.Endpoint{OrganisationID: 1, Name: "E", URLToken: "t", Waiting: store.DefaultWaiting()}
		if err := s.CreateEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
		c := &store.Conversation{EndpointID: e.ID, SessionID: "s", UserID: "u", CustomerID: "c", State: store.StateQueued}
		if err := s.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		waiting := func() store.Waiting {
			t.Helper()
			rows, err := s.WaitingAfter(ctx, 0, 10)
			if err != nil || len(rows) != 1 {
				t.Fatalf("waiting: %+v, %v", rows, err)
			}
			return rows[0]
		}
		w := waiting()
		if w.QueueUpdateSeconds != 60 || w.NextQueueUpdateAt != nil || w.SessionID != "s" {
			t.Fatalf("read back %+v", w)
		}
		next := time.Now().Add(time.Minute).UTC()
		for i, want := range []bool{true, false} { // the second caller read the same due time
			if won, err := s.ClaimQueueUpdate(ctx, c.ID, w.NextQueueUpdateAt, next); err != nil || won != want {
				t.Fatalf("claim %d: %v, %v; want %v", i, won, err, want)
			}
		}
		w = waiting()
		later := next.Add(time.Minute)
		if won, err := s.ClaimQueueUpdate(ctx, c.ID, w.NextQueueUpdateAt, later); err != nil || !won {
			t.Fatalf("the next claim, from the due time as read back: %v, %v", won, err)
		}
		if _, err := s.EndConversation(ctx, c.ID, store.StateEnded, store.ReasonUserEnded, time.Now()); err != nil {
			t.Fatal(err)
		}
		if rows, err := s.WaitingAfter(ctx, 0, 10); err != nil || len(rows) != 0 {
			t.Fatalf("an ended handover still waits: %+v, %v", rows, err)
		}
	})
}
