package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"time"

	"handover/genesys"
	"handover/logging"
	"handover/store"
)

// IncomingWebhook is one request to the webhook URL, as received.
type IncomingWebhook struct {
	Body       []byte
	Signature  string            // X-Hub-Signature-256
	Headers    map[string]string // every header, for the log (secrets masked)
	ReceivedAt time.Time
}

// WebhookResult is what to answer Genesys and what was logged.
type WebhookResult struct {
	Status  int
	Verdict string
	Detail  string
	LogID   int64
}

// sensitiveHeaderWords mark header names whose values the log masks.
var sensitiveHeaderWords = []string{"authorization", "cookie", "token", "secret", "key", "password"}

// ReceiveWebhook checks and stores a webhook, and queues valid ones for
// processing. The order follows convoy's ingest: find the endpoint, verify
// the signature in constant time, store with a dedupe key, answer, and only
// then process, so Genesys gets its 200 within its 10 seconds.
func (r *Relay) ReceiveWebhook(ctx context.Context, in IncomingWebhook) (WebhookResult, error) {
	// UTC, as the store writes every time: SQLite compares times as text.
	log := store.Webhook{ReceivedAt: in.ReceivedAt.UTC(), Headers: maskHeaders(in.Headers), Body: string(in.Body)}
	var customerID string // channel.to.id, once parsed: it picks the processor
	result := func(status int, verdict, detail string) (WebhookResult, error) {
		log.Status, log.Verdict, log.VerdictDetail = status, verdict, detail
		log.LatencyUS = time.Since(in.ReceivedAt).Microseconds()
		if status != 200 {
			log.Outcome = store.OutcomeRejected
			now := r.store.Now()
			log.ProcessedAt = &now
		}
		duplicate, err := r.store.InsertWebhook(ctx, &log)
		if err != nil {
			return WebhookResult{}, err
		}
		if duplicate {
			r.obs.Webhook(VerdictDuplicate)
		} else {
			r.obs.Webhook(verdict)
		}
		if status != 200 {
			r.log.WarnContext(ctx, "webhook rejected", slog.Int64("webhook_id", log.ID), slog.String("verdict", verdict), slog.String("detail", detail))
		} else if !duplicate {
			r.queueWebhook(log.ID, customerID)
		}
		r.broker.Publish(WebhooksTopic, Signal{Kind: "changed"})
		return WebhookResult{Status: status, Verdict: verdict, Detail: detail, LogID: log.ID}, nil
	}

	check, err := r.checkWebhook(ctx, in.Body, in.Signature, in.ReceivedAt, r.cfg.WebhookMaxAge)
	if err != nil {
		return WebhookResult{}, err
	}
	check.describe(&log)
	customerID = check.hook.Channel.To.ID
	return result(check.status, check.verdict, check.detail)
}

// webhookCheck is what the checks of a webhook found.
type webhookCheck struct {
	status          int // what to answer: 200, 400 or 401
	verdict, detail string
	hook            genesys.Webhook
	endpointID      *int64
}

// describe copies what the checks learnt onto the webhook's log row; a valid
// webhook gets its dedupe key.
func (c webhookCheck) describe(w *store.Webhook) {
	w.IntegrationID, w.GenesysMessageID, w.EventType, w.EndpointID = c.hook.Channel.ID, c.hook.ID, c.hook.Type, c.endpointID
	if c.verdict == store.VerdictValid {
		key := dedupeKey(c.hook)
		w.DedupeKey = &key
	}
}

// checkWebhook parses the body, finds the endpoint by integration and
// verifies the signature with its secret in constant time; with maxAge > 0 it
// also refuses a channel.time older than that (a captured request replayed).
func (r *Relay) checkWebhook(ctx context.Context, body []byte, signature string, receivedAt time.Time, maxAge time.Duration) (webhookCheck, error) {
	hook, err := genesys.ParseWebhook(body)
	if err != nil {
		return webhookCheck{status: 400, verdict: store.VerdictMalformed, detail: err.Error()}, nil
	}
	check := webhookCheck{hook: hook}
	reject := func(verdict, detail string) (webhookCheck, error) {
		check.status, check.verdict, check.detail = 401, verdict, detail
		return check, nil
	}
	endpoints, err := r.store.EndpointsByIntegrationID(ctx, hook.Channel.ID)
	if err != nil {
		return webhookCheck{}, err
	}
	if len(endpoints) == 0 {
		return reject(store.VerdictUnknownIntegration, fmt.Sprintf("no endpoint's deployment resolved to integration %s", hook.Channel.ID))
	}
	var verifyErr error
	now := r.store.Now()
verify:
	for _, e := range endpoints {
		for i, secret := range e.WebhookSecretsAt(now) {
			if verifyErr = genesys.VerifySignature(secret, body, signature); verifyErr == nil {
				check.endpointID = &e.ID
				if i > 0 {
					check.detail = fmt.Sprintf("verified with the previous webhook secret, accepted until %s (rotation grace period)", e.PreviousWebhookSecretUntil.UTC().Format(time.RFC3339))
				}
				break verify
			}
		}
	}
	if check.endpointID == nil {
		verdict := store.VerdictMismatch
		if errors.Is(verifyErr, genesys.ErrSignatureMissing) {
			verdict = store.VerdictMissing
		}
		return reject(verdict, verifyErr.Error())
	}
	if age := receivedAt.Sub(hook.Channel.Time.Time); maxAge > 0 && !hook.Channel.Time.IsZero() && (age > maxAge || age < -5*time.Minute) {
		return reject(store.VerdictStale, fmt.Sprintf("channel.time %s is %s from now; older than %s is refused as a replay", genesys.FormatTime(hook.Channel.Time.Time), age.Round(time.Second), maxAge))
	}
	check.status, check.verdict = 200, store.VerdictValid
	return check, nil
}

// WebhooksTopic is signalled on every logged webhook (the console's log).
const WebhooksTopic = "webhooks"

func dedupeKey(h genesys.Webhook) string {
	return h.Channel.ID + "|" + h.Type + "|" + h.ID
}

// queueWebhook hands a stored webhook to the processor of its customer. A
// full queue loses nothing: the sweep finds the webhook in the database.
func (r *Relay) queueWebhook(id int64, customerID string) {
	select {
	case r.shardOf(customerID) <- id:
	default:
		r.webhookOverflow.Store(true)
	}
}

// queueWebhookWait is queueWebhook for the sweep, which may wait for room.
func (r *Relay) queueWebhookWait(ctx context.Context, id int64, customerID string) {
	select {
	case r.shardOf(customerID) <- id:
	case <-ctx.Done():
	}
}

// shardOf is the processor queue of a customer: one customer's webhooks are
// always processed by the same processor, in the order received.
func (r *Relay) shardOf(customerID string) chan int64 {
	h := fnv.New32a()
	h.Write([]byte(customerID))
	return r.webhookQueues[int(h.Sum32())%len(r.webhookQueues)]
}

// customerOf reads channel.to.id from a stored webhook body.
func customerOf(body string) string {
	var hook genesys.Webhook
	_ = json.Unmarshal([]byte(body), &hook)
	return hook.Channel.To.ID
}

func (r *Relay) processWebhooks(ctx context.Context, queue <-chan int64) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-queue:
			if err := r.ProcessWebhook(ctx, id); err != nil && ctx.Err() == nil {
				r.log.ErrorContext(ctx, "process webhook", slog.Int64("webhook_id", id), slog.Any("error", err))
			}
		}
	}
}

// sweepWebhooks processes stored webhooks that no processor took: those of a
// previous run that stopped after answering, and any a full queue dropped.
func (r *Relay) sweepWebhooks(ctx context.Context) {
	everything := true // at start: whatever the last run left unprocessed
	for ctx.Err() == nil {
		if r.webhookOverflow.Swap(false) {
			everything = true
		}
		var after int64
		for {
			hooks, err := r.store.UnprocessedWebhooksAfter(ctx, after, 500)
			if err != nil {
				if ctx.Err() == nil {
					r.log.ErrorContext(ctx, "list unprocessed webhooks", slog.Any("error", err))
				}
				break
			}
			for _, h := range hooks {
				after = h.ID
				// Normally only those that waited long (a receipt that came
				// early waits for its message): younger ones are in a queue.
				if !everything && r.store.Now().Sub(h.ReceivedAt) < sweepAge {
					continue
				}
				r.queueWebhookWait(ctx, h.ID, customerOf(h.Body))
			}
			if len(hooks) < 500 {
				break
			}
		}
		everything = false
		sleep(ctx, 2*time.Second)
	}
}

// sweepAge is how long a webhook stays unprocessed before the periodic sweep
// queues it again.
const sweepAge = 3 * time.Second

// ProcessWebhook applies a stored, valid webhook once: the effects and the
// mark that it was processed commit together, so neither a crash nor a
// second processor can apply it twice.
func (r *Relay) ProcessWebhook(ctx context.Context, id int64) error {
	w, err := r.store.WebhookByID(ctx, id)
	if err != nil || w.ProcessedAt != nil || w.Verdict != store.VerdictValid {
		return err
	}
	var hook genesys.Webhook
	if err := json.Unmarshal([]byte(w.Body), &hook); err != nil {
		return fmt.Errorf("decode stored webhook %d: %w", id, err)
	}
	now := r.store.Now()
	var (
		outcome = store.OutcomeIgnored
		conv    store.Conversation
		publish bool
		typing  *Signal
		fx      agentEffects
	)
	err = r.store.InTx(ctx, func(tx *store.Store) error {
		claimed, err := tx.ClaimWebhook(ctx, id, now)
		if err != nil || !claimed {
			return err
		}
		conv, err = tx.ConversationByCustomerID(ctx, hook.Channel.To.ID)
		if errors.Is(err, store.ErrNotFound) {
			outcome = store.OutcomeNoConversation
			return tx.FinishWebhook(ctx, id, outcome, nil, now)
		}
		if err != nil {
			return err
		}
		ctx = logging.WithConversationID(ctx, conv.ID)
		switch hook.Type {
		case genesys.MessageTypeText, genesys.MessageTypeStructured:
			outcome, err = r.applyAgentMessage(ctx, tx, conv, hook, now, &fx)
			publish = true
		case genesys.MessageTypeEvent:
			outcome = store.OutcomeIgnored
			if conv.Open() && hasTyping(hook) {
				e, err := tx.EndpointByID(ctx, conv.EndpointID)
				if err != nil {
					return err
				}
				if e.RelayTyping {
					typing = &Signal{Kind: "typing", From: store.FromAgent, Duration: typingDuration(hook)}
					outcome = store.OutcomeDelivered
				}
			}
		case genesys.MessageTypeReceipt:
			outcome = store.OutcomeLogged
			delivery := store.DeliveryDelivered
			if hook.Status == genesys.ReceiptFailed {
				delivery = store.DeliveryFailed
			}
			var applied bool
			if applied, err = tx.SetDeliveryByGenesysID(ctx, conv.ID, hook.ID, delivery, reasonText(hook.Reasons)); err == nil && applied {
				r.broker.Publish(ConversationTopic(conv.ID), Signal{Kind: "changed"})
			} else if err == nil && now.Sub(w.ReceivedAt) < receiptWait {
				// The receipt can overtake the answer that tells us the
				// message's Genesys id: leave it for the sweep to try again.
				return errReceiptEarly
			}
		default:
			r.log.InfoContext(ctx, "webhook of an unknown type logged and ignored", slog.Int64("webhook_id", id), slog.String("type", hook.Type))
		}
		if err != nil {
			return err
		}
		return tx.FinishWebhook(ctx, id, outcome, &conv.ID, now)
	})
	if errors.Is(err, errReceiptEarly) {
		return nil
	}
	if err != nil {
		return err
	}
	if conv.ID != 0 {
		r.log.DebugContext(ctx, "webhook processed", slog.Int64("webhook_id", id), slog.String("type", hook.Type), slog.String("outcome", outcome))
		r.observeAgent(fx, conv.CreatedAt, now)
	}
	if publish {
		r.publish(conv)
		r.notifyOutbox()
	}
	if typing != nil {
		r.broker.Publish(SessionTopic(conv.EndpointID, conv.SessionID), *typing)
		r.broker.Publish(ConversationTopic(conv.ID), *typing)
	}
	r.broker.Publish(WebhooksTopic, Signal{Kind: "changed"})
	return nil
}

// receiptWait is how long a receipt for a message whose Genesys id is not
// known yet is kept for another try.
const receiptWait = 30 * time.Second

var errReceiptEarly = errors.New("receipt arrived before its message's Genesys id")

// applyAgentMessage puts an agent's message on the session's stream and
// queues the receipt for Genesys: Delivered, or Failed when the session is
// back with the bot.
func (r *Relay) applyAgentMessage(ctx context.Context, tx *store.Store, conv store.Conversation, hook genesys.Webhook, now time.Time, fx *agentEffects) (string, error) {
	receipt := genesys.InboundReceipt{ID: hook.ID, Channel: genesys.ReceiptChannel{To: genesys.Recipient{ID: conv.CustomerID, IDType: genesys.IDTypeOpaque}, Time: genesys.TimestampOf(now)},
		Status: genesys.ReceiptDelivered, IsFinalReceipt: true}
	if !conv.Open() {
		receipt.Status = genesys.ReceiptFailed
		receipt.Reasons = []genesys.Reason{{Code: genesys.ReasonGeneralError, Message: "end user session closed before delivery"}}
		return store.OutcomeNoConversation, r.enqueue(ctx, tx, conv, nil, store.OutboxReceipt, receipt)
	}
	msg := store.Message{ConversationID: conv.ID, EndpointID: conv.EndpointID, SessionID: conv.SessionID, Direction: store.FromAgent, Kind: store.KindText,
		Text: hook.Text, GenesysMessageID: hook.ID, Delivery: store.DeliveryDelivered, CreatedAt: now, Data: store.MessageData{AgentName: hook.Channel.From.Nickname}}
	for _, c := range hook.Content {
		switch {
		case c.Attachment != nil:
			msg.Data.Attachments = append(msg.Data.Attachments, store.Attachment{URL: c.Attachment.URL, MediaType: c.Attachment.MediaType, Mime: c.Attachment.Mime, Filename: c.Attachment.Filename, Text: c.Attachment.Text})
		case c.QuickReply != nil:
			msg.Data.QuickReplies = append(msg.Data.QuickReplies, store.QuickReply{Text: c.QuickReply.Text, Payload: firstNonEmpty(c.QuickReply.Payload, c.QuickReply.Text)})
		}
	}
	if conv.State == store.StateQueued {
		// The first agent message proves an agent joined, even when no
		// notification said so.
		var err error
		if fx.joined, err = r.markAgentJoined(ctx, tx, conv, hook.Channel.From.Nickname, now); err != nil {
			return "", err
		}
	}
	if err := tx.InsertMessage(ctx, &msg); err != nil {
		return "", err
	}
	var err error
	if fx.firstMessage, err = tx.MarkFirstAgentMessage(ctx, conv.ID, now); err != nil {
		return "", err
	}
	return store.OutcomeDelivered, r.enqueue(ctx, tx, conv, nil, store.OutboxReceipt, receipt)
}

// markAgentJoined records the agent joining once, with its event on the
// stream. It reports whether this call recorded it.
func (r *Relay) markAgentJoined(ctx context.Context, tx *store.Store, conv store.Conversation, agentName string, at time.Time) (bool, error) {
	changed, err := tx.MarkAgentJoined(ctx, conv.ID, agentName, at)
	if err != nil || !changed {
		return false, err
	}
	event := store.Message{ConversationID: conv.ID, EndpointID: conv.EndpointID, SessionID: conv.SessionID, Direction: store.FromSystem, Kind: store.KindState,
		Data: store.MessageData{State: store.StateAgentJoined, AgentName: agentName}, CreatedAt: at}
	return true, tx.InsertMessage(ctx, &event)
}

func hasTyping(h genesys.Webhook) bool {
	for _, e := range h.Events {
		if e.EventType == genesys.EventTypeTyping {
			return true
		}
	}
	return false
}

func typingDuration(h genesys.Webhook) int {
	for _, e := range h.Events {
		if e.Typing != nil && e.Typing.Duration > 0 {
			return int(e.Typing.Duration)
		}
	}
	return 5000
}

func reasonText(reasons []genesys.Reason) string {
	parts := make([]string, 0, len(reasons))
	for _, reason := range reasons {
		parts = append(parts, strings.TrimSpace(reason.Code+" "+reason.Message))
	}
	return strings.Join(parts, "; ")
}

func maskHeaders(headers map[string]string) map[string]string {
	out := make(map[string]string, len(headers))
	for name, value := range headers {
		lower := strings.ToLower(name)
		for _, word := range sensitiveHeaderWords {
			if strings.Contains(lower, word) {
				value = "••••••"
				break
			}
		}
		out[name] = value
	}
	return out
}
