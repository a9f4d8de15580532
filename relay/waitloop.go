package relay

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/handover-relay/handover/logging"
	"github.com/handover-relay/handover/store"
)

// waitingBatch is how many waiting handovers one read takes.
const waitingBatch = 200

// updatesOff is how far a waiting handover's next queue update is pushed
// when the endpoint sends none: the first pass (its accepted text) is then
// the only one.
const updatesOff = 100 * 365 * 24 * time.Hour

// watchWaiting looks at the waiting handovers every cfg.WaitingInterval,
// and at once when a handover starts: queue updates while no agent has
// joined, the queue timeout, and the inactivity timeout once one has.
func (r *Relay) watchWaiting(ctx context.Context) {
	ticker := time.NewTicker(r.cfg.WaitingInterval)
	defer ticker.Stop()
	for {
		r.checkWaiting(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-r.waitingWake:
		}
	}
}

// wakeWaiting makes the waiting loop look now, without waiting.
func (r *Relay) wakeWaiting() {
	select {
	case r.waitingWake <- struct{}{}:
	default:
	}
}

func (r *Relay) checkWaiting(ctx context.Context) {
	var after int64
	for {
		batch, err := r.store.WaitingAfter(ctx, after, waitingBatch)
		if err != nil {
			if ctx.Err() == nil {
				r.log.ErrorContext(ctx, "read waiting handovers", slog.Any("error", err))
			}
			return
		}
		now := r.store.Now()
		for _, w := range batch {
			after = w.ID
			if err := r.checkOne(logging.WithConversationID(ctx, w.ID), w, now); err != nil && ctx.Err() == nil {
				r.log.ErrorContext(ctx, "waiting handover", slog.Int64("conversation_id", w.ID), slog.Any("error", err))
			}
		}
		if len(batch) < waitingBatch {
			return
		}
	}
}

func (r *Relay) checkOne(ctx context.Context, w store.Waiting, now time.Time) error {
	switch w.State {
	case store.StateQueued:
		if w.QueueTimeoutSeconds > 0 && now.Sub(w.CreatedAt) >= seconds(w.QueueTimeoutSeconds) {
			return r.endWaiting(ctx, w.Conversation, store.ReasonQueueTimeout, "")
		}
		return r.queueUpdate(ctx, w, now)
	case store.StateAgentJoined:
		if w.InactivitySeconds <= 0 {
			return nil
		}
		since := w.AgentJoinedAt
		if w.LastExchangeAt != nil && (since == nil || w.LastExchangeAt.After(*since)) {
			since = w.LastExchangeAt
		}
		if since != nil && now.Sub(*since) >= seconds(w.InactivitySeconds) {
			note := fmt.Sprintf("The conversation was closed after %s without a message from either side.", durationInWords(seconds(w.InactivitySeconds)))
			return r.endWaiting(ctx, w.Conversation, store.ReasonInactivity, note)
		}
	}
	return nil
}

// endWaiting ends a handover a timeout ended: the user hears the endpoint's
// text, the bot takes over, and Genesys is told (note first, for the agent;
// then the customer leg is disconnected).
func (r *Relay) endWaiting(ctx context.Context, conv store.Conversation, reason, note string) error {
	_, err := r.end(ctx, conv, store.StateEnded, reason, func(tx *store.Store) error {
		return r.enqueue(ctx, tx, conv, nil, store.OutboxDisconnect, disconnectRequest{Note: note})
	})
	if err != nil {
		return err
	}
	r.notifyOutbox()
	return nil
}

// queueUpdate tells a waiting session about the queue when its update is
// due: a queue event (when the endpoint sends them) and the endpoint's text,
// the accepted one the first time and the still-waiting one after. One
// instance claims each update.
func (r *Relay) queueUpdate(ctx context.Context, w store.Waiting, now time.Time) error {
	first := w.NextQueueUpdateAt == nil
	if !first && now.Before(*w.NextQueueUpdateAt) {
		return nil
	}
	interval := seconds(w.QueueUpdateSeconds)
	next := now.Add(interval)
	if interval <= 0 {
		if !first {
			return nil
		}
		next = w.CreatedAt.Add(updatesOff)
	}
	claimed, err := r.store.ClaimQueueUpdate(ctx, w.ID, w.NextQueueUpdateAt, next)
	if err != nil || !claimed {
		return err
	}
	e, err := r.store.EndpointByID(ctx, w.EndpointID)
	if err != nil {
		return err
	}
	a := r.Availability(ctx, e)
	fill := textFill{wait: a.EstimatedWait, waiting: a.Waiting}
	var texts []string
	if first {
		texts = append(texts, waitingText(e, store.MessageAccepted, fill))
		if a.Known && !a.Available {
			texts = append(texts, waitingText(e, store.MessageNoAgents, fill))
		}
	} else {
		texts = append(texts, waitingText(e, store.MessageStillWaiting, fill))
	}
	conv := w.Conversation
	err = r.store.InTx(ctx, func(tx *store.Store) error {
		if interval > 0 {
			update := &store.QueueUpdate{Waiting: a.Waiting, WaitedSeconds: int(now.Sub(conv.CreatedAt) / time.Second)}
			if a.EstimatedWait != nil {
				s := int(*a.EstimatedWait / time.Second)
				update.EstimatedWaitSeconds = &s
			}
			event := store.Message{ConversationID: conv.ID, EndpointID: conv.EndpointID, SessionID: conv.SessionID, Direction: store.FromSystem,
				Kind: store.KindQueue, Data: store.MessageData{Queue: update}, CreatedAt: now}
			if err := tx.InsertMessage(ctx, &event); err != nil {
				return err
			}
		}
		for _, text := range texts {
			if text == "" {
				continue
			}
			msg := store.Message{ConversationID: conv.ID, EndpointID: conv.EndpointID, SessionID: conv.SessionID, Direction: store.FromSystem,
				Kind: store.KindText, Text: text, CreatedAt: now}
			if err := tx.InsertMessage(ctx, &msg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.publish(conv)
	return nil
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// durationInWords says a timeout the way the console shows it: "5 minutes".
func durationInWords(d time.Duration) string {
	switch {
	case d%time.Hour == 0 && d >= time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0 && d >= time.Minute:
		return plural(int(d/time.Minute), "minute")
	}
	return plural(int(d/time.Second), "second")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
