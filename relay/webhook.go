package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/logging"
	"github.com/handover-relay/handover/store"
)

// IncomingWebhook is one request to the webhook URL, as received.
type IncomingWebhook struct {
	Body       []byte
	Signature  string            // X-Hub-Signature-256
	Headers    map[string]string // every header, for the log (secrets masked)
	ReceivedAt time.Time
	// Source is the client address it came from: refused requests are
	// logged as rows at most Config.RefusedLogPerMinute times a minute per
	// source, and only counted beyond that.
	Source string
}

// WebhookResult is the verdict on a webhook (store.Verdict…) and what was
// logged; the web layer decides how each verdict is answered.
type WebhookResult struct {
	Verdict string
	Detail  string
	LogID   int64 // 0 when a refused request was counted, not logged
}

// sensitiveHeaderWords mark header names whose values the log masks.
var sensitiveHeaderWords = []string{"authorization", "cookie", "token", "secret", "key", "password"}

// ReceiveWebhook checks and stores a webhook, and queues valid ones for
// processing. The order follows convoy's ingest: find the endpoint, verify
// the signature in constant time, store with a dedupe key, answer, and only
// then process, so Genesys gets its 200 within its 10 seconds.
func (r *Relay) ReceiveWebhook(ctx context.Context, in IncomingWebhook) (WebhookResult, error) {
	// UTC, as the store writes every time: SQLite compares times as text.
	log := store.Webhook{ReceivedAt: in.ReceivedAt.UTC(), Headers: maskHeaders(in.Headers)}
	var customerID string // channel.to.id, once parsed: it picks the processor
	var check webhookCheck
	result := func(verdict, detail string) (WebhookResult, error) {
		log.Status, log.Verdict, log.VerdictDetail = r.webhookStatus(verdict), verdict, detail
		if refusedVerdict(verdict) {
			logRow, note := r.admitRefused(ctx, in.Source)
			if !logRow {
				r.obs.Webhook(verdict)
				return WebhookResult{Verdict: verdict, Detail: detail}, nil
			}
			log.VerdictDetail += note
		}
		// Only a valid webhook is processed from its stored body; of any
		// other the log keeps the start, with the whole body's length and hash.
		logBody(&log, in.Body, verdict == store.VerdictValid)
		if verdict != store.VerdictValid && r.masksLogs(ctx, r.store, check.endpointID) {
			// Never processed, so masked at once.
			log.Body, log.Masked = maskedBody(log.Body), true
		}
		log.LatencyUS = time.Since(in.ReceivedAt).Microseconds()
		if verdict != store.VerdictValid {
			// Refused, or signed but outside the replay window: logged, never applied.
			log.Outcome = store.OutcomeIgnored
			if refusedVerdict(verdict) {
				log.Outcome = store.OutcomeRejected
			}
			now := r.store.Now()
			log.ProcessedAt = &now
		}
		duplicate, err := r.store.InsertWebhook(ctx, &log)
		if err != nil {
			return WebhookResult{}, err
		}
		if duplicate {
			r.obs.Webhook(VerdictDuplicate)
			if r.masksLogs(ctx, r.store, check.endpointID) {
				if err := r.store.MaskWebhook(ctx, log.ID, maskedBody(log.Body)); err != nil {
					return WebhookResult{}, err
				}
			}
		} else {
			r.obs.Webhook(verdict)
		}
		switch {
		case refusedVerdict(verdict):
			r.log.WarnContext(ctx, "webhook rejected", slog.Int64("webhook_id", log.ID), slog.String("verdict", verdict), slog.String("detail", detail))
		case verdict != store.VerdictValid:
			r.log.WarnContext(ctx, "signed webhook outside the replay window answered but not applied", slog.Int64("webhook_id", log.ID), slog.String("detail", detail))
		case !duplicate:
			r.queueWebhook(log.ID, customerID)
		}
		r.broker.Publish(live.Webhooks, live.Signal{Kind: live.Changed})
		return WebhookResult{Verdict: verdict, Detail: detail, LogID: log.ID}, nil
	}

	check, err := r.checkWebhook(ctx, in.Body, in.Signature, in.ReceivedAt, r.cfg.WebhookReplayWindow)
	if err != nil {
		return WebhookResult{}, err
	}
	check.describe(&log)
	if check.skew != 0 && check.endpointID != nil {
		// A skewed clock is worth an admin's look: shown on the endpoint page.
		if err := r.store.RecordClockSkew(ctx, *check.endpointID, check.skew, in.ReceivedAt.UTC()); err != nil {
			return WebhookResult{}, err
		}
	}
	customerID = check.hook.Channel.To.ID
	return result(check.verdict, check.detail)
}

// webhookCheck is what the checks of a webhook found.
type webhookCheck struct {
	verdict, detail string
	hook            genesys.Webhook
	endpointID      *int64
	skew            time.Duration // channel.time minus the time received, when over MaxClockSkew
}

// describe copies what the checks learnt onto the webhook's log row; a valid
// webhook gets its dedupe key.
func (c webhookCheck) describe(w *store.Webhook) {
	w.IntegrationID, w.GenesysMessageID, w.EventType, w.EndpointID = c.hook.Channel.ID, c.hook.ID, c.hook.Type, c.endpointID
	w.ClockSkewMS = c.skew.Milliseconds()
	if c.verdict == store.VerdictValid {
		key := dedupeKey(c.hook)
		w.DedupeKey = &key
	}
}

// checkWebhook parses the body, finds the endpoint by integration and
// verifies the signature with its secret in constant time.
//
// A correctly signed webhook is always answered 200: Genesys counts any other
// answer as a failed delivery, and the agent's send fails with it
// (docs/genesys.md §RealGenesys 15.5). With window > 0,
// one whose channel.time is further than window from now either way is
// logged as stale and not applied; replays within the window are stopped by
// the dedupe key, which the log keeps at least that long.
func (r *Relay) checkWebhook(ctx context.Context, body []byte, signature string, receivedAt time.Time, window time.Duration) (webhookCheck, error) {
	hook, err := genesys.ParseWebhook(body)
	if err != nil {
		return webhookCheck{verdict: store.VerdictMalformed, detail: err.Error()}, nil
	}
	check := webhookCheck{hook: hook}
	reject := func(verdict, detail string) (webhookCheck, error) {
		check.verdict, check.detail = verdict, detail
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
	check.verdict = store.VerdictValid
	if hook.Channel.Time.IsZero() {
		return check, nil
	}
	skew := hook.Channel.Time.Sub(receivedAt)
	if skew > MaxClockSkew || skew < -MaxClockSkew {
		check.skew = skew.Round(time.Millisecond)
		check.detail = fmt.Sprintf("channel.time %s is %s from Handover's clock", genesys.FormatTime(hook.Channel.Time.Time), DescribeSkew(skew))
	}
	if window > 0 && (skew > window || skew < -window) {
		check.verdict = store.VerdictStale
		check.detail = fmt.Sprintf("channel.time %s is %s from Handover's clock, outside the %s replay window: answered 200, not applied",
			genesys.FormatTime(hook.Channel.Time.Time), DescribeSkew(skew), window)
	}
	return check, nil
}

// refusedVerdict tells a refused webhook (no valid signature, or not a
// webhook at all) from a signed one, applied or, outside the replay window,
// only logged.
func refusedVerdict(verdict string) bool {
	return verdict != store.VerdictValid && verdict != store.VerdictStale
}

// webhookStatus is the HTTP status the web layer answers a webhook of the
// verdict with (Config.WebhookStatus), for the log row; 0 when not told.
func (r *Relay) webhookStatus(verdict string) int {
	if r.cfg.WebhookStatus == nil {
		return 0
	}
	return r.cfg.WebhookStatus(verdict)
}

// MaxClockSkew is how far a webhook's channel.time may be from Handover's
// clock before the webhook log and the endpoint page flag it.
const MaxClockSkew = time.Minute

// DescribeSkew says how far a clock is from Handover's: "2h0m0s behind", "3m0s ahead of".
func DescribeSkew(skew time.Duration) string {
	if skew < 0 {
		return (-skew).Round(time.Second).String() + " behind"
	}
	return skew.Round(time.Second).String() + " ahead of"
}

// dedupeKey is what makes a webhook distinct. A retry of the same message
// keeps its id; receipts share the id of the message they are about, and
// several follow one another (Sent, Delivered, Read or Failed), so a
// receipt's status and final flag are part of its key (docs/genesys.md §Receipts).
func dedupeKey(h genesys.Webhook) string {
	key := h.Channel.ID + "|" + h.Type + "|" + h.ID
	if h.Type == genesys.MessageTypeReceipt {
		key += "|" + h.Status + "|" + strconv.FormatBool(h.IsFinalReceipt)
	}
	return key
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
	// An agent's first message may come before any queue event named the
	// agent, with the integration's name as nickname: ask Genesys, outside
	// the transaction, who is connected (docs/genesys.md §RealGenesys 15.6).
	agentHint := r.agentNameFor(ctx, hook)
	now := r.store.Now()
	var (
		outcome = store.OutcomeIgnored
		conv    store.Conversation
		publish bool
		typing  *live.Signal
		fx      agentEffects
	)
	// Committed with the other processors' webhooks (group commit,
	// docs/performance.md).
	err = r.store.InBatch(ctx, func(ctx context.Context, tx *store.Store) error {
		claimed, err := tx.ClaimWebhook(ctx, id, now)
		if err != nil || !claimed {
			return err
		}
		conv, err = tx.ConversationByCustomerID(ctx, hook.Channel.To.ID)
		if errors.Is(err, store.ErrNotFound) {
			outcome = store.OutcomeNoConversation
			if err := r.maskProcessed(ctx, tx, w, w.EndpointID); err != nil {
				return err
			}
			return tx.FinishWebhook(ctx, id, outcome, nil, now)
		}
		if err != nil {
			return err
		}
		ctx = logging.WithConversationID(ctx, conv.ID)
		switch hook.Type {
		case genesys.MessageTypeText, genesys.MessageTypeStructured:
			outcome, err = r.applyAgentMessage(ctx, tx, conv, hook, agentHint, now, &fx)
			publish = true
		case genesys.MessageTypeEvent:
			outcome = store.OutcomeIgnored
			if conv.Open() && hasTyping(hook) {
				e, err := tx.EndpointByID(ctx, conv.EndpointID)
				if err != nil {
					return err
				}
				if e.RelayTyping {
					typing = &live.Signal{Kind: live.Typing, From: store.FromAgent, Duration: typingDuration(hook)}
					outcome = store.OutcomeDelivered
					if err := tx.QueueBotEvent(ctx, conv, live.EventTyping, TypingEvent(typing.From, typing.Duration)); err != nil {
						return err
					}
				}
			}
		case genesys.MessageTypeReceipt:
			outcome = store.OutcomeLogged
			var applied bool
			if applied, err = r.applyReceipt(ctx, tx, conv, hook, now); err == nil && applied {
				publish = true
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
		if err := r.maskProcessed(ctx, tx, w, &conv.EndpointID); err != nil {
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
		ctx = logging.WithConversationID(ctx, conv.ID)
		r.log.DebugContext(ctx, "webhook processed", slog.Int64("webhook_id", id), slog.String("type", hook.Type), slog.String("outcome", outcome))
		r.observeAgent(fx, conv.CreatedAt, now)
	}
	if publish {
		r.publish(conv)
		r.notifyOutbox()
	}
	if typing != nil {
		r.broker.Publish(live.Session(conv.EndpointID, conv.SessionID), *typing)
		r.broker.Publish(live.Conversation(conv.ID), *typing)
		r.notifyBotDeliveries()
	}
	r.broker.Publish(live.Webhooks, live.Signal{Kind: live.Changed})
	return nil
}

// receiptWait is how long a receipt for a message whose Genesys id is not
// known yet is kept for another try.
const receiptWait = 30 * time.Second

var errReceiptEarly = errors.New("receipt arrived before its message's Genesys id")

// applyAgentMessage puts a message from Genesys on the session's stream and
// queues the receipt for Genesys: Delivered, or Failed when the session is
// back with the bot.
//
// A message an Architect flow sends (originatingEntity "Bot": a Send Response
// before Transfer to ACD, a bot flow's buttons) is not an agent: it reaches
// the user as from the system, or only the timeline when the endpoint hides
// flow messages, and it neither joins an agent nor starts the
// time-to-first-answer clock (docs/genesys.md §RealGenesys 15.1).
func (r *Relay) applyAgentMessage(ctx context.Context, tx *store.Store, conv store.Conversation, hook genesys.Webhook, agentHint string, now time.Time, fx *agentEffects) (string, error) {
	receipt := genesys.InboundReceipt{ID: hook.ID, Channel: genesys.ReceiptChannel{To: genesys.Recipient{ID: conv.CustomerID, IDType: genesys.IDTypeOpaque}, Time: genesys.TimestampOf(now)},
		Status: genesys.ReceiptDelivered, IsFinalReceipt: true}
	if !conv.Open() {
		receipt.Status = genesys.ReceiptFailed
		receipt.Reasons = []genesys.Reason{{Code: genesys.ReasonGeneralError, Message: "end user session closed before delivery"}}
		return store.OutcomeNoConversation, r.enqueue(ctx, tx, conv, nil, store.OutboxReceipt, receipt)
	}
	e, err := tx.EndpointByID(ctx, conv.EndpointID)
	if err != nil {
		return "", err
	}
	text, data := messageContent(hook)
	msg := store.Message{ConversationID: conv.ID, EndpointID: conv.EndpointID, SessionID: conv.SessionID, Direction: store.FromAgent, Kind: store.KindText,
		Text: text, Data: data, GenesysMessageID: hook.ID, Delivery: store.DeliveryDelivered, CreatedAt: now}
	if isFlowMessage(hook) {
		msg.Direction = store.FromFlow
		if e.FlowMessages == store.FlowMessagesHide {
			msg.Kind = store.KindFlowHidden
		}
		if err := tx.InsertMessage(ctx, &msg); err != nil {
			return "", err
		}
		return store.OutcomeDelivered, r.enqueue(ctx, tx, conv, nil, store.OutboxReceipt, receipt)
	}
	// The agent's name from Genesys's participant data, when the relay has
	// read it; a webhook's nickname may be the integration's name instead
	// (docs/genesys.md §RealGenesys 15.6).
	msg.Data.AgentName = firstNonEmpty(conv.AgentName, agentHint, agentNickname(e, hook))
	if conv.State == store.StateQueued {
		// The first agent message proves an agent joined, even when no
		// notification said so.
		if fx.joined, err = r.markAgentJoined(ctx, tx, conv, msg.Data.AgentName, now, nil); err != nil {
			return "", err
		}
	}
	if err := tx.InsertMessage(ctx, &msg); err != nil {
		return "", err
	}
	// conv was read in this transaction: once it has a first answer, there
	// is nothing to mark, and no statement to make for it.
	if conv.FirstAgentMessageAt == nil {
		if fx.firstMessage, err = tx.MarkFirstAgentMessage(ctx, conv.ID, now); err != nil {
			return "", err
		}
	}
	return store.OutcomeDelivered, r.enqueue(ctx, tx, conv, nil, store.OutboxReceipt, receipt)
}

// agentNameFor is the name of the agent connected to the conversation of an
// agent's message, read from Genesys when Handover does not know it yet and
// the webhook's nickname is only the integration's name; "" when the
// conversation needs no name, or Genesys cannot say now.
func (r *Relay) agentNameFor(ctx context.Context, hook genesys.Webhook) string {
	if (hook.Type != genesys.MessageTypeText && hook.Type != genesys.MessageTypeStructured) || isFlowMessage(hook) {
		return ""
	}
	conv, err := r.store.ConversationByCustomerID(ctx, hook.Channel.To.ID)
	if err != nil || !conv.Open() || conv.AgentName != "" || conv.GenesysConversationID == "" {
		return ""
	}
	e, err := r.store.EndpointByID(ctx, conv.EndpointID)
	if err != nil || agentNickname(e, hook) != "" {
		return ""
	}
	participants, err := r.readParticipants(ctx, e, conv)
	if err != nil {
		r.log.InfoContext(ctx, "agent name not read from Genesys", slog.Int64("conversation_id", conv.ID), slog.Any("error", err))
		return ""
	}
	var name string
	var latest genesys.Timestamp
	for _, p := range participants {
		if p.Purpose == "agent" && p.State == "connected" && !p.ConnectedTime.Before(latest.Time) {
			name, latest = agentName(p), p.ConnectedTime
		}
	}
	return name
}

// isFlowMessage tells what an Architect flow or a Genesys bot sent from an
// agent's message, which carries "Human" (docs/genesys.md §RealGenesys 15.1).
func isFlowMessage(h genesys.Webhook) bool {
	return strings.EqualFold(h.OriginatingEntity, genesys.OriginatingEntityBot)
}

// agentNickname is channel.from.nickname, unless it is only the name of the
// endpoint's integration (which real Genesys may send instead of the agent's).
func agentNickname(e store.Endpoint, h genesys.Webhook) string {
	nick := strings.TrimSpace(h.Channel.From.Nickname)
	if strings.EqualFold(nick, strings.TrimSpace(e.DeploymentName)) {
		return ""
	}
	return nick
}

// receiptDelivery is the delivery state a Genesys receipt status means.
var receiptDelivery = map[string]string{
	genesys.ReceiptSent:      store.DeliverySent,
	genesys.ReceiptDelivered: store.DeliveryDelivered,
	genesys.ReceiptPublished: store.DeliveryDelivered,
	genesys.ReceiptRead:      store.DeliveryRead,
	genesys.ReceiptFailed:    store.DeliveryFailed,
	genesys.ReceiptRemoved:   store.DeliveryRemoved,
}

// applyReceipt applies one receipt of a sequence (Sent, Delivered, Read, or
// Failed with reasons, …) to the message it names: the message keeps its
// strongest state, and the receipt itself goes on the timeline; a failure
// also reaches the bot's stream as a receipt event. applied is false when no
// message carries the id yet.
func (r *Relay) applyReceipt(ctx context.Context, tx *store.Store, conv store.Conversation, hook genesys.Webhook, now time.Time) (applied bool, err error) {
	delivery, known := receiptDelivery[hook.Status]
	if !known {
		r.log.InfoContext(ctx, "receipt of an unknown status logged", slog.String("status", hook.Status), slog.String("genesys_message_id", hook.ID))
		return true, nil
	}
	reasons := reasonText(hook.Reasons)
	about, found, err := tx.ApplyReceipt(ctx, conv.ID, hook.ID, delivery, reasons)
	if err != nil || !found {
		return false, err
	}
	entry := store.Message{ConversationID: conv.ID, EndpointID: conv.EndpointID, SessionID: conv.SessionID, Direction: store.FromSystem, Kind: store.KindReceipt,
		GenesysMessageID: hook.ID, Delivery: delivery, Error: reasons, CreatedAt: now,
		Data: store.MessageData{ReceiptStatus: hook.Status, FinalReceipt: hook.IsFinalReceipt, AboutMessage: about.ID}}
	return true, tx.InsertMessage(ctx, &entry)
}

// markAgentJoined records the agent joining once, with its event on the
// stream. It reports whether this call recorded it.
func (r *Relay) markAgentJoined(ctx context.Context, tx *store.Store, conv store.Conversation, agentName string, at time.Time, connectedAt *time.Time) (bool, error) {
	changed, err := tx.MarkAgentJoined(ctx, conv.ID, agentName, at, connectedAt)
	if err != nil || !changed {
		return false, err
	}
	event := store.Message{ConversationID: conv.ID, EndpointID: conv.EndpointID, SessionID: conv.SessionID, Direction: store.FromSystem, Kind: store.KindState,
		Data: store.MessageData{State: store.StateAgentJoined, AgentName: agentName}, CreatedAt: at}
	if err := tx.InsertMessage(ctx, &event); err != nil {
		return false, err
	}
	e, err := tx.EndpointByID(ctx, conv.EndpointID)
	if err != nil {
		return false, err
	}
	if text := waitingText(e, store.MessageAgentJoined, textFill{agent: agentName}); text != "" {
		msg := store.Message{ConversationID: conv.ID, EndpointID: conv.EndpointID, SessionID: conv.SessionID, Direction: store.FromSystem, Kind: store.KindText,
			Text: text, CreatedAt: at}
		if err := tx.InsertMessage(ctx, &msg); err != nil {
			return false, err
		}
	}
	return true, nil
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

// MaxRefusedBody is how much of the body of a refused, malformed or stale
// webhook the log keeps: enough to read what was sent, too little for one
// client to fill the disk. Genesys's webhooks are a few kilobytes.
const MaxRefusedBody = 4 << 10

// logBody puts body on the log row w with its length and SHA-256: whole when
// keepAll, otherwise its first MaxRefusedBody bytes at most.
func logBody(w *store.Webhook, body []byte, keepAll bool) {
	if len(body) == 0 {
		return
	}
	sum := sha256.Sum256(body)
	w.BodyBytes, w.BodySHA256 = int64(len(body)), hex.EncodeToString(sum[:])
	if !keepAll {
		body = startOf(body, MaxRefusedBody)
	}
	w.Body = string(body)
}

// startOf is the first n bytes of body at most, cut where a UTF-8 character
// starts so that a text body stays valid text.
func startOf(body []byte, n int) []byte {
	if len(body) <= n {
		return body
	}
	cut := n
	for cut > n-utf8.UTFMax && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return body[:cut]
}

// masksLogs tells whether the endpoint (nil: none known) keeps people's
// data out of its logs (maskSensitiveLogging, docs/privacy.md).
func (r *Relay) masksLogs(ctx context.Context, s *store.Store, endpointID *int64) bool {
	if endpointID == nil {
		return false
	}
	e, err := s.EndpointByID(ctx, *endpointID)
	return err == nil && e.Privacy.MaskSensitiveLogging
}

// maskProcessed masks a webhook's logged body in the transaction that
// records it processed: until then the relay needs the body whole.
func (r *Relay) maskProcessed(ctx context.Context, tx *store.Store, w store.Webhook, endpointID *int64) error {
	if w.Masked || !r.masksLogs(ctx, tx, endpointID) {
		return nil
	}
	return tx.MaskWebhook(ctx, w.ID, maskedBody(w.Body))
}

// maskedBody is a logged webhook body as a masking endpoint's log keeps it.
func maskedBody(body string) string { return string(genesys.MaskBody([]byte(body))) }
