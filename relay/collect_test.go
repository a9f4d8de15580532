package relay_test

import (
	"context"
	"testing"
	"time"

	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// TestWithoutCollectingConversationsNoTextIsKeptOnceDelivered is the
// endpoint's collectConversations off (docs/privacy.md): Genesys gets the
// real text, then the outbox item's body and the timeline entry's text go;
// the agent's texts stay while the bot may read them again and go with the
// end; kinds, times and delivery states stay.
func TestWithoutCollectingConversationsNoTextIsKeptOnceDelivered(t *testing.T) {
	g := newEngine(t, nil)
	ctx := context.Background()
	g.e.Privacy.DiscardConversationText = true
	if err := g.store.UpdateEndpoint(ctx, &g.e); err != nil {
		t.Fatal(err)
	}
	conv, err := g.relay.StartHandover(ctx, g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1",
		Transcript: []relay.TranscriptEntry{{Source: "user", Text: "transcript-secret-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.relay.SendUserMessage(ctx, g.e, relay.UserMessage{UserID: "u1", SessionID: "s1", Text: "user-secret-2"}); err != nil {
		t.Fatal(err)
	}
	if got := g.waitForMessages(2); got[1].Text != "user-secret-2" {
		t.Fatalf("Genesys got %q, want the real text", got[1].Text)
	}
	agent := store.Message{ConversationID: conv.ID, EndpointID: g.e.ID, SessionID: "s1", Direction: store.FromAgent, Kind: store.KindText, Text: "agent-secret-3", Delivery: store.DeliveryDelivered}
	if err := g.store.InsertMessage(ctx, &agent); err != nil {
		t.Fatal(err)
	}
	textsKept := func() (user, agentText []string) {
		msgs, err := g.store.ConversationMessages(ctx, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Text == "" {
				continue
			}
			if m.Direction == store.FromAgent {
				agentText = append(agentText, m.Text)
			} else if m.Kind == store.KindText || m.Kind == store.KindTranscript {
				user = append(user, m.Text)
			}
		}
		return user, agentText
	}
	testkit.WaitFor(t, 10*time.Second, "the delivered texts forgotten", func() bool {
		user, _ := textsKept()
		return len(user) == 0
	})
	if _, agentText := textsKept(); len(agentText) != 1 {
		t.Fatalf("the agent's text went before the end: %q", agentText)
	}
	outbox, _ := g.store.OutboxOf(ctx, conv.ID)
	for _, item := range outbox {
		if item.Status == store.OutboxSent && item.Payload != "{}" {
			t.Errorf("a sent outbox item keeps its body: %s", item.Payload)
		}
	}
	if c, _ := g.store.ConversationByID(ctx, conv.ID); c.LastMessagePreview != "" && c.LastMessagePreview != "agent-secret-3" {
		t.Errorf("the list's preview keeps %q", c.LastMessagePreview)
	}

	if _, err := g.relay.EndByUser(ctx, g.e, "s1"); err != nil {
		t.Fatal(err)
	}
	if user, agentText := textsKept(); len(user)+len(agentText) != 0 {
		t.Fatalf("texts kept after the end: %q %q", user, agentText)
	}
	msgs, _ := g.store.ConversationMessages(ctx, conv.ID)
	var delivered, states int
	for _, m := range msgs {
		if m.Delivery == store.DeliverySent || m.Delivery == store.DeliveryDelivered {
			delivered++
		}
		if m.Kind == store.KindState {
			states++
		}
	}
	if delivered < 3 || states == 0 {
		t.Fatalf("the timeline lost its delivery states or its end: %+v", msgs)
	}
	if c, _ := g.store.ConversationByID(ctx, conv.ID); c.LastMessagePreview != "" {
		t.Errorf("the list's preview keeps %q after the end", c.LastMessagePreview)
	}
}
