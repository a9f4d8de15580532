package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/logging"
	"github.com/handover-relay/handover/store"
)

const (
	// outboxLease is how long a claimed call belongs to this instance. It is
	// longer than any one attempt (the client's call timeout plus the wait
	// for the rate limiter), so no other instance sends it meanwhile.
	outboxLease = time.Minute
	// outboxLeaseMargin is left between an attempt's deadline and the end of
	// its lease, for recording the outcome.
	outboxLeaseMargin = 10 * time.Second
	// maxLimiterWait is the longest an attempt waits for the rate budget;
	// beyond that the call is put back and the worker moves on.
	maxLimiterWait = 10 * time.Second
	// idlePoll is how often the worker looks at the outbox with nothing to do
	// (other instances' work, leases that ran out or that a stopping instance
	// gave back: its calls wait at most this long, docs/scaling.md).
	idlePoll = 500 * time.Millisecond
)

// runOutbox sends due outbox items until ctx ends.
func (r *Relay) runOutbox(ctx context.Context) {
	queueWorker[store.OutboxItem]{
		name: "outbox", workers: r.cfg.Workers, wake: r.wake, log: r.log,
		claim: func(ctx context.Context, limit int) ([]store.OutboxItem, error) {
			return r.store.ClaimDueOutbox(ctx, r.instance, outboxLease, limit)
		},
		send:    r.deliver,
		nextDue: r.store.NextOutboxAttempt,
		release: func(ctx context.Context) error { return r.store.ReleaseOutboxLeasesOf(ctx, r.instance) },
	}.run(ctx)
}

// deliver makes one attempt at an outbox item and records what happened.
// When Genesys accepted it and chain is true, the call of the same
// conversation now first in line, if any, comes back leased to this
// instance, to be made next on the same slot
// (store.MarkOutboxSentLeasingNext).
func (r *Relay) deliver(ctx context.Context, item store.OutboxItem, chain bool) (store.OutboxItem, bool) {
	ctx = logging.WithConversationID(ctx, item.ConversationID)
	attempt := item.Attempts + 1
	var (
		used   store.Endpoint // the settings the attempt used
		sentID string         // the id Genesys gave the message the call carried
		held   = &heldCalls{} // the attempt's call-log rows, written with its outcome
	)
	defer r.writeHeldCalls(ctx, held, &item.ConversationID)
	conv, err := r.store.ConversationByID(ctx, item.ConversationID)
	if err == nil {
		if used, err = r.store.EndpointByID(ctx, item.EndpointID); err == nil {
			// The attempt ends before the lease does, so no other instance
			// claims the item while it may still be on its way.
			sendCtx, cancel := context.WithTimeout(ctx, outboxLease-outboxLeaseMargin)
			sendCtx = withCall(sendCtx, callInfo{conversationID: &conv.ID, outboxID: &item.ID, attempt: attempt, held: held})
			sentID, err = r.send(sendCtx, used, conv, item)
			cancel()
		}
	}
	if err == nil {
		if used.IntegrationError != "" && used.IntegrationID != "" {
			// Whatever was wrong with the settings works again.
			if err := r.store.SetEndpointIntegration(context.WithoutCancel(ctx), used.ID, used.IntegrationID, ""); err != nil {
				r.log.ErrorContext(ctx, "clear the endpoint's error", slog.Any("error", err))
			}
		}
		// Genesys has it: record that even when shutting down, or the next
		// start would send it again.
		calls := held.take()
		owner := "" // the end of a chain: the claim takes the next call
		if chain {
			owner = r.instance
		}
		next, leased, err := r.store.MarkOutboxSentLeasingNext(context.WithoutCancel(ctx), item, attempt, sentID, calls, owner, outboxLease)
		if err != nil {
			r.log.ErrorContext(ctx, "mark outbox item sent", slog.Int64("outbox_id", item.ID), slog.Any("error", err))
		}
		if len(calls) > 0 {
			r.publishCalls(&conv.ID)
		} else if item.MessageID != nil {
			r.broker.Publish(live.Conversation(conv.ID), live.Signal{Kind: live.Changed})
		}
		if used.Privacy.DiscardConversationText {
			// collectConversations off: Genesys has the text, so Handover keeps none.
			if err := r.store.ForgetDeliveredText(context.WithoutCancel(ctx), item); err != nil {
				r.log.ErrorContext(ctx, "forget a delivered text", slog.Int64("outbox_id", item.ID), slog.Any("error", err))
			}
		}
		r.log.DebugContext(ctx, "Genesys call delivered", slog.Int64("outbox_id", item.ID), slog.String("kind", item.Kind), slog.Int("attempt", attempt))
		return next, leased
	}
	if ctx.Err() != nil {
		// Shutting down: leave the item to the next start, untouched.
		return store.OutboxItem{}, false
	}
	if delay, ok := postponed(err); ok {
		// Not an attempt: the rate budget was spent. Try again soon.
		if err := r.store.RetryOutbox(ctx, item.ID, item.Attempts, r.store.Now().Add(delay), item.LastError); err != nil {
			r.log.ErrorContext(ctx, "postpone outbox item", slog.Any("error", err))
		}
		return store.OutboxItem{}, false
	}
	age := r.store.Now().Sub(item.CreatedAt)
	if !genesys.IsRetryable(err) && r.credentialsChanged(ctx, item.EndpointID, used) {
		// The admin changed the OAuth client (or host) while this call was
		// on its way: the refusal was for the old settings, so try the new.
		r.log.InfoContext(ctx, "Genesys settings changed during the call; trying again with the new ones", slog.Int64("outbox_id", item.ID))
		if err := r.store.RetryOutbox(ctx, item.ID, attempt, r.store.Now(), err.Error()); err != nil {
			r.log.ErrorContext(ctx, "reschedule outbox item", slog.Any("error", err))
		}
		return store.OutboxItem{}, false
	}
	if unauthorized(err) && age < r.cfg.RetryFor {
		// Genesys refused the OAuth client itself. Nothing is wrong with the
		// message: an admin has to fix the credentials (often mid-rotation),
		// so keep it, say so on the endpoint page, and retry.
		if recErr := r.store.SetEndpointIntegration(ctx, item.EndpointID, used.IntegrationID, "Genesys refused the OAuth client: "+err.Error()); recErr != nil {
			r.log.ErrorContext(ctx, "record credential error", slog.Any("error", recErr))
		}
	}
	if (genesys.IsRetryable(err) || unauthorized(err)) && age < r.cfg.RetryFor {
		next := r.store.Now().Add(r.backoff(attempt, err))
		r.log.WarnContext(ctx, "Genesys call failed; will retry", slog.Int64("conversation_id", item.ConversationID), slog.Int64("outbox_id", item.ID),
			slog.String("kind", item.Kind), slog.Int("attempt", attempt), slog.Time("next_attempt", next), slog.Any("error", err))
		if err := r.store.RetryOutbox(ctx, item.ID, attempt, next, err.Error()); err != nil {
			r.log.ErrorContext(ctx, "reschedule outbox item", slog.Any("error", err))
		}
		return store.OutboxItem{}, false
	}
	r.log.ErrorContext(ctx, "Genesys call failed for good", slog.Int64("conversation_id", item.ConversationID), slog.Int64("outbox_id", item.ID),
		slog.String("kind", item.Kind), slog.Int("attempt", attempt), slog.Any("error", err))
	if err := r.store.FailOutbox(ctx, item.ID, attempt, err.Error()); err != nil {
		r.log.ErrorContext(ctx, "mark outbox item failed", slog.Any("error", err))
	}
	r.undelivered(ctx, conv, item, err)
	return store.OutboxItem{}, false
}

// unauthorized tells a refusal of the OAuth client (401 after the one token
// refresh, or the token endpoint refusing the credentials).
func unauthorized(err error) bool {
	apiErr, ok := errors.AsType[*genesys.APIError](err)
	return ok && (apiErr.Status == http.StatusUnauthorized || apiErr.Code == "invalid_client")
}

// credentialsChanged tells whether the endpoint's Genesys settings differ
// from those an attempt used.
func (r *Relay) credentialsChanged(ctx context.Context, endpointID int64, used store.Endpoint) bool {
	if used.ID == 0 {
		return false
	}
	now, err := r.store.EndpointByID(ctx, endpointID)
	return err == nil && (now.Host != used.Host || now.ClientID != used.ClientID || now.ClientSecret != used.ClientSecret || now.DeploymentName != used.DeploymentName)
}

// backoff is the wait before attempt+1: Retry-After when Genesys gave one,
// else exponential from RetryBase up to RetryMax, with jitter so that many
// conversations do not retry in step.
func (r *Relay) backoff(attempt int, err error) time.Duration {
	if apiErr, ok := errors.AsType[*genesys.APIError](err); ok && apiErr.RetryAfter > 0 {
		return apiErr.RetryAfter
	}
	delay := r.cfg.RetryBase << min(attempt-1, 20)
	if delay <= 0 || delay > r.cfg.RetryMax {
		delay = r.cfg.RetryMax
	}
	return delay/2 + rand.N(delay/2+1)
}

// undelivered tells the user and the console that a call failed for good.
func (r *Relay) undelivered(ctx context.Context, conv store.Conversation, item store.OutboxItem, cause error) {
	if item.MessageID != nil {
		if err := r.store.SetMessageDelivery(ctx, *item.MessageID, store.DeliveryFailed, "", cause.Error()); err != nil {
			r.log.ErrorContext(ctx, "mark message undelivered", slog.Any("error", err))
		}
	}
	if item.Kind != store.OutboxMessage && item.Kind != store.OutboxStructured {
		r.publish(conv)
		return
	}
	if conv.GenesysConversationID == "" && conv.Open() {
		// The handover itself never reached Genesys: give the session back.
		if _, err := r.end(ctx, conv, store.StateFailed, store.ReasonUndelivered, nil); err != nil {
			r.log.ErrorContext(ctx, "end undelivered handover", slog.Any("error", err))
		}
		return
	}
	note := store.Message{ConversationID: conv.ID, EndpointID: conv.EndpointID, SessionID: conv.SessionID, Direction: store.FromSystem, Kind: store.KindText,
		Text: "A message could not be delivered to the agent.", Data: store.MessageData{Reason: cause.Error()}}
	// Written under the conversation's lock, as every timeline entry is:
	// the session's events (and bot deliveries) then commit in id order.
	err := r.store.InTx(ctx, func(tx *store.Store) error {
		if _, err := tx.ConversationByID(ctx, conv.ID); err != nil {
			return err
		}
		return tx.InsertMessage(ctx, &note)
	})
	if err != nil {
		r.log.ErrorContext(ctx, "note undelivered message", slog.Any("error", err))
	}
	r.publish(conv)
}

// errPostponed carries how long to wait when the rate budget is spent.
type errPostponed struct{ delay time.Duration }

func (e errPostponed) Error() string { return fmt.Sprintf("rate budget spent; postponed %s", e.delay) }

func postponed(err error) (time.Duration, bool) {
	var p errPostponed
	if errors.As(err, &p) {
		return p.delay, true
	}
	return 0, false
}

// send makes the Genesys call of one outbox item.
// Every Genesys call it makes is logged with the item: ctx carries the
// item's callInfo, and the client reports each call to callRecorder.
func (r *Relay) send(ctx context.Context, e store.Endpoint, conv store.Conversation, item store.OutboxItem) (sentID string, err error) {
	if e.Provider != store.ProviderGenesysCloudOM {
		return "", fmt.Errorf("endpoint %q no longer hands over to Genesys", e.Name)
	}
	c, err := r.client(e)
	if err != nil {
		return "", err
	}
	integrationID, err := r.integrationID(ctx, e, false)
	if err != nil {
		return "", err
	}
	switch item.Kind {
	case store.OutboxMessage:
		var msg genesys.InboundMessage
		if err := json.Unmarshal([]byte(item.Payload), &msg); err != nil {
			return "", fmt.Errorf("decode queued message: %w", err)
		}
		prefetch := conv.GenesysConversationID == ""
		resp, err := c.client.SendMessage(ctx, integrationID, msg, prefetch)
		if err = r.refreshOnUnknownIntegration(ctx, e, err); err != nil {
			return "", err
		}
		if resp.ConversationID != "" && conv.GenesysConversationID == "" {
			if err := r.store.SetGenesysConversationID(ctx, conv.ID, resp.ConversationID); err != nil {
				return "", err
			}
		}
		return resp.ID, nil
	case store.OutboxStructured:
		var body genesys.InboundStructuredResponse
		if err := json.Unmarshal([]byte(item.Payload), &body); err != nil {
			return "", fmt.Errorf("decode queued quick reply: %w", err)
		}
		resp, err := c.client.SendStructuredResponse(ctx, integrationID, body)
		return resp.ID, r.refreshOnUnknownIntegration(ctx, e, err)
	case store.OutboxEvent:
		var body genesys.InboundEvent
		if err := json.Unmarshal([]byte(item.Payload), &body); err != nil {
			return "", fmt.Errorf("decode queued event: %w", err)
		}
		_, err := c.client.SendEvent(ctx, integrationID, body)
		return "", r.refreshOnUnknownIntegration(ctx, e, err)
	case store.OutboxReceipt:
		var body genesys.InboundReceipt
		if err := json.Unmarshal([]byte(item.Payload), &body); err != nil {
			return "", fmt.Errorf("decode queued receipt: %w", err)
		}
		_, err := c.client.SendReceipt(ctx, integrationID, body)
		return "", r.refreshOnUnknownIntegration(ctx, e, err)
	case store.OutboxDisconnect:
		var body disconnectRequest
		if item.Payload != "" {
			if err := json.Unmarshal([]byte(item.Payload), &body); err != nil {
				return "", fmt.Errorf("decode queued disconnect: %w", err)
			}
		}
		return "", r.disconnectCustomer(ctx, c, e, conv, integrationID, body.Note)
	}
	return "", fmt.Errorf("unknown outbox kind %q", item.Kind)
}

// disconnectRequest is the outbox's disconnect call: Note, when set, is a
// last message the agent reads first (why the conversation ends).
type disconnectRequest struct {
	Note string `json:"note,omitempty"`
}

// disconnectCustomer ends the Genesys side when the user left (or a timeout
// ended the handover): the agent reads the note when there is one, then the
// customer participant is disconnected; where the OAuth client may not do
// that, the agent gets the endpoint's "customer left" text instead
// (docs/genesys.md §Inbound).
func (r *Relay) disconnectCustomer(ctx context.Context, c *endpointClient, e store.Endpoint, conv store.Conversation, integrationID, note string) error {
	if conv.GenesysConversationID == "" {
		return nil // Genesys never had the conversation
	}
	if note != "" {
		msg := genesys.InboundMessage{Text: note, Channel: genesys.InboundChannel{
			MessageID: fmt.Sprintf("hov-note-%d", conv.ID), From: customerRecipient(conv), Time: genesys.TimestampOf(r.store.Now())}}
		if _, err := c.client.SendMessage(ctx, integrationID, msg, false); err != nil {
			return err
		}
	}
	gc, err := c.client.GetConversation(ctx, conv.GenesysConversationID)
	if err != nil {
		return err
	}
	for _, p := range gc.Participants {
		if p.Purpose != "customer" {
			continue
		}
		if p.State == genesys.ParticipantStateDisconnected || p.State == "terminated" {
			return nil
		}
		err = c.client.DisconnectParticipant(ctx, conv.GenesysConversationID, p.ID)
		if err == nil || transient(err) {
			return err
		}
		break
	}
	r.log.WarnContext(ctx, "could not disconnect the customer; telling the agent instead", slog.Int64("conversation_id", conv.ID), slog.Any("error", err))
	msg := genesys.InboundMessage{Text: waitingText(e, store.MessageCustomerLeft, textFill{}), Channel: genesys.InboundChannel{
		MessageID: fmt.Sprintf("hov-left-%d", conv.ID), From: customerRecipient(conv), Time: genesys.TimestampOf(r.store.Now())}}
	_, err = c.client.SendMessage(ctx, integrationID, msg, false)
	return err
}

// refreshOnUnknownIntegration forgets a cached integration id that Genesys no
// longer knows (404), so the next attempt resolves the Deployment Name again.
func (r *Relay) refreshOnUnknownIntegration(ctx context.Context, e store.Endpoint, err error) error {
	if apiErr, ok := errors.AsType[*genesys.APIError](err); ok && apiErr.Status == http.StatusNotFound {
		if _, resolveErr := r.integrationID(ctx, e, true); resolveErr != nil {
			return resolveErr
		}
		// Resolved anew: worth another attempt with the fresh id.
		return &genesys.APIError{Status: http.StatusServiceUnavailable, Message: "integration id refreshed after 404; retrying"}
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
