package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// What the relay's reads of a conversation cost: every relayed message reads
// its conversation at least twice (when the bot's message arrives, and when
// its call is made). Run with
//
//	go test -run '^$' -bench ConversationReads ./store/
func BenchmarkConversationReads(b *testing.B) {
	s := storetest.Open(b, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	ctx := context.Background()
	var convs []store.Conversation
	for i := range 256 {
		c := seedConversation(b, s, fmt.Sprint("s", i), 0)
		if err := s.SetGenesysConversationID(ctx, c.ID, fmt.Sprint("g", i)); err != nil {
			b.Fatal(err)
		}
		convs = append(convs, c)
	}
	b.Run("by id", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.ConversationByID(ctx, convs[i%len(convs)].ID); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("open of a session", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c := convs[i%len(convs)]
			if _, err := s.OpenConversation(ctx, c.EndpointID, c.SessionID); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("by Genesys id", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.ConversationByGenesysID(ctx, fmt.Sprint("g", i%len(convs))); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
