package handlers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// renderDetail renders the conversation detail component and parses it.
func renderDetail(t *testing.T, p views.ConversationProps) *goquery.Document {
	t.Helper()
	var b strings.Builder
	if err := views.ConversationDetail(p).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestTimelineMergesEverythingInTimeOrderWithMessagesFirstAtTheSameInstant(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	id := func(n int64) *int64 { return &n }
	messages := []store.Message{
		{ID: 1, Direction: store.FromBot, Kind: store.KindTranscript, Text: "transcript", CreatedAt: at(0)},
		{ID: 2, Direction: store.FromSystem, Kind: store.KindState, Data: store.MessageData{State: store.StateQueued}, CreatedAt: at(0)},
		{ID: 3, Direction: store.FromUser, Kind: store.KindText, Text: "user says", Delivery: store.DeliveryPending, CreatedAt: at(10)},
		{ID: 4, Direction: store.FromAgent, Kind: store.KindText, Text: "agent says", Delivery: store.DeliveryDelivered, CreatedAt: at(20)},
		{ID: 5, Direction: store.FromSystem, Kind: store.KindState, Data: store.MessageData{State: store.StateEnded, Reason: store.ReasonUserEnded}, CreatedAt: at(40)},
	}
	hooks := []store.Webhook{ // out of order on purpose: the timeline sorts
		{ID: 8, ReceivedAt: at(30), EventType: "Receipt", Verdict: store.VerdictValid, Outcome: store.OutcomeLogged, ProcessedAt: timeRef(at(30))},
		{ID: 7, ReceivedAt: at(20), EventType: "Text", Verdict: store.VerdictValid, Outcome: store.OutcomeDelivered, ProcessedAt: timeRef(at(20)), ReplayOf: id(6)},
	}
	calls := []store.APICall{
		{ID: 9, Method: "POST", Path: "/inbound", Status: 202, LatencyMS: 5, Attempt: 1, CreatedAt: at(10)},
		{ID: 10, Method: "POST", Path: "/inbound", Status: 0, Attempt: 2, Error: "connection refused", CreatedAt: at(11)},
	}
	outbox := []store.OutboxItem{{ID: 11, MessageID: id(3), Attempts: 2, LastError: "connection refused", NextAttemptAt: at(15)}}

	deliveries := []store.BotDelivery{{ID: 12, EventType: "message", Status: store.BotDeliveryDelivered, Attempts: 3, ResponseStatus: 200, LatencyMS: 4, CreatedAt: at(20)}}

	doc := renderDetail(t, views.ConversationProps{ID: 42, Timeline: timeline(conversationData{messages: messages, hooks: hooks, calls: calls, outbox: outbox, deliveries: deliveries})})
	var got []string
	doc.Find(`[data-testid="timeline-entry"]`).Each(func(_ int, s *goquery.Selection) {
		got = append(got, s.AttrOr("data-kind", "")+":"+strings.TrimSpace(s.Find(`[data-testid="entry-text"]`).Text()))
	})
	want := []string{
		"transcript:transcript",
		"state:now waiting for an agent",
		"message:user says",
		"api-call:POST /inbound",
		"api-call:POST /inbound",
		"message:agent says",
		"webhook:Text webhook: delivered",
		"bot-delivery:message event to the bot webhook: delivered",
		"webhook:Receipt webhook: logged",
		"state:now ended: the user left",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("timeline\n got %q\nwant %q", got, want)
	}
	entries := doc.Find(`[data-testid="timeline-entry"]`)
	pending := entries.Eq(2)
	if pending.Find(`[data-testid="delivery"]`).Text() != "pending" || pending.Find(`[data-testid="entry-error"]`).Text() != "connection refused" ||
		!strings.Contains(pending.Find(`[data-testid="entry-detail"]`).Text(), "2 attempts so far") {
		t.Fatalf("the pending message does not show its retries: %q", pending.Text())
	}
	if entries.Eq(4).Find(`[data-testid="delivery"]`).Text() != "failed" || !strings.Contains(entries.Eq(4).Text(), "no answer") {
		t.Fatalf("the failed call reads %q", entries.Eq(4).Text())
	}
	if entries.Eq(6).Find(`[data-testid="entry-link"]`).AttrOr("href", "") != "/webhooks/7" || !strings.Contains(entries.Eq(6).Text(), "replay of webhook #6") {
		t.Fatalf("the webhook entry reads %q", entries.Eq(6).Text())
	}
	if bot := entries.Eq(7); bot.Find(`[data-testid="entry-link"]`).AttrOr("href", "") != "/bot-deliveries/12" || !strings.Contains(bot.Text(), "HTTP 200 in 4 ms, 3 attempts") {
		t.Fatalf("the bot delivery entry reads %q", bot.Text())
	}
	if doc.Find(`[data-testid="conversation-detail"]`).AttrOr("id", "") != views.ConversationDetailID {
		t.Fatal("the detail root has no target id")
	}
}

func TestAnEmptyTimelineSaysSo(t *testing.T) {
	doc := renderDetail(t, views.ConversationProps{ID: 1, Timeline: timeline(conversationData{})})
	if doc.Find(`[data-testid="empty-timeline"]`).Length() != 1 || doc.Find(`[data-testid="timeline-entry"]`).Length() != 0 {
		t.Fatal("an empty timeline is not said to be empty")
	}
}

func timeRef(t time.Time) *time.Time { return &t }
