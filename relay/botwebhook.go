package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/logging"
	"github.com/handover-relay/handover/store"
)

// Event webhooks to the bot (README "Event webhooks to the bot"): every
// event a session's stream carries is also POSTed to the endpoint's Bot
// Webhook URL, signed as the Standard Webhooks specification says, from a
// durable queue of its own (store.BotDelivery) that keeps each session's
// order, retries what may succeed later and survives restarts.

const (
	// botLease is how long a claimed delivery belongs to this instance:
	// longer than an attempt, so no other instance sends it meanwhile.
	botLease = time.Minute
	// botExcerptBytes is how much of the bot's answer the log keeps.
	botExcerptBytes = 512
	// typingRetryFor bounds the retries of a typing event: one that arrives
	// later than this says nothing true any more.
	typingRetryFor = 30 * time.Second
	// botUserAgent names Handover to the bot.
	botUserAgent = "Handover-Webhooks/1"
)

// BotEvent is the body of an event webhook to the bot.
type BotEvent struct {
	ID             string    `json:"id"`
	Type           string    `json:"type"`
	EndpointID     int64     `json:"endpointId"`
	SessionID      string    `json:"sessionId"`
	UserID         string    `json:"userId"`
	ConversationID *int64    `json:"conversationId"`
	Time           time.Time `json:"time"`
	Data           any       `json:"data"`
}

// BotEventOf makes the body of a delivery: from its timeline entry when it
// has one (so what masking or erasure changed since is what is sent), else
// from the data it carries.
func (r *Relay) BotEventOf(ctx context.Context, d store.BotDelivery) (BotEvent, error) {
	ev := BotEvent{ID: d.EventID, Type: d.EventType, EndpointID: d.EndpointID, SessionID: d.SessionID, ConversationID: d.ConversationID, Time: d.CreatedAt.UTC()}
	if d.ConversationID != nil {
		conv, err := r.store.ConversationByID(ctx, *d.ConversationID)
		if err != nil {
			return BotEvent{}, err
		}
		ev.UserID = conv.UserID
	}
	if d.MessageID != nil {
		m, err := r.store.MessageByID(ctx, *d.MessageID)
		if err != nil {
			return BotEvent{}, err
		}
		ev.Type, ev.Data = SessionEvent(m)
		ev.Time = m.CreatedAt.UTC()
		return ev, nil
	}
	var data map[string]any
	if d.Data != "" {
		if err := json.Unmarshal([]byte(d.Data), &data); err != nil {
			return BotEvent{}, fmt.Errorf("read the data of bot delivery %d: %w", d.ID, err)
		}
	}
	ev.Data = data
	return ev, nil
}

// runBotDeliveries sends due bot deliveries until ctx ends.
func (r *Relay) runBotDeliveries(ctx context.Context) {
	queueWorker[store.BotDelivery]{
		name: "bot deliveries", workers: r.cfg.BotWorkers, wake: r.botWake, log: r.log,
		claim: func(ctx context.Context, limit int) ([]store.BotDelivery, error) {
			return r.store.ClaimDueBotDeliveries(ctx, r.instance, botLease, limit)
		},
		send: func(ctx context.Context, d store.BotDelivery, _ bool) (store.BotDelivery, bool) {
			r.deliverToBot(ctx, d) // a session's next event waits for the claim
			return store.BotDelivery{}, false
		},
		nextDue: r.store.NextBotDeliveryAttempt,
		release: func(ctx context.Context) error { return r.store.ReleaseBotDeliveryLeasesOf(ctx, r.instance) },
	}.run(ctx)
}

// notifyBotDeliveries wakes the bot delivery worker without waiting.
func (r *Relay) notifyBotDeliveries() {
	select {
	case r.botWake <- struct{}{}:
	default:
	}
}

// deliverToBot makes one attempt at a delivery and records it: delivered,
// due again after a backoff, or failed for good.
func (r *Relay) deliverToBot(ctx context.Context, d store.BotDelivery) {
	if d.ConversationID != nil {
		ctx = logging.WithConversationID(ctx, *d.ConversationID)
	}
	e, err := r.store.EndpointByID(ctx, d.EndpointID)
	if err != nil {
		r.log.ErrorContext(ctx, "bot delivery: read endpoint", slog.Int64("bot_delivery_id", d.ID), slog.Any("error", err))
		r.postponeBotDelivery(ctx, d, r.cfg.BotRetryBase)
		return
	}
	if e.BotWebhookURL == "" {
		// The URL was removed: nothing to send to, now or later, and no
		// webhook whose health this says anything about.
		if err := r.store.DropBotDelivery(context.WithoutCancel(ctx), d, "the endpoint has no bot webhook URL any more"); err != nil {
			r.log.ErrorContext(ctx, "drop bot delivery", slog.Int64("bot_delivery_id", d.ID), slog.Any("error", err))
		}
		r.broker.Publish(live.BotDeliveries, live.Signal{Kind: live.Changed})
		return
	}
	ev, err := r.BotEventOf(ctx, d)
	if err != nil {
		r.log.ErrorContext(ctx, "bot delivery: make the event", slog.Int64("bot_delivery_id", d.ID), slog.Any("error", err))
		r.postponeBotDelivery(ctx, d, r.cfg.BotRetryBase)
		return
	}
	a, retryAfter, retryable := r.postToBot(ctx, e, ev)
	if ctx.Err() != nil && a.Error != "" {
		return // shutting down: the lease is given back, the next start sends it
	}
	if a.Error == "" || !retryable {
		r.recordBotAttempt(ctx, d, a, nil)
		r.forgetBotDeliveredText(ctx, e, d)
		return
	}
	retryFor := r.cfg.BotRetryFor
	if d.EventType == live.EventTyping {
		retryFor = min(retryFor, typingRetryFor)
	}
	delay := r.botBackoff(d.Attempts+1, retryAfter)
	next := a.At.Add(delay)
	if next.Sub(d.CreatedAt) > retryFor {
		r.log.WarnContext(ctx, "bot webhook failed for the whole retry period; giving up on the event", slog.Int64("bot_delivery_id", d.ID),
			slog.String("event", d.EventType), slog.Int("attempts", d.Attempts+1), slog.String("error", a.Error))
		// Giving up on a typing event (retried for seconds only) says
		// nothing of the webhook over the retry period: no flag for it.
		a.GaveUp = d.EventType != live.EventTyping
		r.recordBotAttempt(ctx, d, a, nil)
		r.forgetBotDeliveredText(ctx, e, d)
		return
	}
	r.recordBotAttempt(ctx, d, a, &next)
}

func (r *Relay) recordBotAttempt(ctx context.Context, d store.BotDelivery, a store.BotAttempt, next *time.Time) {
	// The outcome is recorded even when shutting down, and tried again when
	// the database fails for a moment: a 2xx not recorded would be sent
	// again once the lease runs out.
	ctx = context.WithoutCancel(ctx)
	var err error
	for wait := 100 * time.Millisecond; wait <= 3*time.Second; wait *= 2 {
		if err = r.store.RecordBotAttempt(ctx, d, a, next); err == nil || errors.Is(err, store.ErrLeaseLost) {
			break
		}
		sleep(ctx, wait)
	}
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		r.log.WarnContext(ctx, "bot delivery attempt not recorded: another instance took the event over", slog.Int64("bot_delivery_id", d.ID))
	case err != nil:
		r.log.ErrorContext(ctx, "record bot delivery attempt", slog.Int64("bot_delivery_id", d.ID), slog.Any("error", err))
	}
	r.broker.Publish(live.BotDeliveries, live.Signal{Kind: live.Changed})
	if d.ConversationID != nil {
		r.broker.Publish(live.Conversation(*d.ConversationID), live.Signal{Kind: live.Changed})
	}
}

// forgetBotDeliveredText drops the text of a timeline entry the bot webhook
// is done with, for an endpoint that does not collect conversations, once
// the conversation ended (ForgetConversationText kept it for the webhook).
func (r *Relay) forgetBotDeliveredText(ctx context.Context, e store.Endpoint, d store.BotDelivery) {
	if !e.Privacy.DiscardConversationText || d.MessageID == nil {
		return
	}
	if err := r.store.ForgetBotDeliveredText(context.WithoutCancel(ctx), *d.MessageID); err != nil {
		r.log.ErrorContext(ctx, "forget a text delivered to the bot", slog.Int64("bot_delivery_id", d.ID), slog.Any("error", err))
	}
}

func (r *Relay) postponeBotDelivery(ctx context.Context, d store.BotDelivery, delay time.Duration) {
	if err := r.store.PostponeBotDelivery(context.WithoutCancel(ctx), d, r.store.Now().Add(delay)); err != nil {
		r.log.ErrorContext(ctx, "postpone bot delivery", slog.Int64("bot_delivery_id", d.ID), slog.Any("error", err))
	}
}

// botBackoff is the wait before attempt+1: the bot's Retry-After when it
// gave one, else exponential from BotRetryBase up to BotRetryMax with
// jitter (the schedule is in the README).
func (r *Relay) botBackoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	delay := r.cfg.BotRetryBase << min(attempt-1, 20)
	if delay <= 0 || delay > r.cfg.BotRetryMax {
		delay = r.cfg.BotRetryMax
	}
	return delay*3/4 + rand.N(delay/4+1)
}

// postToBot POSTs one signed event to the endpoint's bot webhook. retryable
// says whether a failure may succeed later: no answer, a timeout, 408, 429
// (with its Retry-After) or a 5xx; any other answer is the bot's final word.
func (r *Relay) postToBot(ctx context.Context, e store.Endpoint, ev BotEvent) (a store.BotAttempt, retryAfter time.Duration, retryable bool) {
	start := r.store.Now()
	a = store.BotAttempt{URL: e.BotWebhookURL, At: start}
	body, err := json.Marshal(ev)
	if err != nil {
		a.Error = err.Error()
		return a, 0, false
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.BotWebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.BotWebhookURL, bytes.NewReader(body))
	if err != nil {
		a.Error = "the bot webhook URL: " + withoutURLSecrets(err).Error()
		return a, 0, false
	}
	signature, err := SignBotEvent(e.BotWebhookSecretsAt(start), ev.ID, start, body)
	if err != nil {
		a.Error = err.Error()
		return a, 0, false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", botUserAgent)
	setSignatureHeaders(req.Header, ev.ID, start, signature)
	sent := time.Now()
	resp, err := r.cfg.BotWebhookClient.Do(req)
	a.Latency = time.Since(sent)
	if err != nil {
		a.Error = withoutURLSecrets(err).Error()
		// An address the configuration refuses stays refused.
		return a, 0, !errors.Is(err, genesys.ErrPrivateAddress)
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, botExcerptBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is reused
	a.ResponseStatus, a.ResponseExcerpt = resp.StatusCode, validUTF8(excerpt)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return a, 0, false
	}
	a.Error = "the bot answered " + resp.Status
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return a, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), true
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode >= 500:
		return a, 0, true
	}
	return a, 0, false
}

// SignBotEvent makes the webhook-signature header of an event: one v1
// signature per secret (the current one, and the previous one during its
// rotation grace period), space-separated, as Standard Webhooks says.
func SignBotEvent(secrets []string, id string, at time.Time, body []byte) (string, error) {
	signatures := make([]string, 0, len(secrets))
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return "", fmt.Errorf("the bot webhook's signing secret: %w", err)
		}
		sig, err := wh.Sign(id, at, body)
		if err != nil {
			return "", err
		}
		signatures = append(signatures, sig)
	}
	if len(signatures) == 0 {
		return "", errors.New("the bot webhook has no signing secret")
	}
	return strings.Join(signatures, " "), nil
}

// setSignatureHeaders sets the Standard Webhooks headers of a signed request.
func setSignatureHeaders(h http.Header, id string, at time.Time, signature string) {
	h.Set(standardwebhooks.HeaderWebhookID, id)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, signature)
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// validUTF8 keeps what is valid UTF-8 of a cut excerpt.
func validUTF8(b []byte) string {
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return string(b)
}

// ErrNoBotWebhook: the endpoint has no bot webhook to send to.
var ErrNoBotWebhook = errors.New("the endpoint has no bot webhook URL")

// SendBotTestEvent sends a test event to the endpoint's bot webhook at once
// and records it in the bot delivery log with its outcome.
func (r *Relay) SendBotTestEvent(ctx context.Context, e store.Endpoint) (store.BotDelivery, error) {
	if e.BotWebhookURL == "" {
		return store.BotDelivery{}, ErrNoBotWebhook
	}
	d := r.store.NewBotTestEvent(e.ID)
	data := map[string]any{"text": "A test event from Handover's console.", "endpointName": e.Name}
	ev := BotEvent{ID: d.EventID, Type: live.EventTest, EndpointID: e.ID, Time: d.CreatedAt.UTC(), Data: data}
	a, _, _ := r.postToBot(ctx, e, ev)
	if err := r.store.SaveBotTestEvent(context.WithoutCancel(ctx), &d, data, a); err != nil {
		return store.BotDelivery{}, err
	}
	r.broker.Publish(live.BotDeliveries, live.Signal{Kind: live.Changed})
	return d, nil
}

// ReplayBotDelivery sends a delivery again, with its id and body: one still
// pending becomes due at once, in its session's order; one delivered or
// given up on gets one attempt now (after what came since, so out of its
// session's order), whose outcome is recorded on it.
func (r *Relay) ReplayBotDelivery(ctx context.Context, id int64) (store.BotDelivery, error) {
	d, err := r.store.BotDeliveryByID(ctx, id)
	if err != nil {
		return store.BotDelivery{}, err
	}
	if d.Status == store.BotDeliveryPending {
		if _, err := r.store.RetryBotDeliveryNow(ctx, id); err != nil {
			return store.BotDelivery{}, err
		}
		r.notifyBotDeliveries()
		return r.store.BotDeliveryByID(ctx, id)
	}
	e, err := r.store.EndpointByID(ctx, d.EndpointID)
	if err != nil {
		return store.BotDelivery{}, err
	}
	if e.BotWebhookURL == "" {
		return store.BotDelivery{}, ErrNoBotWebhook
	}
	ev, err := r.BotEventOf(ctx, d)
	if err != nil {
		return store.BotDelivery{}, err
	}
	a, _, _ := r.postToBot(ctx, e, ev)
	a.Replay = true
	r.recordBotAttempt(ctx, d, a, nil)
	return r.store.BotDeliveryByID(ctx, id)
}
