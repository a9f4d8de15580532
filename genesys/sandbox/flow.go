package sandbox

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/handover-relay/handover/genesys"
)

// Architect flow messages: what a Send Response action of the inbound
// message flow or an in-queue flow sends the customer, with no agent
// involved. They reach the webhook like an agent's messages, but with
// originatingEntity Bot and the integration's name in channel.from.nickname
// (docs/genesys.md §Webhook). Cards and carousels can only come from bot flows
// (docs/genesys.md §Structured).

// FlowMessage sends the customer text from an Architect flow, whether the
// conversation waits on a queue or an agent has it. It returns the Genesys
// message id once the webhook is queued.
func (s *Sandbox) FlowMessage(conversationID, text string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", fmt.Errorf("flow message in conversation %s: %w: no text", conversationID, ErrInvalidMessage)
	}
	return s.flowMessage(conversationID, genesys.MessageTypeText, text, nil)
}

// FlowStructured sends the customer a Structured message from an Architect
// flow: text with content items (quick replies, cards, carousels…), passed
// through as given.
func (s *Sandbox) FlowStructured(conversationID, text string, content []genesys.Content) (string, error) {
	if len(content) == 0 {
		return "", fmt.Errorf("flow structured message in conversation %s: %w: no content", conversationID, ErrInvalidMessage)
	}
	// A copy through JSON keeps every field the caller set, whatever content
	// types genesys.Content grows, and shares no pointers with the caller.
	data, err := json.Marshal(content)
	if err != nil {
		return "", fmt.Errorf("flow structured message in conversation %s: %w: %v", conversationID, ErrInvalidMessage, err)
	}
	var own []genesys.Content
	if err := json.Unmarshal(data, &own); err != nil {
		return "", fmt.Errorf("flow structured message in conversation %s: %w: %v", conversationID, ErrInvalidMessage, err)
	}
	return s.flowMessage(conversationID, genesys.MessageTypeStructured, strings.TrimSpace(text), own)
}

func (s *Sandbox) flowMessage(conversationID, messageType, text string, content []genesys.Content) (string, error) {
	if n := utf8.RuneCountInString(text); n > maxAgentText {
		return "", fmt.Errorf("flow message in conversation %s: %w: %d characters, the Open API channel allows %d", conversationID, ErrInvalidMessage, n, maxAgentText)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, err := s.openConversationLocked(conversationID)
	if err != nil {
		return "", fmt.Errorf("flow message in conversation %s: %w", conversationID, err)
	}
	in := s.integrationLocked(conv.IntegrationID)
	if in == nil {
		return "", fmt.Errorf("flow message in conversation %s: integration %s is gone", conversationID, conv.IntegrationID)
	}
	return s.flowMessageLocked(conv, in, messageType, text, content, now), nil
}

func (s *Sandbox) flowMessageLocked(conv *Conversation, in *integration, messageType, text string, content []genesys.Content, now time.Time) string {
	id := genesysID()
	w := s.outboundLocked(conv, in, id, now)
	w.Channel.From.Nickname = in.Name
	w.Type = messageType
	w.Text = text
	w.Content = content
	w.OriginatingEntity = originatingBot
	conv.Messages = append(conv.Messages, Message{
		ID: id, Direction: genesys.DirectionOutbound, ChannelMessageID: id, Type: messageType,
		Text: text, Content: copyContent(content), From: in.Name, OriginatingEntity: originatingBot, Time: now,
	})
	s.agentMessages[id] = conv.ID
	s.queueWebhookLocked(conv, in, w)
	s.changedLocked(conv)
	return id
}
