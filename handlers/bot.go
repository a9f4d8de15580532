package handlers

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// BotStore is what the bot API needs from the store.
type BotStore interface {
	EndpointByToken(ctx context.Context, token string) (store.Endpoint, error)
	SessionEventsAfter(ctx context.Context, endpointID int64, sessionID string, afterID int64, limit int) ([]store.Message, error)
	LatestConversation(ctx context.Context, endpointID int64, sessionID string) (store.Conversation, error)
}

// Relay is what the bot API and the webhook need from the handover engine.
type Relay interface {
	StartHandover(ctx context.Context, e store.Endpoint, req relay.HandoverRequest) (store.Conversation, error)
	SendUserMessage(ctx context.Context, e store.Endpoint, m relay.UserMessage) (store.Message, error)
	UserTyping(ctx context.Context, e store.Endpoint, sessionID string) error
	EndByUser(ctx context.Context, e store.Endpoint, sessionID string) (store.Conversation, error)
	DemoBot(ctx context.Context, e store.Endpoint, userID, sessionID, text string, transcript []relay.TranscriptEntry) (relay.BotAnswer, error)
	ReceiveWebhook(ctx context.Context, in relay.IncomingWebhook) (relay.WebhookResult, error)
	RefuseWebhook(ctx context.Context, in relay.IncomingWebhook, verdict, detail string) (relay.WebhookResult, error)
	HandleTrigger(ctx context.Context, e store.Endpoint, ev relay.TriggerEvent) (store.Conversation, error)
	Availability(ctx context.Context, e store.Endpoint) relay.Availability
}

// Bot serves the bot-facing API under each endpoint's Config URL.
type Bot struct {
	Store  BotStore
	Relay  Relay
	Broker *live.Broker // where the relay announces changes
	// StreamLifetime ends an event stream after this long; the client
	// reconnects with Last-Event-ID and loses nothing.
	StreamLifetime time.Duration
	Heartbeat      time.Duration
	Limits         *Limits // nil limits nothing
}

type handoverBody struct {
	UserID    string `json:"userId"`
	SessionID string `json:"sessionId"`
	Profile   struct {
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
		Email     string `json:"email"`
	} `json:"profile"`
	Language         string         `json:"language"`
	Skills           []string       `json:"skills"`
	Priority         *int           `json:"priority"`
	CustomAttributes map[string]any `json:"customAttributes"`
	IfNoAgents       string         `json:"ifNoAgents"`
	Transcript       []struct {
		Source string `json:"source"`
		Text   string `json:"text"`
		Time   string `json:"time"`
	} `json:"transcript"`
}

// Handover answers POST /<token>/handover.
func (h *Bot) Handover(c *fiber.Ctx) error {
	e, err := h.endpoint(c)
	if err != nil {
		return err
	}
	if err := h.Limits.Handover(c, e); err != nil {
		return err
	}
	var body handoverBody
	if err := decodeJSON(c.Body(), &body); err != nil {
		return err
	}
	if p := body.Priority; p != nil && (*p < -maxPriority || *p > maxPriority) {
		return botError(400, "invalid_priority", fmt.Sprintf("priority must be a whole number from -%d to %d.", maxPriority, maxPriority))
	}
	req := relay.HandoverRequest{UserID: body.UserID, SessionID: body.SessionID, Language: body.Language, Skills: body.Skills, Priority: body.Priority, IfNoAgents: body.IfNoAgents,
		Profile: relay.Profile{FirstName: body.Profile.FirstName, LastName: body.Profile.LastName, Email: body.Profile.Email}}
	if req.CustomAttributes, err = stringMap(body.CustomAttributes); err != nil {
		return err
	}
	for i, t := range body.Transcript {
		entry := relay.TranscriptEntry{Source: t.Source, Text: t.Text}
		if t.Source != "user" && t.Source != "bot" {
			return botError(400, "invalid_transcript", fmt.Sprintf("transcript[%d].source must be \"user\" or \"bot\".", i))
		}
		if t.Time != "" {
			if entry.Time, err = time.Parse(time.RFC3339, t.Time); err != nil {
				return botError(400, "invalid_transcript", fmt.Sprintf("transcript[%d].time must be an RFC 3339 time such as 2025-01-15T10:21:33Z.", i))
			}
		}
		req.Transcript = append(req.Transcript, entry)
	}
	conv, err := h.Relay.StartHandover(c.UserContext(), e, req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"conversationId": conv.ID, "state": conv.State})
}

// availabilityJSON is the answer of GET /<token>/availability, and the
// availability of a handover refused for want of agents. When Genesys could
// not say (known false), the figures are null and problem says why.
type availabilityJSON struct {
	Available            *bool  `json:"available"`
	AgentsOnQueue        *int   `json:"agentsOnQueue"`
	AgentsIdle           *int   `json:"agentsIdle"`
	Waiting              *int   `json:"waiting"`
	EstimatedWaitSeconds *int   `json:"estimatedWaitSeconds"`
	Known                bool   `json:"known"`
	Problem              string `json:"problem,omitempty"`
	CheckedAt            string `json:"checkedAt"`
}

func newAvailabilityJSON(a relay.Availability) availabilityJSON {
	out := availabilityJSON{Known: a.Known, Problem: a.Problem, CheckedAt: a.CheckedAt.UTC().Format(time.RFC3339)}
	if a.Known {
		out.Available, out.AgentsOnQueue, out.AgentsIdle, out.Waiting = &a.Available, &a.AgentsOnQueue, &a.AgentsIdle, &a.Waiting
	}
	if a.EstimatedWait != nil {
		seconds := int(*a.EstimatedWait / time.Second)
		out.EstimatedWaitSeconds = &seconds
	}
	return out
}

// Availability answers GET /<token>/availability: whether anyone is On Queue
// to take a handover, and how long it would wait. The answer is kept a few
// seconds per queue. skills and language are checked for shape; Genesys's
// queue observation is per queue, so they do not narrow it.
func (h *Bot) Availability(c *fiber.Ctx) error {
	e, err := h.endpoint(c)
	if err != nil {
		return err
	}
	for _, param := range []string{"skills", "language"} {
		if v := c.Query(param); len(v) > 1000 || strings.ContainsRune(v, 0) {
			return botError(400, "invalid_"+param, param+" must be at most 1000 characters of text.")
		}
	}
	return c.JSON(newAvailabilityJSON(h.Relay.Availability(c.UserContext(), e)))
}

type messageBody struct {
	UserID    string         `json:"userId"`
	SessionID string         `json:"sessionId"`
	Text      string         `json:"text"`
	Data      map[string]any `json:"data"`
}

// Message answers POST /<token>: a user message. In handover it goes to the
// agent; otherwise the demo bot answers.
func (h *Bot) Message(c *fiber.Ctx) error {
	e, err := h.endpoint(c)
	if err != nil {
		return err
	}
	var body messageBody
	if err := decodeJSON(c.Body(), &body); err != nil {
		return err
	}
	if err := h.Limits.Message(c, e, body.SessionID); err != nil {
		return err
	}
	m := relay.UserMessage{UserID: body.UserID, SessionID: body.SessionID, Text: body.Text, Custom: body.Data}
	if err := readMessageData(body.Data, &m); err != nil {
		return err
	}
	msg, err := h.Relay.SendUserMessage(c.UserContext(), e, m)
	if errors.Is(err, relay.ErrNotInHandover) {
		answer, err := h.Relay.DemoBot(c.UserContext(), e, body.UserID, body.SessionID, body.Text, nil)
		if err != nil {
			return err
		}
		outputs := make([]fiber.Map, len(answer.Outputs))
		for i, text := range answer.Outputs {
			outputs[i] = fiber.Map{"text": text}
		}
		resp := fiber.Map{"outputs": outputs}
		if answer.Conversation != nil {
			resp["handover"] = fiber.Map{"conversationId": answer.Conversation.ID, "state": answer.Conversation.State}
		}
		return c.JSON(resp)
	}
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"messageId": msg.ID, "conversationId": msg.ConversationID, "delivery": msg.Delivery})
}

// readMessageData takes attachments and a quick-reply click out of data.
func readMessageData(data map[string]any, m *relay.UserMessage) error {
	if len(data) == 0 {
		return nil
	}
	raw, _ := json.Marshal(data)
	var known struct {
		Attachments []store.Attachment `json:"attachments"`
		QuickReply  *struct {
			Type                 string `json:"type"`
			Text                 string `json:"text"`
			Payload              string `json:"payload"`
			OriginatingMessageID string `json:"originatingMessageId"`
		} `json:"quickReply"`
	}
	if err := json.Unmarshal(raw, &known); err != nil {
		return botError(400, "invalid_data", "data.attachments must be a list of {url, mime, filename} and data.quickReply an object {text, payload, originatingMessageId}.")
	}
	for i, a := range known.Attachments {
		if !strings.HasPrefix(a.URL, "https://") && !strings.HasPrefix(a.URL, "http://") {
			return botError(400, "invalid_data", fmt.Sprintf("data.attachments[%d].url must be an http(s) URL Genesys can fetch.", i))
		}
	}
	m.Attachments = known.Attachments
	if q := known.QuickReply; q != nil {
		if q.Text == "" || q.OriginatingMessageID == "" {
			return botError(400, "invalid_data", "data.quickReply needs text and originatingMessageId (the id of the agent's message).")
		}
		switch q.Type {
		case "", genesys.ButtonTypeQuickReply, genesys.ButtonTypeButton, genesys.ButtonTypeDatePicker:
		default:
			return botError(400, "invalid_data", "data.quickReply.type must be QuickReply (the default), Button (a card's button) or DatePicker.")
		}
		m.QuickReply = &relay.QuickReplyClick{Type: q.Type, Text: q.Text, Payload: q.Payload, OriginatingMessageID: q.OriginatingMessageID}
	}
	return nil
}

// Typing answers POST /<token>/sessions/<sessionId>/typing.
func (h *Bot) Typing(c *fiber.Ctx) error {
	e, err := h.endpoint(c)
	if err != nil {
		return err
	}
	if err := h.Relay.UserTyping(c.UserContext(), e, c.Params("session")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusAccepted)
}

// End answers POST /<token>/sessions/<sessionId>/end: the user left.
func (h *Bot) End(c *fiber.Ctx) error {
	e, err := h.endpoint(c)
	if err != nil {
		return err
	}
	conv, err := h.Relay.EndByUser(c.UserContext(), e, c.Params("session"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"conversationId": conv.ID, "state": conv.State, "reason": conv.EndReason})
}

// Events answers GET /<token>/sessions/<sessionId>/events with Server-Sent
// Events: message, typing and state. Each event's id is its position in the
// session's stream, so a client that reconnects with Last-Event-ID gets
// exactly what it missed.
func (h *Bot) Events(c *fiber.Ctx) error {
	e, err := h.endpoint(c)
	if err != nil {
		return err
	}
	sessionID := strings.Clone(c.Params("session")) // fiber reuses the buffer after the handler returns
	lastID, _ := strconv.ParseInt(cmp.Or(c.Get("Last-Event-ID"), c.Query("lastEventId")), 10, 64)
	// A session the endpoint has never handed over has nothing to stream:
	// it costs one short answer, not an open stream (anyone with the URL
	// token could open thousands for made-up sessions). The answer tells
	// an EventSource to come back, so a bot may connect before its handover.
	if _, err := h.Store.LatestConversation(c.UserContext(), e.ID, sessionID); errors.Is(err, store.ErrNotFound) {
		return live.Retry(c, unknownSessionRetry, "no handover for this session yet; reconnect")
	} else if err != nil {
		return err
	}
	closeStream, err := h.Limits.OpenStream(c, e)
	if err != nil {
		return err
	}
	// Copy what the stream needs: the fiber context is gone once it runs.
	ctx := context.WithoutCancel(c.UserContext())
	stream := &sessionStream{store: h.Store, endpointID: e.ID, sessionID: sessionID, lastID: lastID}
	return live.Stream{
		Broker: h.Broker, Topics: []live.Topic{live.Session(e.ID, sessionID)},
		Heartbeat: h.Heartbeat, Lifetime: cmpDuration(h.StreamLifetime, 30*time.Minute),
		Open:    func(w *bufio.Writer) error { return stream.catchUp(ctx, w) },
		Changed: func(w *bufio.Writer, _ live.Topic) error { return stream.catchUp(ctx, w) },
		Typing: func(w *bufio.Writer, sig live.Signal) {
			stream.write(w, live.EventTyping, "", relay.TypingEvent(sig.From, sig.Duration))
		},
		Closed: closeStream,
	}.Serve(c)
}

// unknownSessionRetry is when an EventSource comes back for a session that
// had no handover yet.
const unknownSessionRetry = 2 * time.Second

// sessionStream writes one session's events.
type sessionStream struct {
	store      BotStore
	endpointID int64
	sessionID  string
	lastID     int64
}

// catchUp writes every stored event after the last one written.
func (s *sessionStream) catchUp(ctx context.Context, w *bufio.Writer) error {
	for {
		events, err := s.store.SessionEventsAfter(ctx, s.endpointID, s.sessionID, s.lastID, 200)
		if err != nil {
			return err
		}
		for _, m := range events {
			s.writeMessage(w, m)
			s.lastID = m.ID
		}
		if len(events) < 200 {
			return nil
		}
	}
}

func (s *sessionStream) writeMessage(w *bufio.Writer, m store.Message) {
	event, data := relay.SessionEvent(m)
	s.write(w, event, strconv.FormatInt(m.ID, 10), data)
}

func (s *sessionStream) write(w *bufio.Writer, event, id string, data any) {
	payload, _ := json.Marshal(data)
	if id != "" {
		fmt.Fprintf(w, "id: %s\n", id)
	}
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, payload)
}

// endpoint finds the endpoint of the Config URL's token, or the one the
// demo chat's Guard found for its link.
func (h *Bot) endpoint(c *fiber.Ctx) (store.Endpoint, error) {
	if e, ok := c.Locals(localChatEndpoint).(store.Endpoint); ok {
		return e, nil
	}
	e, err := h.Store.EndpointByToken(c.UserContext(), c.Params("token"))
	if errors.Is(err, store.ErrNotFound) {
		return store.Endpoint{}, botError(404, "unknown_endpoint", "No endpoint has this Config URL.")
	}
	rememberEndpoint(c, e)
	return e, err
}

// decodeJSON reads one JSON object; anything else is a 400 that says why
// (see decodeObject).
func decodeJSON(body []byte, v any) error {
	if problem := decodeObject(body, v, false); problem != nil {
		return botError(400, problem.Code, problem.Message)
	}
	return nil
}

// stringMap checks that custom attributes are string → string, as Genesys
// participant data must be.
func stringMap(in map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(in))
	for k, v := range in {
		s, ok := v.(string)
		if !ok {
			return nil, botError(400, "invalid_custom_attributes", fmt.Sprintf("customAttributes.%s must be a string; Genesys participant data holds only strings.", k))
		}
		out[k] = s
	}
	return out, nil
}

func botError(status int, code, message string) error {
	return &Refusal{Status: status, Code: code, Message: message}
}

func cmpDuration(d, fallback time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return fallback
}
