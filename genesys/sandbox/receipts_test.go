package sandbox

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/handover-relay/handover/genesys"
)

// receiptsBefore waits for the webhook whose text is marker and returns the
// receipts that came before it, checking each one's envelope.
func receiptsBefore(t *testing.T, h *harness, rcv *receiver, marker string) []genesys.Webhook {
	t.Helper()
	got := rcv.wait(t, 1)
	for !hasText(got, marker) {
		got = rcv.wait(t, len(got)+1)
	}
	var out []genesys.Webhook
	for _, g := range got {
		w, err := genesys.ParseWebhook(g.body)
		if err != nil {
			t.Fatalf("webhook %s: %v", g.body, err)
		}
		if w.Text == marker {
			break
		}
		if w.Type != "Receipt" {
			continue
		}
		if err := genesys.VerifySignature(testWebhookKey, g.body, g.signature); err != nil {
			t.Errorf("receipt signature: %v", err)
		}
		if err := h.sb.spec.ValidateResponseBody("OpenNormalizedMessage", g.body); err != nil {
			t.Errorf("receipt: %v", err)
		}
		final := `"isFinalReceipt":` + map[bool]string{true: "true", false: "false"}[w.IsFinalReceipt]
		if !strings.Contains(string(g.body), final) {
			t.Errorf("receipt does not say %s: %s", final, g.body)
		}
		out = append(out, w)
	}
	return out
}

func TestReceiptSequenceIsSentForEachInboundMessage(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*Config)
		want      string
	}{
		{"off by default", nil, ""},
		{"SendReceipts", func(c *Config) { c.SendReceipts = true }, "Delivered"},
		{"sent, delivered, read", func(c *Config) { c.ReceiptSequence = []string{"Sent", "Delivered", "Read"} }, "Sent Delivered Read"},
		{"delivered, then failed", func(c *Config) { c.ReceiptSequence = []string{"Delivered", "Failed"} }, "Delivered Failed"},
		{"an empty sequence wins over SendReceipts", func(c *Config) { c.SendReceipts, c.ReceiptSequence = true, []string{} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := startReceiver(t)
			h := startSandbox(t, tt.configure)
			in := h.sb.AddIntegration("bot", rcv.url, testWebhookKey)
			cid := startConversation(t, h, in.ID, "customer-1")
			if _, err := h.sb.FlowMessage(cid, "marker"); err != nil {
				t.Fatalf("FlowMessage: %v", err)
			}
			receipts := receiptsBefore(t, h, rcv, "marker")
			conv, _ := h.sb.Conversation(cid)
			message := conv.Messages[0]
			var statuses []string
			for i, w := range receipts {
				statuses = append(statuses, w.Status)
				if w.ID != message.ID || w.Direction != "Inbound" || w.Channel.To.ID != "customer-1" || w.Channel.ID != in.ID {
					t.Errorf("receipt %d = %+v, want one for message %s", i, w, message.ID)
				}
				if w.IsFinalReceipt != (i == len(receipts)-1) {
					t.Errorf("receipt %d: isFinalReceipt %v", i, w.IsFinalReceipt)
				}
			}
			if got := strings.Join(statuses, " "); got != tt.want {
				t.Errorf("receipts %q, want %q", got, tt.want)
			}
			if last := strings.Fields(tt.want); len(last) > 0 && message.ReceiptStatus != last[len(last)-1] {
				t.Errorf("the transcript shows %q", message.ReceiptStatus)
			}
		})
	}
}

func TestAReceiptSequenceWithAnUnknownStatusIsRefused(t *testing.T) {
	if _, err := New(Config{PublicBaseURL: "http://127.0.0.1", ReceiptSequence: []string{"Delivered", "Seen"}}); err == nil {
		t.Error("New accepted the status Seen")
	}
}

func TestSendReceiptSendsAnyStatusForACustomerMessage(t *testing.T) {
	rcv := startReceiver(t)
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	conv, _ := h.sb.Conversation(cid)
	messageID := conv.Messages[0].ID
	_ = h.sb.Accept(cid, "Max Agent")
	agentMessageID, _ := h.sb.AgentSend(cid, "Hello", "")
	expired := []genesys.Reason{{Code: genesys.ReasonMessageExpired, Message: "Message could not be delivered in time"}}

	errorCases := []struct {
		name      string
		messageID string
		status    string
		reasons   []genesys.Reason
		want      error
	}{
		{"unknown status", messageID, "Seen", nil, ErrInvalidReceipt},
		{"reason without a message", messageID, "Failed", []genesys.Reason{{Code: "GeneralError"}}, ErrInvalidReceipt},
		{"unknown message", "0123", "Delivered", nil, ErrUnknownMessage},
		{"an agent's message", agentMessageID, "Delivered", nil, ErrUnknownMessage},
	}
	for _, tt := range errorCases {
		if err := h.sb.SendReceipt(cid, tt.messageID, tt.status, true, tt.reasons); !errorsIs(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := h.sb.SendReceipt("nope", messageID, "Read", true, nil); !errorsIs(err, ErrConversationNotFound) {
		t.Errorf("unknown conversation: %v", err)
	}

	if err := h.sb.SendReceipt(cid, messageID, "Published", false, nil); err != nil {
		t.Fatalf("SendReceipt Published: %v", err)
	}
	_ = h.sb.AgentEnd(cid) // receipts can still come for an ended conversation
	if err := h.sb.SendReceipt(cid, messageID, "Failed", true, expired); err != nil {
		t.Fatalf("SendReceipt Failed: %v", err)
	}
	got := rcv.wait(t, 3) // the agent's message and two receipts
	var receipts []genesys.Webhook
	for _, g := range got {
		w, _ := genesys.ParseWebhook(g.body)
		if w.Type == "Receipt" {
			receipts = append(receipts, w)
		}
	}
	if len(receipts) != 2 || receipts[0].Status != "Published" || receipts[0].IsFinalReceipt ||
		receipts[1].Status != "Failed" || !receipts[1].IsFinalReceipt || receipts[1].ID != messageID {
		t.Fatalf("receipts = %+v", receipts)
	}
	raw, _ := json.Marshal(receipts[1].Reasons)
	if string(raw) != `[{"code":"MessageExpired","message":"Message could not be delivered in time"}]` {
		t.Errorf("reasons = %s", raw)
	}
	if conv, _ := h.sb.Conversation(cid); conv.Messages[0].ReceiptStatus != "Failed" || len(conv.Messages[0].ReceiptReasons) != 1 {
		t.Errorf("transcript = %+v", conv.Messages[0])
	}
}
