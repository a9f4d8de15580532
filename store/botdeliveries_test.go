package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// seedBotSession makes a conversation of endpoint e with n agent messages,
// each of them an event for the bot webhook when e has one.
func seedBotSession(t *testing.T, s *store.Store, e store.Endpoint, session string, n int) store.Conversation {
	t.Helper()
	ctx := context.Background()
	c := store.Conversation{EndpointID: e.ID, SessionID: session, UserID: "u", CustomerID: "c-" + session, State: store.StateQueued}
	if err := s.CreateConversation(ctx, &c); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m := store.Message{ConversationID: c.ID, EndpointID: e.ID, SessionID: session, Direction: store.FromAgent, Kind: store.KindText, Text: fmt.Sprint(i)}
		if err := s.InsertMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestOnlyTheSessionsEventsOfAnEndpointWithABotWebhookAreQueued(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	without := store.Endpoint{OrganisationID: 1, Name: "no webhook", URLToken: "t1"}
	with := store.Endpoint{OrganisationID: 1, Name: "webhook", URLToken: "t2", BotWebhookURL: "https://bot.example.com/events", BotWebhookSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	for _, e := range []*store.Endpoint{&without, &with} {
		if err := s.CreateEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	seedBotSession(t, s, without, "a", 2)
	c := seedBotSession(t, s, with, "b", 1)
	for _, m := range []store.Message{
		{Direction: store.FromUser, Kind: store.KindText, Text: "the user's own"},
		{Direction: store.FromBot, Kind: store.KindTranscript, Text: "the transcript"},
		{Direction: store.FromFlow, Kind: store.KindFlowHidden, Text: "kept from the user"},
		{Direction: store.FromSystem, Kind: store.KindReceipt, Delivery: store.DeliveryDelivered},
		{Direction: store.FromSystem, Kind: store.KindReceipt, Delivery: store.DeliveryFailed},
		{Direction: store.FromSystem, Kind: store.KindState, Data: store.MessageData{State: store.StateEnded}},
	} {
		m.ConversationID, m.EndpointID, m.SessionID = c.ID, with.ID, "b"
		if err := s.InsertMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.ListBotDeliveries(ctx, store.BotDeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, d := range page.Rows {
		if d.EndpointID != with.ID || d.Status != store.BotDeliveryPending || d.MessageID == nil {
			t.Fatalf("delivery %+v", d)
		}
		types = append([]string{d.EventType}, types...)
	}
	if fmt.Sprint(types) != "[message receipt state]" {
		t.Fatalf("queued %v, want the agent's message, the failed receipt and the state", types)
	}
	// The Go rule that queues them says what the stream's SQL says.
	events, err := s.SessionEventsAfter(ctx, with.ID, "b", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var streamed, queued []int64
	for _, m := range events {
		streamed = append(streamed, m.ID)
	}
	for _, d := range page.Rows {
		queued = append([]int64{*d.MessageID}, queued...)
	}
	if fmt.Sprint(streamed) != fmt.Sprint(queued) {
		t.Fatalf("the stream carries entries %v, the bot webhook %v", streamed, queued)
	}
}

func TestTwoInstancesClaimEachBotDeliveryOnceAndInSessionOrder(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		url := storetest.DatabaseURL(t, d)
		instances := []*store.Store{storetest.Open(t, url), storetest.Open(t, url)}
		ctx := context.Background()
		e := store.Endpoint{OrganisationID: 1, Name: "E", URLToken: "tok", BotWebhookURL: "https://bot.example.com/events", BotWebhookSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
		if err := instances[0].CreateEndpoint(ctx, &e); err != nil {
			t.Fatal(err)
		}
		const sessions, perSession = 6, 10
		for i := range sessions {
			seedBotSession(t, instances[0], e, fmt.Sprintf("s%d", i), perSession)
		}
		claimEverything(t, instances, sessions*perSession, func(s *store.Store, owner string) ([]claimedRow, error) {
			items, err := s.ClaimDueBotDeliveries(ctx, owner, time.Minute, 3)
			rows := make([]claimedRow, len(items))
			for i, item := range items {
				rows[i] = claimedRow{id: item.ID, group: item.SessionID}
			}
			return rows, err
		}, func(s *store.Store, id int64) error {
			d, err := s.BotDeliveryByID(ctx, id)
			if err != nil {
				return err
			}
			return s.RecordBotAttempt(ctx, d, store.BotAttempt{URL: e.BotWebhookURL, ResponseStatus: 200, At: s.Now()}, nil)
		})
		health, err := instances[1].BotWebhookHealthOf(ctx, e.ID)
		if err != nil || health.LastSuccessAt == nil || health.FailuresInARow != 0 {
			t.Fatalf("health %+v, %v", health, err)
		}
	})
}
