package sandbox

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/handover-relay/handover/genesys"
)

// Receipts Genesys sends to the webhook about the customer's (inbound)
// messages (docs/genesys.md §Receipts). What triggers them in Genesys is UNCERTAIN;
// the sandbox sends the statuses of Config.ReceiptSequence after accepting
// each message, and SendReceipt sends any receipt on demand.

// receiptStatuses are the statuses of OpenNormalizedMessage.status (the SDK
// enumeration: Sent, Delivered, Read, Failed, Published, Removed).
var receiptStatuses = []string{"Sent", "Delivered", "Read", "Failed", "Published", "Removed"}

// receiptWebhook is a Receipt body. It sends isFinalReceipt even when false,
// which genesys.Webhook leaves out, so that a non-final receipt says so.
type receiptWebhook struct {
	genesys.Webhook
	IsFinalReceipt bool `json:"isFinalReceipt"`
}

// SendReceipt sends a Receipt webhook for the customer's message messageID
// (its Genesys id, as the inbound call answered): status is one of Sent,
// Delivered, Read, Failed, Published or Removed; reasons say why a message
// Failed (each needs a message). It works on ended conversations too.
func (s *Sandbox) SendReceipt(conversationID, messageID, status string, final bool, reasons []genesys.Reason) error {
	if !slices.Contains(receiptStatuses, status) {
		return fmt.Errorf("send receipt in conversation %s: %w: status %q is not one of %s",
			conversationID, ErrInvalidReceipt, status, strings.Join(receiptStatuses, ", "))
	}
	for _, r := range reasons {
		if strings.TrimSpace(r.Message) == "" {
			return fmt.Errorf("send receipt in conversation %s: %w: a reason needs a message", conversationID, ErrInvalidReceipt)
		}
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, ok := s.convs[conversationID]
	if !ok {
		return fmt.Errorf("send receipt in conversation %s: %w", conversationID, ErrConversationNotFound)
	}
	in := s.integrationLocked(conv.IntegrationID)
	if in == nil {
		return fmt.Errorf("send receipt in conversation %s: integration %s is gone", conversationID, conv.IntegrationID)
	}
	msg := inboundMessageByID(conv, messageID)
	if msg == nil {
		return fmt.Errorf("send receipt for message %s in conversation %s: %w", messageID, conversationID, ErrUnknownMessage)
	}
	s.receiptLocked(conv, in, msg, status, final, reasons, now)
	return nil
}

func inboundMessageByID(conv *Conversation, messageID string) *Message {
	for i := range conv.Messages {
		m := &conv.Messages[i]
		if m.ID == messageID && m.Direction == genesys.DirectionInbound {
			return m
		}
	}
	return nil
}

// receiptsForInboundLocked sends the configured receipt sequence for the
// customer's message msg.
func (s *Sandbox) receiptsForInboundLocked(conv *Conversation, in *integration, msg *Message, now time.Time) {
	for i, status := range s.receipts {
		s.receiptLocked(conv, in, msg, status, i == len(s.receipts)-1, nil, now)
	}
}

func (s *Sandbox) receiptLocked(conv *Conversation, in *integration, msg *Message, status string, final bool, reasons []genesys.Reason, now time.Time) {
	w := s.outboundLocked(conv, in, msg.ID, now)
	w.Type = genesys.MessageTypeReceipt
	w.Status = status
	w.Reasons = slices.Clone(reasons)
	// The receipt is about a message that went inbound, customer to Genesys.
	w.Direction = genesys.DirectionInbound
	s.queueBodyLocked(conv, in, w.ID, w.Type, receiptWebhook{Webhook: w, IsFinalReceipt: final})
	msg.ReceiptStatus, msg.ReceiptReasons = status, slices.Clone(reasons)
}
