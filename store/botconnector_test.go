package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

func TestABotConnectorTurnIsClaimedOnceAndItsAnswerKeptForRetriesUntilForgotten(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := newEndpoint(t, s, "Bot Connector")
		now := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
		if _, claimed, err := s.ClaimBotConnectorTurn(ctx, e.ID, "session", "m-1", now, now.Add(-time.Hour)); err != nil || !claimed {
			t.Fatalf("first claim: %v %v", claimed, err)
		}
		answer, claimed, err := s.ClaimBotConnectorTurn(ctx, e.ID, "session", "m-1", now, now.Add(-time.Hour))
		if err != nil || claimed || answer != "" {
			t.Fatalf("a retry while the first attempt asks the bot: %q %v %v", answer, claimed, err)
		}
		const kept = `{"botState":"MoreData"}`
		if err := s.SetBotConnectorTurnAnswer(ctx, e.ID, "session", "m-1", kept); err != nil {
			t.Fatal(err)
		}
		answer, claimed, err = s.ClaimBotConnectorTurn(ctx, e.ID, "session", "m-1", now, now.Add(-time.Hour))
		if err != nil || claimed || answer != kept {
			t.Fatalf("a retry after the answer: %q %v %v", answer, claimed, err)
		}
		// Another message of the session, or the same id in another session, is another turn.
		for _, k := range [][2]string{{"session", "m-2"}, {"other", "m-1"}} {
			if _, claimed, err := s.ClaimBotConnectorTurn(ctx, e.ID, k[0], k[1], now, now.Add(-time.Hour)); err != nil || !claimed {
				t.Fatalf("%v: %v %v", k, claimed, err)
			}
		}
		// A released claim (the attempt failed) is answered afresh; a kept answer is not released.
		if err := s.ReleaseBotConnectorTurn(ctx, e.ID, "session", "m-2"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.BotConnectorTurnAnswer(ctx, e.ID, "session", "m-2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("released turn: %v", err)
		}
		if err := s.ReleaseBotConnectorTurn(ctx, e.ID, "session", "m-1"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.BotConnectorTurnAnswer(ctx, e.ID, "session", "m-1"); err != nil || got != kept {
			t.Fatalf("an answered turn was released: %q %v", got, err)
		}
		// After the memory, the turn is forgotten: claimed again.
		later := now.Add(2 * time.Hour)
		if _, claimed, err := s.ClaimBotConnectorTurn(ctx, e.ID, "session", "m-1", later, later.Add(-time.Hour)); err != nil || !claimed {
			t.Fatalf("an old turn is not forgotten: %v %v", claimed, err)
		}
	})
}

func TestABotConnectorHandoverIsQueuedOnceAndNeverOntoAnotherConversationsCustomer(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := newEndpoint(t, s, "Bot Connector")
		other := store.Conversation{EndpointID: e.ID, SessionID: "other", CustomerID: "taken", State: store.StateQueued}
		c := store.Conversation{EndpointID: e.ID, SessionID: "botconnector:s", CustomerID: "botconnector-x", State: store.StateWithBot}
		for _, conv := range []*store.Conversation{&other, &c} {
			if err := s.CreateConversation(ctx, conv); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.QueueBotConnectorHandover(ctx, c.ID, "taken", "g-1"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("onto another conversation's customer: %v", err)
		}
		if queued, err := s.QueueBotConnectorHandover(ctx, c.ID, "om-customer", "g-1"); err != nil || !queued {
			t.Fatalf("queue: %v %v", queued, err)
		}
		if queued, err := s.QueueBotConnectorHandover(ctx, c.ID, "om-customer", "g-1"); err != nil || queued {
			t.Fatalf("queued twice: %v %v", queued, err)
		}
		got, err := s.ConversationByCustomerID(ctx, "om-customer")
		if err != nil || got.ID != c.ID || got.State != store.StateQueued || got.GenesysConversationID != "g-1" {
			t.Fatalf("the agent's webhook would not find it: %+v %v", got, err)
		}
	})
}
