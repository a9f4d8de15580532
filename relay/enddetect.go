package relay

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/logging"
	"github.com/handover-relay/handover/store"
)

// The webhook never says that an agent joined or that the conversation
// ended (docs/genesys.md §Notifications, §DetailEvents). Four sources
// tell it instead: the Notifications API WebSocket per queue (fast, but it
// loses events while disconnected), a rate-budgeted poll of each open
// conversation (the repair), and a route that Genesys Process Automation
// triggers and Amazon EventBridge API destinations call (HandleTrigger).
//
// Real Genesys sends more than "joined" and "left": a queue offers the
// conversation to agents who may decline or let the offer time out, agents
// transfer to one another and to other queues, and after-call work follows
// an agent's leaving. The rules below join only on a connected agent and end
// only when the customer leg ends or the last connected agent leaves other
// than by transfer (docs/genesys.md §RealGenesys 15.3).

// applyGenesysState applies a snapshot of a conversation's participants
// (a queue topic event or a poll).
func (r *Relay) applyGenesysState(ctx context.Context, conv store.Conversation, participants []genesys.Participant) error {
	if !conv.Open() {
		return nil
	}
	ctx = logging.WithConversationID(ctx, conv.ID)
	var (
		current  *genesys.Participant // the agent connected last
		engaged  bool                 // an agent is connected or being offered the conversation
		left     *genesys.Participant // an agent who was connected and left other than by transfer
		customer *genesys.Participant
	)
	for i := range participants {
		p := &participants[i]
		switch p.Purpose {
		case "agent":
			switch {
			case p.State == "connected":
				engaged = true
				if current == nil || !p.ConnectedTime.Before(current.ConnectedTime.Time) {
					current = p
				}
			case !isGone(p.State):
				engaged = true // alerting, offering, contacting…: not an answer yet
			case agentLeft(*p):
				left = p
			}
		case "customer":
			customer = p
		}
	}
	switch {
	case customer != nil && isGone(customer.State):
		_, err := r.end(ctx, conv, store.StateEnded, customerLegReason(customer.DisconnectType), nil)
		return err
	case current != nil:
		return r.agentConnected(ctx, conv, agentName(*current), timeOrNil(current.ConnectedTime))
	case left != nil && !engaged:
		_, err := r.end(ctx, conv, store.StateEnded, agentLegReason(left.DisconnectType), nil)
		return err
	}
	return nil
}

// agentConnected records that the agent named is connected since
// connectedAt (Genesys's clock; nil when unknown): the first one joins the
// handover; a later one (after a transfer) is announced on the stream with
// its name, as is a better name for the same agent. Snapshots come from the
// queue topic and from polls, and one can overtake another: one whose agent
// connected before the agent already named is stale and changes nothing.
func (r *Relay) agentConnected(ctx context.Context, conv store.Conversation, name string, connectedAt *time.Time) error {
	now := r.store.Now()
	var joined, renamed bool
	err := r.store.InTx(ctx, func(tx *store.Store) (err error) {
		current, err := tx.ConversationByID(ctx, conv.ID)
		if err != nil || !current.Open() {
			return err
		}
		if current.State == store.StateQueued {
			joined, err = r.markAgentJoined(ctx, tx, current, name, now, connectedAt)
			return err
		}
		if known := current.AgentConnectedAt; known != nil && (connectedAt == nil || !connectedAt.After(*known)) {
			return nil
		}
		if err := tx.SetConnectedAgent(ctx, conv.ID, cmp.Or(name, current.AgentName), connectedAt); err != nil {
			return err
		}
		if name == "" || name == current.AgentName {
			return nil
		}
		renamed = true
		event := store.Message{ConversationID: conv.ID, EndpointID: conv.EndpointID, SessionID: conv.SessionID, Direction: store.FromSystem, Kind: store.KindState,
			Data: store.MessageData{State: store.StateAgentJoined, AgentName: name}, CreatedAt: now}
		return tx.InsertMessage(ctx, &event)
	})
	if err != nil {
		return err
	}
	if joined {
		r.log.InfoContext(ctx, "agent joined", slog.String("agent", name))
		r.observeAgent(agentEffects{joined: true}, conv.CreatedAt, now)
	}
	if joined || renamed {
		r.publish(conv)
	}
	return nil
}

func isGone(state string) bool { return state == "disconnected" || state == "terminated" }

// agentLeft tells an agent who left the conversation from one who was only
// offered it (no connectedTime: declined or timed out) or transferred it on.
func agentLeft(p genesys.Participant) bool {
	return p.Purpose == "agent" && isGone(p.State) && !p.ConnectedTime.IsZero() && !isTransfer(p.DisconnectType)
}

// isTransfer reads both spellings of Genesys's transfer disconnect types:
// "transfer", "transfer.forward", … in conversations and queue events, and
// "TRANSFER", "FORWARD_TRANSFER", … in analytics detail events.
func isTransfer(disconnectType string) bool {
	return strings.Contains(strings.ToLower(disconnectType), "transfer")
}

// EndReason maps a Genesys disconnectType, in either spelling, to the end
// reason the bot and the console see (docs/genesys.md §DetailEvents), for
// the causes that are the same on either leg; anything else is the agent's
// side ending it.
func EndReason(disconnectType string) string {
	t := strings.ReplaceAll(strings.ToLower(disconnectType), "_", ".")
	switch {
	case t == "inactivity":
		return store.ReasonInactivity
	case t == "timeout":
		return store.ReasonTimeout
	case t == "session.expired":
		return store.ReasonSessionExpired
	case t == "error" || t == "transport.failure" || t == "system" || t == "uncallable":
		return store.ReasonError
	case isTransfer(t) || t == "takeover":
		return store.ReasonTransferred
	default: // client, endpoint, peer, other, spam, …
		return store.ReasonAgentEnded
	}
}

// A disconnectType is relative to its leg (docs/genesys.md §DetailEvents):
// "peer" is the other side, "client" and "endpoint" the leg's own side.

// agentLegReason is the end reason of an agent leaving: "peer" means the
// customer caused it.
func agentLegReason(disconnectType string) string {
	if strings.EqualFold(disconnectType, "peer") {
		return store.ReasonUserEnded
	}
	return EndReason(disconnectType)
}

// customerLegReason is the end reason of the customer leg ending: its own
// side ("client", "endpoint") is the user leaving; "peer", the agent ending it.
func customerLegReason(disconnectType string) string {
	switch strings.ToLower(disconnectType) {
	case "client", "endpoint":
		return store.ReasonUserEnded
	}
	return EndReason(disconnectType)
}

func agentName(p genesys.Participant) string {
	if p.User != nil && p.User.Name != "" {
		return p.User.Name
	}
	return p.Name
}

// pollConversations reads the state of open conversations from Genesys, each
// at most every PollInterval, and only while the rate budget has room to
// spare: user messages come first.
func (r *Relay) pollConversations(ctx context.Context) {
	lastPolled := map[int64]time.Time{}
	tick := max(r.cfg.PollInterval/4, 10*time.Millisecond)
	for {
		sleep(ctx, tick)
		if ctx.Err() != nil {
			return
		}
		open, err := r.store.OpenConversationsWithGenesysID(ctx, 1000)
		if err != nil {
			r.log.ErrorContext(ctx, "list conversations to poll", slog.Any("error", err))
			continue
		}
		seen := make(map[int64]bool, len(open))
		for _, conv := range open {
			if !r.ownsEndpoint(conv.EndpointID) {
				continue // its OAuth client's owner polls it
			}
			seen[conv.ID] = true
			if time.Since(lastPolled[conv.ID]) < r.cfg.PollInterval {
				continue
			}
			if err := r.PollConversation(ctx, conv); err != nil {
				if errors.Is(err, errBudget) {
					break
				}
				r.log.WarnContext(ctx, "poll conversation", slog.Int64("conversation_id", conv.ID), slog.Any("error", err))
			}
			lastPolled[conv.ID] = time.Now()
		}
		for id := range lastPolled {
			if !seen[id] {
				delete(lastPolled, id)
			}
		}
	}
}

// PollConversation reads one conversation's participants from Genesys and applies them.
func (r *Relay) PollConversation(ctx context.Context, conv store.Conversation) error {
	e, err := r.store.EndpointByID(ctx, conv.EndpointID)
	if err != nil {
		return err
	}
	participants, err := r.readParticipants(ctx, e, conv)
	if err != nil {
		return err
	}
	return r.applyGenesysState(ctx, conv, participants)
}

// readParticipants reads a conversation's participants from Genesys, within
// the part of the rate budget that messages leave: at least half of the
// burst stays for them.
func (r *Relay) readParticipants(ctx context.Context, e store.Endpoint, conv store.Conversation) ([]genesys.Participant, error) {
	c, err := r.client(e)
	if err != nil {
		return nil, err
	}
	gc, err := c.client.GetConversation(withCall(withPriority(ctx, forSpare), callInfo{conversationID: &conv.ID}), conv.GenesysConversationID)
	if err != nil {
		return nil, err
	}
	return gc.Participants, nil
}

// TriggerEvent is what posts to /handover/genesysCloudOM/events say, in any
// of three forms: a Process Automation trigger's body (topicName and
// eventBody of a v2.detail.events.conversation topic), an Amazon EventBridge
// API destination's envelope (the same inside "detail"), or a flat
// {"conversationId", "event"} (docs/genesys.md §EventBridge).
type TriggerEvent struct {
	ConversationID string
	Event          string // customer.end, user.end, acw, user.start, or agent.joined (flat form)
	DisconnectType string
	AgentName      string
	// InteractingMS is how long the agent of a user.end was connected, when
	// the event says; 0 means never: a declined or missed offer.
	InteractingMS *int64
}

// triggerBody is one detail event: topicName and eventBody.
type triggerBody struct {
	TopicName string `json:"topicName"`
	EventBody *struct {
		ConversationID        string `json:"conversationId"`
		DisconnectType        string `json:"disconnectType"`
		InteractingDurationMs *int64 `json:"interactingDurationMs"`
	} `json:"eventBody"`
}

// ParseTriggerEvent reads any form of an events body.
func ParseTriggerEvent(body []byte) (TriggerEvent, error) {
	var raw struct {
		triggerBody
		ConversationID string       `json:"conversationId"`
		Event          string       `json:"event"`
		DisconnectType string       `json:"disconnectType"`
		AgentName      string       `json:"agentName"`
		DetailType     string       `json:"detail-type"`
		Detail         *triggerBody `json:"detail"` // EventBridge
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return TriggerEvent{}, fmt.Errorf("the body is not JSON: %w", err)
	}
	ev := TriggerEvent{ConversationID: raw.ConversationID, Event: raw.Event, DisconnectType: raw.DisconnectType, AgentName: raw.AgentName}
	detail := raw.triggerBody
	if raw.Detail != nil {
		detail = *raw.Detail
		detail.TopicName = firstNonEmpty(detail.TopicName, raw.DetailType)
	}
	if detail.EventBody != nil {
		ev.ConversationID = firstNonEmpty(detail.EventBody.ConversationID, ev.ConversationID)
		ev.DisconnectType = firstNonEmpty(detail.EventBody.DisconnectType, ev.DisconnectType)
		ev.InteractingMS = detail.EventBody.InteractingDurationMs
	}
	// v2.detail.events.conversation.<id>.customer.end → customer.end
	if rest, ok := strings.CutPrefix(detail.TopicName, "v2.detail.events.conversation."); ok {
		if id, event, ok := strings.Cut(rest, "."); ok {
			ev.ConversationID = firstNonEmpty(ev.ConversationID, id)
			ev.Event = firstNonEmpty(ev.Event, event)
		}
	}
	switch {
	case ev.ConversationID == "":
		return TriggerEvent{}, errors.New("conversationId is missing")
	case ev.Event == "":
		return TriggerEvent{}, errors.New("event is missing (customer.end, user.end, acw or user.start)")
	}
	return ev, nil
}

// HandleTrigger applies a detail event to the endpoint's conversation:
// customer.end ends it; user.end ends it only when the agent had been
// connected and did not transfer; user.start (an offer) and acw (wrap-up
// after the agent left) change nothing; agent.joined, of the flat form, joins.
func (r *Relay) HandleTrigger(ctx context.Context, e store.Endpoint, ev TriggerEvent) (store.Conversation, error) {
	conv, err := r.store.ConversationByGenesysID(ctx, ev.ConversationID)
	if err != nil {
		return store.Conversation{}, err
	}
	if conv.EndpointID != e.ID {
		return store.Conversation{}, fmt.Errorf("conversation %s: %w", ev.ConversationID, store.ErrNotFound)
	}
	ctx = logging.WithConversationID(ctx, conv.ID)
	switch ev.Event {
	case "agent.joined":
		err = r.agentConnected(ctx, conv, ev.AgentName, nil)
	case "user.start", "acw":
		r.log.InfoContext(ctx, "Genesys event logged", slog.String("event", ev.Event))
	case "user.end":
		neverConnected := ev.InteractingMS != nil && *ev.InteractingMS == 0
		if conv.State == store.StateAgentJoined && !neverConnected && !isTransfer(ev.DisconnectType) {
			conv, err = r.end(ctx, conv, store.StateEnded, agentLegReason(ev.DisconnectType), nil)
		}
	case "customer.end":
		conv, err = r.end(ctx, conv, store.StateEnded, customerLegReason(ev.DisconnectType), nil)
	default:
		return conv, &Error{Kind: ErrInvalidInput, Code: "unknown_event", Field: "event", Message: fmt.Sprintf("Unknown event %q; use customer.end, user.end, acw or user.start.", ev.Event)}
	}
	if err != nil {
		return conv, err
	}
	if current, err := r.store.ConversationByID(ctx, conv.ID); err == nil {
		conv = current
	}
	return conv, nil
}
