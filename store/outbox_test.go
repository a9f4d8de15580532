package store_test

import (
	"context"
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
			if err := s.MarkOutboxSent(ctx, item.ID, 1); err != nil {
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
					if err := sender.MarkOutboxSent(ctx, item.ID, 1); err != nil {
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
