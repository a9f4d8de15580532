package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// What a sent mark costs with and without leasing the conversation's next
// call, on an outbox with a history of 20,000 sent calls. Run with
//
//	go test -run '^$' -bench SentMark ./store/
func BenchmarkSentMark(b *testing.B) {
	for _, chain := range []bool{false, true} {
		b.Run(fmt.Sprintf("leasing next %v", chain), func(b *testing.B) {
			s, queue := outboxOf64Conversations(b)
			ctx := context.Background()
			owner := ""
			if chain {
				owner = "a"
			}
			mark := func(items []store.OutboxItem) {
				for _, item := range items {
					for leased := true; leased; {
						var err error
						if item, leased, err = s.MarkOutboxSentLeasingNext(ctx, item, 1, "", nil, owner, time.Minute); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			send := func() int {
				items, err := s.ClaimDueOutbox(ctx, "a", time.Minute, 64)
				if err != nil {
					b.Fatal(err)
				}
				mark(items)
				return len(items)
			}
			queue(20_000)
			for send() > 0 {
			}
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				queue(64)
				items, _ := s.ClaimDueOutbox(ctx, "a", time.Minute, 64)
				b.StartTimer()
				mark(items)
			}
		})
	}
}

// What a claim costs that takes the first call of each of 64 conversations,
// on an outbox with a history of 20,000 sent calls and a second call waiting
// behind each first. Run with
//
//	go test -run '^$' -bench OutboxClaim ./store/
func BenchmarkOutboxClaim(b *testing.B) {
	s, queue := outboxOf64Conversations(b)
	ctx := context.Background()
	mark := func(items []store.OutboxItem) {
		for _, item := range items {
			if err := s.MarkOutboxSent(ctx, item, 1, "", nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	drain := func() {
		for {
			items, err := s.ClaimDueOutbox(ctx, "a", time.Minute, 64)
			if err != nil {
				b.Fatal(err)
			}
			if len(items) == 0 {
				return
			}
			mark(items)
		}
	}
	queue(20_000)
	drain()
	for b.Loop() {
		b.StopTimer()
		queue(128)
		b.StartTimer()
		items, err := s.ClaimDueOutbox(ctx, "a", time.Minute, 64)
		if err != nil || len(items) != 64 {
			b.Fatalf("claimed %d (%v)", len(items), err)
		}
		b.StopTimer()
		mark(items)
		drain()
		b.StartTimer()
	}
}

// outboxOf64Conversations is a store on a new SQLite file with 64
// conversations, and queue, which queues n calls to Genesys across them in turn.
func outboxOf64Conversations(b *testing.B) (s *store.Store, queue func(n int)) {
	s = storetest.Open(b, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	var convs []store.Conversation
	for i := range 64 {
		convs = append(convs, seedConversation(b, s, fmt.Sprint("s", i), 0))
	}
	return s, func(n int) {
		for i := range n {
			c := convs[i%len(convs)]
			item := store.OutboxItem{ConversationID: c.ID, EndpointID: c.EndpointID, Kind: store.OutboxMessage, Payload: "{}"}
			if err := s.InsertOutbox(context.Background(), &item); err != nil {
				b.Fatal(err)
			}
		}
	}
}
