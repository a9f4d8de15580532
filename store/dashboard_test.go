package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

func TestDashboardCountsTheLastDay(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	box, _ := secret.NewBox(storetest.Key)
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "h.db"), box, store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &store.Endpoint{OrganisationID: 1, Name: "E", URLToken: "t"}
	if err := s.CreateEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	add := func(session string, age time.Duration, state string, firstReply time.Duration) {
		t.Helper()
		c := &store.Conversation{EndpointID: e.ID, SessionID: session, UserID: "u", CustomerID: "c-" + session, State: state, CreatedAt: now.Add(-age)}
		if state == store.StateEnded || state == store.StateFailed {
			end := now
			c.EndedAt = &end
		}
		if firstReply > 0 {
			joined, reply := c.CreatedAt.Add(firstReply/2), c.CreatedAt.Add(firstReply)
			c.AgentJoinedAt, c.FirstAgentMessageAt = &joined, &reply
		}
		if err := s.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	add("old", 48*time.Hour, store.StateEnded, time.Second) // outside the day
	add("q1", time.Hour, store.StateQueued, 0)
	add("a1", time.Hour, store.StateAgentJoined, 10*time.Second)
	add("e1", 2*time.Hour, store.StateEnded, 20*time.Second)
	add("e2", 3*time.Hour, store.StateEnded, 30*time.Second)
	add("f1", time.Hour, store.StateFailed, 0)
	rejected, valid := &store.Webhook{ReceivedAt: now, Verdict: store.VerdictMismatch, Status: 401}, &store.Webhook{ReceivedAt: now, Verdict: store.VerdictValid, Status: 200}
	for _, w := range []*store.Webhook{rejected, valid} {
		if _, err := s.InsertWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
	}

	d, err := s.DashboardSince(ctx, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if d.Requested != 5 || d.Queued != 1 || d.Connected != 3 || d.Ended != 2 || d.Failed != 1 || d.WebhookRejected != 1 {
		t.Fatalf("dashboard = %+v", d)
	}
	if d.FirstReplies != 3 || d.FirstReplyMedian != 20*time.Second || d.FirstReplyP95 != 30*time.Second {
		t.Fatalf("first replies: %d, median %s, p95 %s", d.FirstReplies, d.FirstReplyMedian, d.FirstReplyP95)
	}
	// Agents joined halfway to the first reply: 5, 10 and 15 s.
	if d.Joins != 3 || d.WaitMedian != 10*time.Second {
		t.Fatalf("joins: %d, median wait %s", d.Joins, d.WaitMedian)
	}
	if len(d.WaitingNow) != 1 || d.WaitingNow[0].EndpointID != e.ID || d.WaitingNow[0].Waiting != 1 || !d.WaitingNow[0].OldestSince.Equal(now.Add(-time.Hour)) {
		t.Fatalf("waiting now: %+v", d.WaitingNow)
	}
}

func TestBotConnectorSessionsAreCountedApartFromHandovers(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	box, _ := secret.NewBox(storetest.Key)
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "h.db"), box, store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &store.Endpoint{OrganisationID: 1, Name: "E", URLToken: "t", Type: store.TypeGenesysBotConnector}
	if err := s.CreateEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct{ state, reason string }{
		{store.StateWithBot, ""}, {store.StateEnded, store.ReasonBotComplete}, {store.StateFailed, store.ReasonBotFailed}, {store.StateQueued, ""},
	} {
		conv := &store.Conversation{EndpointID: e.ID, SessionID: "s" + string(rune('a'+i)), UserID: "u", CustomerID: "c" + string(rune('a'+i)), State: c.state, EndReason: c.reason, CreatedAt: now.Add(-time.Hour)}
		if c.reason != "" {
			conv.EndedAt = &now
		}
		if err := s.CreateConversation(ctx, conv); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.DashboardSince(ctx, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if d.Requested != 1 || d.Queued != 1 || d.Ended != 0 || d.Failed != 0 {
		t.Errorf("handovers: requested %d queued %d ended %d failed %d, want only the queued handover", d.Requested, d.Queued, d.Ended, d.Failed)
	}
	if d.BotSessions != 3 || d.BotHandedOver != 1 || d.BotFailed != 1 {
		t.Errorf("Bot Connector sessions %d, handed over %d, failed %d; want 3, 1, 1", d.BotSessions, d.BotHandedOver, d.BotFailed)
	}
}
