package sandbox

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
)

func TestAgentSendDeliversASignedWebhookThatTheRelayCanParse(t *testing.T) {
	rcv := startReceiver(t)
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	if err := h.sb.Accept(cid, "Max Agent"); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	id, err := h.sb.AgentSend(cid, "Hi Jane, I can help.", "https://files.example.com/invoice.PNG")
	if err != nil {
		t.Fatalf("AgentSend: %v", err)
	}

	got := rcv.wait(t, 1)[0]
	if err := genesys.VerifySignature(testWebhookKey, got.body, got.signature); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	w, err := genesys.ParseWebhook(got.body)
	if err != nil {
		t.Fatalf("ParseWebhook: %v", err)
	}
	ch := w.Channel
	switch {
	case w.ID != id || len(id) != 32 || ch.MessageID != id:
		t.Errorf("id %q, channel.messageId %q, want %q", w.ID, ch.MessageID, id)
	case w.Type != "Text" || w.Direction != "Outbound" || w.OriginatingEntity != "Human" || w.Text != "Hi Jane, I can help.":
		t.Errorf("webhook = %+v", w)
	case ch.ID != in.ID || ch.Platform != "Open" || ch.Type != "Private":
		t.Errorf("channel = %+v", ch)
	case ch.To.ID != "customer-1" || ch.To.IDType != "Opaque":
		t.Errorf("channel.to = %+v", ch.To)
	case ch.From.ID != in.ID || ch.From.IDType != "Opaque" || ch.From.Nickname != "Max Agent":
		t.Errorf("channel.from = %+v", ch.From)
	case ch.Time.IsZero():
		t.Errorf("channel.time is missing")
	}
	if len(w.Content) != 1 || w.Content[0].ContentType != "Attachment" || w.Content[0].Attachment.MediaType != "Image" ||
		w.Content[0].Attachment.Mime != "image/png" || w.Content[0].Attachment.Filename != "invoice.PNG" {
		t.Errorf("content = %+v", w.Content)
	}
	// The Swagger subset's closest schema for webhook bodies (docs/genesys.md §Webhook).
	if err := h.sb.spec.ValidateResponseBody("OpenNormalizedMessage", got.body); err != nil {
		t.Errorf("OpenNormalizedMessage: %v", err)
	}
	if strings.Contains(string(got.body), "\n") || strings.Contains(string(got.body), ": ") {
		t.Errorf("body is not compact JSON: %s", got.body)
	}
	conv, _ := h.sb.Conversation(cid)
	if last := conv.Messages[len(conv.Messages)-1]; last.ID != id || last.Direction != "Outbound" {
		t.Errorf("agent message not in the transcript: %+v", last)
	}
}

func TestAgentTypingAndQuickRepliesHaveTheirWebhookShapes(t *testing.T) {
	rcv := startReceiver(t)
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	if err := h.sb.Accept(cid, "Max Agent"); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if err := h.sb.AgentTyping(cid); err != nil {
		t.Fatalf("AgentTyping: %v", err)
	}
	if _, err := h.sb.AgentQuickReplies(cid, "Did this help?", []string{"Yes", " ", "No"}); err != nil {
		t.Fatalf("AgentQuickReplies: %v", err)
	}
	got := rcv.wait(t, 2)

	typing, err := genesys.ParseWebhook(got[0].body)
	if err != nil {
		t.Fatalf("typing: %v", err)
	}
	if typing.Type != "Event" || len(typing.Events) != 1 || typing.Events[0].EventType != "Typing" ||
		typing.Events[0].Typing == nil || typing.Events[0].Typing.Type != "On" || typing.Events[0].Typing.Duration != 5000 {
		t.Errorf("typing webhook = %s", got[0].body)
	}
	if err := h.sb.spec.ValidateResponseBody("OpenEventNormalizedMessage", got[0].body); err != nil {
		t.Errorf("OpenEventNormalizedMessage: %v", err)
	}
	quick, _ := genesys.ParseWebhook(got[1].body)
	if quick.Type != "Structured" || quick.Text != "Did this help?" || len(quick.Content) != 2 ||
		quick.Content[0].ContentType != "QuickReply" || quick.Content[1].QuickReply.Text != "No" {
		t.Errorf("quick replies webhook = %s", got[1].body)
	}
}

func TestSendReceiptsPostsADeliveredReceiptForEachInboundMessage(t *testing.T) {
	rcv := startReceiver(t)
	h := startSandbox(t, func(c *Config) { c.SendReceipts = true })
	in := h.sb.AddIntegration("bot", rcv.url, testWebhookKey)
	startConversation(t, h, in.ID, "customer-1")
	w, err := genesys.ParseWebhook(rcv.wait(t, 1)[0].body)
	if err != nil {
		t.Fatalf("ParseWebhook: %v", err)
	}
	if w.Type != "Receipt" || w.Status != "Delivered" || w.Direction != "Inbound" || w.Channel.To.ID != "customer-1" {
		t.Errorf("receipt = %+v", w)
	}
}

func TestWebhookAnswered503TwiceIsDeliveredOnTheThirdAttempt(t *testing.T) {
	rcv := startReceiver(t, http.StatusServiceUnavailable, http.StatusServiceUnavailable)
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	_ = h.sb.Accept(cid, "Max Agent")
	if _, err := h.sb.AgentSend(cid, "Hello", ""); err != nil {
		t.Fatalf("AgentSend: %v", err)
	}
	got := rcv.wait(t, 3)
	for i := 1; i < 3; i++ {
		if string(got[i].body) != string(got[0].body) || got[i].signature != got[0].signature {
			t.Errorf("attempt %d changed the body or signature", i+1)
		}
	}
	eventually(t, "three recorded attempts", func() bool { return len(h.sb.Deliveries()) == 3 })
	for i, d := range h.sb.Deliveries() {
		want := http.StatusServiceUnavailable
		if i == 2 {
			want = http.StatusOK
		}
		if d.Attempt != i+1 || d.Status != want || d.ConversationID != cid {
			t.Errorf("delivery %d = attempt %d status %d conversation %s", i, d.Attempt, d.Status, d.ConversationID)
		}
	}
	// A later message of the conversation: its webhooks wait until the
	// first is done, so once it arrives a fourth attempt would have too.
	later, err := h.sb.AgentSend(cid, "Later", "")
	if err != nil {
		t.Fatalf("AgentSend: %v", err)
	}
	if n := attemptsUntil(t, rcv, later); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

// attemptsUntil waits for the webhook of a later message, messageID, and
// counts the requests that came before it: the attempts of the earlier one.
func attemptsUntil(t *testing.T, rcv *receiver, messageID string) int {
	t.Helper()
	for n := 1; ; n++ {
		got := rcv.wait(t, n)
		if w, err := genesys.ParseWebhook(got[n-1].body); err == nil && w.ID == messageID {
			return n - 1
		}
	}
}

func TestWebhookAnswered400IsNotRetried(t *testing.T) {
	rcv := startReceiver(t, http.StatusBadRequest)
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	_ = h.sb.Accept(cid, "Max Agent")
	if _, err := h.sb.AgentSend(cid, "Hello", ""); err != nil {
		t.Fatalf("AgentSend: %v", err)
	}
	rcv.wait(t, 1)
	// A later message of the conversation: its webhook waits until the
	// first is done, so once it arrives a retry would have too.
	later, err := h.sb.AgentSend(cid, "Later", "")
	if err != nil {
		t.Fatalf("AgentSend: %v", err)
	}
	if n := attemptsUntil(t, rcv, later); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
	eventually(t, "the later message's delivery recorded", func() bool { return len(h.sb.Deliveries()) >= 2 })
	if d := h.sb.Deliveries(); len(d) != 2 || d[0].Status != http.StatusBadRequest || d[1].MessageID != later || d[1].Status != http.StatusOK {
		t.Errorf("Deliveries() = %+v", d)
	}
}

func TestWebhookRetriesStopAfterFiveAndUnreachableReceiversAreRetried(t *testing.T) {
	h := startSandbox(t, nil)
	// Nothing listens on port 1 of loopback: every attempt is a connection error.
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	_ = h.sb.Accept(cid, "Max Agent")
	first, err := h.sb.AgentSend(cid, "Hello", "")
	if err != nil {
		t.Fatalf("AgentSend: %v", err)
	}
	eventually(t, "six attempts", func() bool { return len(h.sb.Deliveries()) == 6 })
	// A later message of the conversation: its webhooks wait until the
	// first is given up, so once its first attempt shows, a seventh of the
	// first would have too.
	later, err := h.sb.AgentSend(cid, "Later", "")
	if err != nil {
		t.Fatalf("AgentSend: %v", err)
	}
	eventually(t, "the later message's first attempt", func() bool {
		return slices.ContainsFunc(h.sb.Deliveries(), func(d Delivery) bool { return d.MessageID == later })
	})
	var d []Delivery
	for _, one := range h.sb.Deliveries() {
		if one.MessageID == first {
			d = append(d, one)
		}
	}
	if len(d) != 6 || d[5].Attempt != 6 || d[5].Error == "" || d[5].Status != 0 {
		t.Errorf("Deliveries() = %d, last %+v", len(d), d[len(d)-1])
	}
}

func TestARetryingWebhookHoldsBackTheConversationsLaterMessages(t *testing.T) {
	rcv := startReceiver(t, http.StatusTooManyRequests, http.StatusInternalServerError)
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	_ = h.sb.Accept(cid, "Max Agent")
	for _, text := range []string{"first", "second", "third"} {
		if _, err := h.sb.AgentSend(cid, text, ""); err != nil {
			t.Fatalf("AgentSend %s: %v", text, err)
		}
	}
	got := rcv.wait(t, 5)
	var texts []string
	for _, g := range got {
		w, _ := genesys.ParseWebhook(g.body)
		texts = append(texts, w.Text)
	}
	if strings.Join(texts, ",") != "first,first,first,second,third" {
		t.Errorf("arrival order %v", texts)
	}
}

func TestAgentActionsNeedAnAcceptedOpenConversation(t *testing.T) {
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	if _, err := h.sb.AgentSend(cid, "hi", ""); !errorsIs(err, ErrNoAgent) {
		t.Errorf("send before accept: %v", err)
	}
	if err := h.sb.Accept("nope", "Max"); !errorsIs(err, ErrConversationNotFound) {
		t.Errorf("accept unknown: %v", err)
	}
	_ = h.sb.Accept(cid, "Max")
	if err := h.sb.Accept(cid, "Other"); !errorsIs(err, ErrAlreadyAccepted) {
		t.Errorf("second accept: %v", err)
	}
	if _, err := h.sb.AgentSend(cid, "", "https://x.example/doc.pdf"); !errorsIs(err, ErrInvalidMessage) {
		t.Errorf("pdf image: %v", err)
	}
	if _, err := h.sb.AgentSend(cid, strings.Repeat("a", 4001), ""); !errorsIs(err, ErrInvalidMessage) {
		t.Errorf("4001 characters: %v", err)
	}
	_ = h.sb.AgentEnd(cid)
	if _, err := h.sb.AgentSend(cid, "hi", ""); !errorsIs(err, ErrConversationEnded) {
		t.Errorf("send after end: %v", err)
	}
}

func TestSkewWebhookClockMovesChannelTime(t *testing.T) {
	pinned := time.Date(2025, 1, 15, 10, 24, 5, 512_000_000, time.UTC)
	rcv := startReceiver(t)
	h := startSandbox(t, func(c *Config) { c.Now = func() time.Time { return pinned } })
	in := h.sb.AddIntegration("bot", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	tests := []struct {
		skew time.Duration
		want string
	}{
		{-20 * time.Minute, "2025-01-15T10:04:05.512Z"},
		{3 * time.Minute, "2025-01-15T10:27:05.512Z"},
		{0, "2025-01-15T10:24:05.512Z"},
	}
	for i, tt := range tests {
		h.sb.SkewWebhookClock(tt.skew)
		if _, err := h.sb.FlowMessage(cid, tt.skew.String()); err != nil {
			t.Fatalf("FlowMessage: %v", err)
		}
		got := rcv.wait(t, i+1)[i]
		if !strings.Contains(string(got.body), `"time":"`+tt.want+`"`) {
			t.Errorf("skew %s: %s, want channel.time %s", tt.skew, got.body, tt.want)
		}
	}
}

func TestNicknameIsIntegrationNameHidesTheAgentsNameInWebhooksOnly(t *testing.T) {
	rcv := startReceiver(t)
	h := startSandbox(t, func(c *Config) { c.NicknameIsIntegrationName = true })
	in := h.sb.AddIntegration("Acme Support", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	_ = h.sb.Accept(cid, "Max Agent")
	if _, err := h.sb.AgentSend(cid, "Hello", ""); err != nil {
		t.Fatalf("AgentSend: %v", err)
	}
	w, _ := genesys.ParseWebhook(rcv.wait(t, 1)[0].body)
	if w.Channel.From.Nickname != "Acme Support" || w.OriginatingEntity != "Human" {
		t.Errorf("webhook from %+v, %s", w.Channel.From, w.OriginatingEntity)
	}
	conv, _ := h.sb.Conversation(cid)
	if agent := conv.Participants[2]; agent.Name != "Max Agent" || agent.UserName != "Max Agent" {
		t.Errorf("agent leg = %+v", agent)
	}
}
