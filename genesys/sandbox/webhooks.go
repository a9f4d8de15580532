package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"time"

	"github.com/handover-relay/handover/genesys"
)

// maxWebhookAnswer caps how much of a webhook receiver's answer is read;
// Genesys only looks at the status.
const maxWebhookAnswer = 64 << 10

// outbox holds one conversation's webhooks not yet delivered. They go out
// one at a time and in order: a body being retried holds back the later
// ones, so that the customer sees the agent's messages in the order sent.
type outbox struct {
	pending []outboundWebhook
	running bool
}

type outboundWebhook struct {
	conversationID string
	integrationID  string
	messageID      string
	messageType    string
	url            string
	headers        map[string]string
	body           []byte
	signature      string
}

// queueWebhookLocked signs w and queues it for conv's outbox, starting the
// outbox's worker when it is idle.
func (s *Sandbox) queueWebhookLocked(conv *Conversation, in *integration, w genesys.Webhook) {
	s.queueBodyLocked(conv, in, w.ID, w.Type, w)
}

// queueBodyLocked is queueWebhookLocked for a body of another Go type with
// the webhook's shape; id and messageType are its top-level id and type.
func (s *Sandbox) queueBodyLocked(conv *Conversation, in *integration, id, messageType string, w any) {
	if in.deskOnly {
		return
	}
	body, err := json.Marshal(w) // compact, as Genesys sends it (docs/genesys.md §Signature)
	if err != nil {
		s.log.Error("encode webhook", slog.String("conversation_id", conv.ID), slog.Any("error", err))
		return
	}
	item := outboundWebhook{
		conversationID: conv.ID,
		integrationID:  in.ID,
		messageID:      id,
		messageType:    messageType,
		url:            in.OutboundNotificationWebhookURL,
		headers:        maps.Clone(in.WebhookHeaders),
		body:           body,
		signature:      genesys.Sign(in.secret, body),
	}
	box := s.outboxes[conv.ID]
	if box == nil {
		box = &outbox{}
		s.outboxes[conv.ID] = box
	}
	box.pending = append(box.pending, item)
	if box.running {
		return
	}
	box.running = s.goBackgroundLocked(func() { s.runOutbox(conv.ID) })
}

// runOutbox delivers one conversation's webhooks until none is left or the
// sandbox closes.
func (s *Sandbox) runOutbox(conversationID string) {
	for {
		s.mu.Lock()
		box := s.outboxes[conversationID]
		if len(box.pending) == 0 || s.ctx.Err() != nil {
			delete(s.outboxes, conversationID)
			s.mu.Unlock()
			return
		}
		item := box.pending[0]
		s.mu.Unlock()

		s.deliver(item)

		s.mu.Lock()
		box.pending = box.pending[1:]
		s.mu.Unlock()
	}
}

// deliver posts one body with Genesys's retry policy (docs/genesys.md §Webhook): on a
// timeout, a connection error, 429 or 5xx it tries again after the retry
// delay, up to WebhookRetries more times; any other answer is final.
func (s *Sandbox) deliver(item outboundWebhook) {
	attempts := 1 + s.cfg.WebhookRetries
	for attempt := 1; attempt <= attempts; attempt++ {
		status, err := s.post(item, attempt)
		if s.ctx.Err() != nil || !shouldRetry(status, err) {
			return
		}
		if attempt == attempts {
			// What Genesys does after the last failure is UNCERTAIN
			// (docs/genesys.md §Webhook); the sandbox gives the message up and logs it.
			s.log.Warn("webhook given up", slog.String("conversation_id", item.conversationID),
				slog.String("message_id", item.messageID), slog.Int("attempts", attempts))
			return
		}
		timer := time.NewTimer(s.cfg.WebhookRetryDelay)
		select {
		case <-timer.C:
		case <-s.ctx.Done():
			timer.Stop()
			return
		}
	}
}

func shouldRetry(status int, err error) bool {
	if err != nil {
		return true // a timeout or a connection that failed
	}
	return status == http.StatusTooManyRequests || status >= 500
}

// post makes one attempt and records it.
func (s *Sandbox) post(item outboundWebhook, attempt int) (int, error) {
	started := s.now()
	status, err := s.send(item)
	d := Delivery{
		ConversationID: item.conversationID,
		IntegrationID:  item.integrationID,
		MessageID:      item.messageID,
		Type:           item.messageType,
		URL:            item.url,
		Body:           item.body,
		Signature:      item.signature,
		Attempt:        attempt,
		Status:         status,
		Time:           started,
		Duration:       s.now().Sub(started),
	}
	if err != nil {
		d.Error = err.Error()
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
	level := slog.LevelDebug
	if err != nil || status < 200 || status > 299 {
		level = slog.LevelWarn
	}
	s.log.Log(s.ctx, level, "webhook attempt", slog.String("conversation_id", item.conversationID),
		slog.String("message_id", item.messageID), slog.String("type", item.messageType),
		slog.Int("attempt", attempt), slog.Int("status", status), slog.String("error", d.Error))
	return status, err
}

func (s *Sandbox) send(item outboundWebhook) (int, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, item.url, bytes.NewReader(item.body))
	if err != nil {
		return 0, fmt.Errorf("build webhook request: %w", err)
	}
	// webhookHeaders go first so that they cannot replace the signature.
	for k, v := range item.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(genesys.SignatureHeader, item.signature)
	resp, err := s.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("no answer within %s: %w", s.cfg.WebhookTimeout, err)
		}
		return 0, fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookAnswer))
	return resp.StatusCode, nil
}
