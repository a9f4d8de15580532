package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

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

// The sender of a conversation's call takes its next one with the sent mark
// (on SQLite): in order, in the same lane, leased so that no claim takes it
// too, and only when it is due.
func TestASentMarkLeasesTheConversationsNextCallInItsLane(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := seedConversation(t, s, "chain", 3) // three user messages
		if err := s.InsertOutbox(ctx, &store.OutboxItem{ConversationID: c.ID, EndpointID: c.EndpointID, Kind: store.OutboxReceipt, Payload: "r0"}); err != nil {
			t.Fatal(err)
		}
		claimed, err := s.ClaimDueOutbox(ctx, "a", time.Minute, 10)
		if err != nil || len(claimed) != 2 {
			t.Fatalf("claimed %v, %v; want the first message and the receipt", claimed, err)
		}
		next, leased, err := s.MarkOutboxSentLeasingNext(ctx, claimed[0], 1, "", nil, "a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if s.Dialect() == store.Postgres {
			// No committer to make the mark and the lease one step: the
			// claim takes the next call.
			if leased {
				t.Fatalf("leased %v on PostgreSQL", next)
			}
			return
		}
		if !leased || next.Payload != "1" || next.LeaseOwner != "a" || next.LeaseUntil == nil {
			t.Fatalf("after the first message: %+v (leased %v); want the second message, leased to a", next, leased)
		}
		if more, _ := s.ClaimDueOutbox(ctx, "b", time.Minute, 10); len(more) != 0 {
			t.Fatalf("a claim took %v, which the sender holds", more)
		}
		// The receipt's lane has nothing after it: the messages stay theirs.
		if after, leased, err := s.MarkOutboxSentLeasingNext(ctx, claimed[1], 1, "", nil, "a", time.Minute); err != nil || leased {
			t.Fatalf("after the receipt: %+v, %v, %v; want nothing", after, leased, err)
		}
		// A call put off for later is not taken before its time.
		var third []store.OutboxItem
		store.DB(s).Where("conversation_id = ? AND payload = ?", c.ID, "2").Find(&third)
		if len(third) != 1 {
			t.Fatalf("no third message: %v", third)
		}
		if err := s.RetryOutbox(ctx, third[0].ID, 0, time.Now().Add(time.Hour), "later"); err != nil {
			t.Fatal(err)
		}
		if after, leased, err := s.MarkOutboxSentLeasingNext(ctx, next, 1, "", nil, "a", time.Minute); err != nil || leased {
			t.Fatalf("leased %+v (%v), due in an hour", after, err)
		}
	})
}

// A claim reads the pending calls only, however many calls were sent before
// them: walking the sent history in id order made every claim on
// PostgreSQL cost more as Handover ran (docs/performance.md).
func TestAClaimDoesNotWalkTheSentHistory(t *testing.T) {
	storetest.SkipWithoutPostgres(t)
	s := storetest.Open(t, storetest.DatabaseURL(t, store.Postgres))
	ctx := context.Background()
	db := store.DB(s)
	c := seedConversation(t, s, "history", 0)
	// The history, then the calls that wait: as the bench leaves them.
	if err := db.Exec(`INSERT INTO outbox (conversation_id, endpoint_id, kind, payload, status, next_attempt_at, created_at)
		SELECT ?, ?, 'message', '', ?, now(), now() FROM generate_series(1, 6000)`, c.ID, c.EndpointID, store.OutboxSent).Error; err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		seedConversation(t, s, fmt.Sprint("waiting-", i), 1)
	}
	if err := db.Exec("ANALYZE outbox").Error; err != nil {
		t.Fatal(err)
	}
	var claim string
	var vars []any
	// The claim is written out (claimDue) and runs through gorm's Raw(…).Rows().
	if err := db.Callback().Row().After("gorm:row").Register("test:keep_claim", func(tx *gorm.DB) {
		if sql := tx.Statement.SQL.String(); strings.Contains(sql, "FROM outbox AS q") && strings.Contains(sql, "FOR UPDATE") {
			claim, vars = sql, append([]any(nil), tx.Statement.Vars...)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimDueOutbox(ctx, "test", time.Minute, 16); err != nil || claim == "" {
		t.Fatalf("claim: %v (query seen: %t)", err, claim != "")
	}
	var plan []string
	if err := db.Raw("EXPLAIN "+claim, vars...).Scan(&plan).Error; err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(plan, "\n")
	// The update then finds the picked rows by primary key ("outbox_pkey on
	// outbox", a lookup); the pick itself ("on outbox q") must not walk it.
	if !strings.Contains(joined, " on outbox q") {
		t.Fatalf("the plan does not show how the pick reads the outbox:\n%s", joined)
	}
	if strings.Contains(joined, "outbox_pkey on outbox q") || strings.Contains(joined, "Seq Scan on outbox q") {
		t.Fatalf("the claim walks the outbox, sent calls included:\n%s", joined)
	}
}

// A claim is an UPDATE … RETURNING that SQLite runs at its first row, so a
// failure of its write shows only once the rows are read: the claim must
// report it, not take it for "nothing due". A trigger makes the write fail.
func TestAClaimWhoseWriteFailsSaysSo(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	seedConversation(t, s, "failing", 1)
	if err := store.DB(s).Exec(`CREATE TRIGGER outbox_refuses_leases BEFORE UPDATE OF lease_owner ON outbox
		BEGIN SELECT RAISE(ABORT, 'leases refused'); END`).Error; err != nil {
		t.Fatal(err)
	}
	claimed, err := s.ClaimDueOutbox(ctx, "a", time.Minute, 10)
	if err == nil || !strings.Contains(err.Error(), "leases refused") {
		t.Fatalf("the claim took %+v and said %v; want the write's failure", claimed, err)
	}
	if len(claimed) != 0 {
		t.Fatalf("a failed claim returned %+v", claimed)
	}
}
