package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// TestDeletingConversationsTakesEverythingOfThemAndNothingElse is the store's
// half of retention and erasure (docs/privacy.md): the timeline, the outbox,
// the call log and the webhooks of the conversations go, including a late
// webhook never tied to one that names its customer id; another person's
// rows stay.
func TestDeletingConversationsTakesEverythingOfThemAndNothingElse(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		s := storetest.NewOf(t, d, store.Options{})
		ctx := context.Background()
		e := createEndpoint(t, s, "E")
		seed := func(session, user, customer string) store.Conversation {
			t.Helper()
			c := &store.Conversation{EndpointID: e.ID, SessionID: session, UserID: user, CustomerID: customer, State: store.StateQueued}
			if err := s.CreateConversation(ctx, c); err != nil {
				t.Fatal(err)
			}
			m := &store.Message{ConversationID: c.ID, EndpointID: e.ID, SessionID: session, Direction: store.FromUser, Kind: store.KindText, Text: "hello from " + user}
			if err := s.InsertMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
			if err := s.InsertOutbox(ctx, &store.OutboxItem{ConversationID: c.ID, EndpointID: e.ID, MessageID: &m.ID, Kind: store.OutboxMessage, Payload: `{"text":"x"}`}); err != nil {
				t.Fatal(err)
			}
			if err := s.InsertAPICall(ctx, &store.APICall{EndpointID: e.ID, ConversationID: &c.ID, Method: "POST", Path: "/x", Status: 200}); err != nil {
				t.Fatal(err)
			}
			tied := &store.Webhook{ReceivedAt: time.Now(), EndpointID: &e.ID, ConversationID: &c.ID, Body: `{"channel":{"to":{"id":"` + customer + `"}}}`, Verdict: store.VerdictValid}
			late := &store.Webhook{ReceivedAt: time.Now(), EndpointID: &e.ID, Body: `{"channel":{"to":{"id":"` + customer + `"}},"type":"Receipt"}`, Verdict: store.VerdictValid}
			for _, w := range []*store.Webhook{tied, late} {
				if _, err := s.InsertWebhook(ctx, w); err != nil {
					t.Fatal(err)
				}
			}
			return *c
		}
		alice := seed("s1", "alice", "cust-a_1")
		bob := seed("s2", "bob", "cust-a%1") // LIKE wildcards in a customer id match only themselves

		convs, err := s.ConversationsOfUser(ctx, "alice", 0)
		if err != nil || len(convs) != 1 || convs[0].ID != alice.ID {
			t.Fatalf("alice's conversations: %+v, %v", convs, err)
		}
		if pending, err := s.PendingOutboxOf(ctx, []int64{alice.ID}); err != nil || pending != 1 {
			t.Fatalf("pending outbox of alice: %d, %v", pending, err)
		}
		deleted, err := s.DeleteConversations(ctx, convs)
		if err != nil {
			t.Fatal(err)
		}
		want := store.Deleted{Conversations: 1, Messages: 1, Outbox: 1, Webhooks: 2, APICalls: 1}
		if deleted != want {
			t.Fatalf("deleted %+v, want %+v", deleted, want)
		}
		if _, err := s.ConversationByID(ctx, alice.ID); err == nil {
			t.Fatal("alice's conversation is still there")
		}
		msgs, _ := s.ConversationMessages(ctx, bob.ID)
		hooks, _ := s.WebhooksOf(ctx, bob.ID)
		calls, _ := s.APICallsOf(ctx, bob.ID)
		outbox, _ := s.OutboxOf(ctx, bob.ID)
		if len(msgs) != 1 || len(hooks) != 1 || len(calls) != 1 || len(outbox) != 1 {
			t.Fatalf("bob lost rows: %d messages, %d webhooks, %d calls, %d outbox", len(msgs), len(hooks), len(calls), len(outbox))
		}
		var lateOfBob int64
		store.DB(s).Raw("SELECT COUNT(*) FROM webhooks WHERE conversation_id IS NULL").Scan(&lateOfBob)
		if lateOfBob != 1 {
			t.Fatalf("%d untied webhooks left, want bob's one", lateOfBob)
		}

		audit := store.Erasure{ErasedBy: "admin root", UserIDHash: "h", Counts: deleted}
		if err := s.InsertErasure(ctx, &audit); err != nil {
			t.Fatal(err)
		}
		back, err := s.Erasures(ctx, 10)
		if err != nil || len(back) != 1 || back[0].Counts != want || back[0].ErasedBy != "admin root" || back[0].EndpointID != nil {
			t.Fatalf("audit read back: %+v, %v", back, err)
		}
	})
}

func TestEndedConversationsBeforeListsOnlyEndedOnesOfThatEndpointOlderThanTheCut(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		s := storetest.NewOf(t, d, store.Options{})
		ctx := context.Background()
		endpoints := [2]*store.Endpoint{createEndpoint(t, s, "A"), createEndpoint(t, s, "B")}
		cut := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		conv := func(e *store.Endpoint, session string, ended *time.Time) int64 {
			t.Helper()
			c := &store.Conversation{EndpointID: e.ID, SessionID: session, UserID: "u", CustomerID: session, State: store.StateQueued}
			if err := s.CreateConversation(ctx, c); err != nil {
				t.Fatal(err)
			}
			if ended != nil {
				if _, err := s.EndConversation(ctx, c.ID, store.StateEnded, store.ReasonUserEnded, *ended); err != nil {
					t.Fatal(err)
				}
			}
			return c.ID
		}
		before, after := cut.Add(-time.Second), cut.Add(time.Second)
		old := conv(endpoints[0], "old", &before)
		conv(endpoints[0], "new", &after)
		conv(endpoints[0], "open", nil)
		conv(endpoints[1], "other", &before)
		got, err := s.EndedConversationsBefore(ctx, endpoints[0].ID, cut, 10)
		if err != nil || len(got) != 1 || got[0].ID != old {
			t.Fatalf("ended before the cut: %+v, %v; want only #%d", got, err, old)
		}
	})
}

// TestForgettingTextsKeepsKindsTimesAndDeliveryStates is collectConversations
// off on both databases (docs/privacy.md): a delivered call forgets its body
// and its entry's text; the end forgets the texts before it, not the goodbye.
func TestForgettingTextsKeepsKindsTimesAndDeliveryStates(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		s := storetest.NewOf(t, d, store.Options{})
		ctx := context.Background()
		e := createEndpoint(t, s, "E")
		c := &store.Conversation{EndpointID: e.ID, SessionID: "s", UserID: "u", CustomerID: "c", State: store.StateQueued}
		if err := s.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		insert := func(from, text string) store.Message {
			t.Helper()
			m := store.Message{ConversationID: c.ID, EndpointID: e.ID, SessionID: "s", Direction: from, Kind: store.KindText, Text: text, Delivery: store.DeliverySent,
				Data: store.MessageData{Attachments: []store.Attachment{{URL: "https://x/" + text}}}}
			if err := s.InsertMessage(ctx, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		user := insert(store.FromUser, "user-text")
		item := store.OutboxItem{ConversationID: c.ID, EndpointID: e.ID, MessageID: &user.ID, Kind: store.OutboxMessage, Payload: `{"text":"user-text"}`}
		if err := s.InsertOutbox(ctx, &item); err != nil {
			t.Fatal(err)
		}
		agent := insert(store.FromAgent, "agent-text")
		if err := s.ForgetDeliveredText(ctx, item); err != nil {
			t.Fatal(err)
		}
		texts := func() map[int64]store.Message {
			msgs, err := s.ConversationMessages(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			out := map[int64]store.Message{}
			for _, m := range msgs {
				out[m.ID] = m
			}
			return out
		}
		got := texts()
		if got[user.ID].Text != "" || len(got[user.ID].Data.Attachments) != 0 || got[user.ID].Delivery != store.DeliverySent || got[agent.ID].Text != "agent-text" {
			t.Fatalf("after the delivery: user %+v, agent %+v", got[user.ID], got[agent.ID])
		}
		if outbox, _ := s.OutboxOf(ctx, c.ID); len(outbox) != 1 || outbox[0].Payload != "{}" {
			t.Fatalf("outbox after the delivery: %+v", outbox)
		}
		bye := insert(store.FromBot, "goodbye")
		if err := s.ForgetConversationText(ctx, c.ID, bye.ID); err != nil {
			t.Fatal(err)
		}
		got = texts()
		if got[agent.ID].Text != "" || got[bye.ID].Text != "goodbye" {
			t.Fatalf("after the end: agent %q, goodbye %q", got[agent.ID].Text, got[bye.ID].Text)
		}
		if conv, _ := s.ConversationByID(ctx, c.ID); conv.LastMessagePreview != "" {
			t.Fatalf("the preview keeps %q", conv.LastMessagePreview)
		}
	})
}

// createEndpoint stores an endpoint named name (its URL token too).
func createEndpoint(t *testing.T, s *store.Store, name string) *store.Endpoint {
	t.Helper()
	e := &store.Endpoint{OrganisationID: 1, Name: name, URLToken: name, Waiting: store.DefaultWaiting()}
	if err := s.CreateEndpoint(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}
