package sandbox

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/handover-relay/handover/genesys"
)

func TestFlowMessageComesFromTheBotUnderTheIntegrationsName(t *testing.T) {
	rcv := startReceiver(t)
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("Acme Support", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")

	// While the conversation waits on the queue, with no agent.
	id, err := h.sb.FlowMessage(cid, "All our agents are busy; you are next in line.")
	if err != nil {
		t.Fatalf("FlowMessage while waiting: %v", err)
	}
	_ = h.sb.Accept(cid, "Max Agent")
	if _, err := h.sb.AgentSend(cid, "Hi, Max here.", ""); err != nil {
		t.Fatalf("AgentSend: %v", err)
	}
	// And later, while an agent has it.
	if _, err := h.sb.FlowMessage(cid, "This conversation may be recorded."); err != nil {
		t.Fatalf("FlowMessage while connected: %v", err)
	}

	got := rcv.wait(t, 3)
	tests := []struct {
		entity, nickname, text string
	}{
		{"Bot", "Acme Support", "All our agents are busy; you are next in line."},
		{"Human", "Max Agent", "Hi, Max here."},
		{"Bot", "Acme Support", "This conversation may be recorded."},
	}
	for i, tt := range tests {
		if err := genesys.VerifySignature(testWebhookKey, got[i].body, got[i].signature); err != nil {
			t.Errorf("webhook %d: %v", i, err)
		}
		if err := h.sb.spec.ValidateResponseBody("OpenNormalizedMessage", got[i].body); err != nil {
			t.Errorf("webhook %d: %v", i, err)
		}
		w, err := genesys.ParseWebhook(got[i].body)
		if err != nil {
			t.Fatalf("webhook %d: %v", i, err)
		}
		if w.Type != "Text" || w.Direction != "Outbound" || w.OriginatingEntity != tt.entity ||
			w.Channel.From.Nickname != tt.nickname || w.Text != tt.text || w.Channel.To.ID != "customer-1" {
			t.Errorf("webhook %d = %s", i, got[i].body)
		}
	}
	if w, _ := genesys.ParseWebhook(got[0].body); w.ID != id {
		t.Errorf("id %s, FlowMessage returned %s", w.ID, id)
	}
	conv, _ := h.sb.Conversation(cid)
	if m := conv.Messages[1]; m.ID != id || m.OriginatingEntity != "Bot" || m.From != "Acme Support" {
		t.Errorf("flow message in the transcript = %+v", m)
	}

	_ = h.sb.AgentEnd(cid)
	if _, err := h.sb.FlowMessage(cid, "too late"); !errorsIs(err, ErrConversationEnded) {
		t.Errorf("FlowMessage after the end: %v", err)
	}
	if _, err := h.sb.FlowMessage("nope", "hello"); !errorsIs(err, ErrConversationNotFound) {
		t.Errorf("FlowMessage to no conversation: %v", err)
	}
}

func TestFlowStructuredPassesItsContentThrough(t *testing.T) {
	rcv := startReceiver(t)
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("Acme Support", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	content := []genesys.Content{
		{ContentType: genesys.ContentTypeQuickReply, QuickReply: &genesys.QuickReply{Text: "Track my order", Payload: "TRACK", Action: "Message"}},
		{ContentType: genesys.ContentTypeQuickReply, QuickReply: &genesys.QuickReply{Text: "Talk to a person", Payload: "AGENT", Action: "Message", Image: "https://example.com/p.png"}},
	}
	if _, err := h.sb.FlowStructured(cid, "What can I do for you?", nil); !errorsIs(err, ErrInvalidMessage) {
		t.Errorf("no content: %v", err)
	}
	sent, _ := json.Marshal(content)
	id, err := h.sb.FlowStructured(cid, "What can I do for you?", content)
	if err != nil {
		t.Fatalf("FlowStructured: %v", err)
	}
	content[0].QuickReply.Text = "changed after the call"

	var body struct {
		ID                string            `json:"id"`
		Type              string            `json:"type"`
		Text              string            `json:"text"`
		OriginatingEntity string            `json:"originatingEntity"`
		Content           []json.RawMessage `json:"content"`
		Channel           struct {
			From struct{ Nickname string }
		}
	}
	got := rcv.wait(t, 1)[0]
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatalf("body: %v", err)
	}
	if body.ID != id || body.Type != "Structured" || body.OriginatingEntity != "Bot" || body.Text != "What can I do for you?" ||
		body.Channel.From.Nickname != "Acme Support" {
		t.Errorf("webhook = %s", got.body)
	}
	var want, have any
	_ = json.Unmarshal(sent, &want)
	raw, _ := json.Marshal(body.Content)
	_ = json.Unmarshal(raw, &have)
	if !reflect.DeepEqual(have, want) {
		t.Errorf("content = %s, want %s", raw, sent)
	}
}

func TestFlowGreetingGoesToEveryNewConversationBeforeAnyAgent(t *testing.T) {
	rcv := startReceiver(t)
	h := startSandbox(t, func(c *Config) { c.FlowGreeting = "Thanks for waiting. An agent will be with you shortly." })
	in := h.sb.AddIntegration("Acme Support", rcv.url, testWebhookKey)
	first := startConversation(t, h, in.ID, "customer-1")
	second := startConversation(t, h, in.ID, "customer-2")
	// A later message of the same conversation gets no greeting; the flow
	// message after it marks where the webhooks end.
	client := h.client(t, testClientSecret)
	if _, err := client.SendMessage(t.Context(), in.ID, customerMessage("customer-1", "customer-1-2", "Hello?", nil), false); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if _, err := h.sb.FlowMessage(first, "marker"); err != nil {
		t.Fatalf("FlowMessage: %v", err)
	}

	got := rcv.wait(t, 3)
	for !hasText(got, "marker") {
		got = rcv.wait(t, len(got)+1)
	}
	if len(got) != 3 {
		t.Errorf("%d webhooks, want two greetings and the marker", len(got))
	}
	greeted := map[string]bool{}
	for _, g := range got {
		w, _ := genesys.ParseWebhook(g.body)
		if w.Text == "marker" {
			continue
		}
		if w.OriginatingEntity != "Bot" || w.Text != "Thanks for waiting. An agent will be with you shortly." {
			t.Errorf("greeting = %s", g.body)
		}
		greeted[w.Channel.To.ID] = true
	}
	if !greeted["customer-1"] || !greeted["customer-2"] || len(greeted) != 2 {
		t.Errorf("greeted %v", greeted)
	}
	for _, cid := range []string{first, second} {
		conv, _ := h.sb.Conversation(cid)
		if conv.State != StateWaiting || conv.Messages[1].OriginatingEntity != "Bot" {
			t.Errorf("conversation %s: %s, messages %+v", cid, conv.State, conv.Messages)
		}
	}
}

func hasText(got []receivedWebhook, text string) bool {
	for _, g := range got {
		if w, err := genesys.ParseWebhook(g.body); err == nil && w.Text == text {
			return true
		}
	}
	return false
}
