package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
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
	reads := []struct {
		name string
		read func(c store.Conversation) (store.Conversation, error)
	}{
		{"by id", func(c store.Conversation) (store.Conversation, error) { return s.ConversationByID(ctx, c.ID) }},
		{"open of a session", func(c store.Conversation) (store.Conversation, error) {
			return s.OpenConversation(ctx, c.EndpointID, c.SessionID)
		}},
		{"by Genesys id", func(c store.Conversation) (store.Conversation, error) {
			return s.ConversationByGenesysID(ctx, "g"+strconv.FormatInt(c.ID-convs[0].ID, 10))
		}},
	}
	for _, r := range reads {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := r.read(convs[i%len(convs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
