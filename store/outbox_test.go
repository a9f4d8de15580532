package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

func TestOutboxBacklogCountsPendingCallsAndTheAgeOfTheOldest(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		s := storetest.OpenWith(t, storetest.DatabaseURL(t, d), store.Options{Now: func() time.Time { return now }})
		ctx := context.Background()

		n, age, err := s.OutboxBacklog(ctx)
		if err != nil || n != 0 || age != 0 {
			t.Fatalf("empty outbox: backlog %d, age %s, %v; want 0, 0, nil", n, age, err)
		}
		c := seedConversation(t, s, "s1", 3) // created at now
		now = now.Add(90 * time.Second)
		if n, age, err = s.OutboxBacklog(ctx); err != nil || n != 3 || age != 90*time.Second {
			t.Fatalf("backlog %d, age %s, %v; want 3, 1m30s, nil", n, age, err)
		}
		items, err := s.OutboxOf(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range items {
			if err := s.MarkOutboxSent(ctx, item, 1, "", nil); err != nil {
				t.Fatal(err)
			}
		}
		if n, age, err = s.OutboxBacklog(ctx); err != nil || n != 0 || age != 0 {
			t.Fatalf("after sending everything: backlog %d, age %s, %v; want 0, 0, nil", n, age, err)
		}
	})
}

// A scrape reads the backlog while another instance sends the last calls: the
// read must never fail because the work finished under it.
func TestOutboxBacklogNeverFailsWhileAnotherInstanceSendsTheLastCall(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		url := storetest.DatabaseURL(t, d)
		sender, scraper := storetest.Open(t, url), storetest.Open(t, url)
		ctx := context.Background()
		for round := range 20 {
			c := seedConversation(t, sender, "s"+string(rune('a'+round)), 5)
			items, err := sender.OutboxOf(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			done := make(chan struct{})
			wg.Go(func() {
				defer close(done)
				for _, item := range items {
					if err := sender.MarkOutboxSent(ctx, item, 1, "", nil); err != nil {
						t.Error(err)
					}
				}
			})
			for reading := true; reading; {
				select {
				case <-done:
					reading = false
				default:
				}
				if _, _, err := scraper.OutboxBacklog(ctx); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			wg.Wait()
		}
	})
}

// A receipt does not wait behind its conversation's user messages (issue 11):
// receipts and the other calls are two lanes, each in order.
func TestReceiptsAreClaimedBesideAConversationsBusyMessages(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := seedConversation(t, s, "busy", 2) // two user messages
		for i := range 2 {
			if err := s.InsertOutbox(ctx, &store.OutboxItem{ConversationID: c.ID, EndpointID: c.EndpointID, Kind: store.OutboxReceipt, Payload: fmt.Sprint("r", i)}); err != nil {
				t.Fatal(err)
			}
		}
		claimed, err := s.ClaimDueOutbox(ctx, "a", time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, item := range claimed {
			got = append(got, item.Kind+":"+item.Payload)
		}
		if strings.Join(got, ",") != "message:0,receipt:r0" {
			t.Fatalf("claimed %v; want the first message and, beside it, the first receipt", got)
		}
		// Each lane in order: nothing more until its head is done.
		if more, _ := s.ClaimDueOutbox(ctx, "b", time.Minute, 10); len(more) != 0 {
			t.Fatalf("claimed %v while both lanes' heads are in flight", more)
		}
		if err := s.MarkOutboxSent(ctx, claimed[1], 1, "", nil); err != nil {
			t.Fatal(err)
		}
		more, err := s.ClaimDueOutbox(ctx, "b", time.Minute, 10)
		if err != nil || len(more) != 1 || more[0].Payload != "r1" {
			t.Fatalf("after the first receipt: claimed %v, %v; want the second receipt only", more, err)
		}
	})
}
