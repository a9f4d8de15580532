package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/logging"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
)

// What is wrong with a request the relay refuses. An *Error wraps one of
// them; the web layer decides how each is answered.
var (
	// ErrInvalidInput: the request itself is wrong (a missing id, a NUL
	// character, an unknown event); Error.Field names the field when one is.
	ErrInvalidInput = errors.New("invalid input")
	// ErrTooLong: a value is longer than Genesys accepts.
	ErrTooLong = errors.New("value too long for Genesys")
	// ErrAlreadyInHandover: the session has an open handover already.
	ErrAlreadyInHandover = errors.New("session already in handover")
	// ErrNoProvider: the endpoint hands over to nobody.
	ErrNoProvider = errors.New("endpoint has no handover provider")
	// ErrGenesysSettings: the endpoint's Genesys settings cannot take the
	// request (the deployment does not resolve, an attachment type the
	// integration's content profile refuses).
	ErrGenesysSettings = errors.New("refused by the endpoint's Genesys settings")
)

// Error is a request the relay refuses: what is wrong (Kind, one of the
// Err… above), a code and words for the bot, and the field at fault.
type Error struct {
	Kind    error
	Code    string
	Field   string // the input field at fault; "" when it is no one field
	Message string
	// Availability is why ErrNoAgents refused the handover.
	Availability *Availability
}

func (e *Error) Error() string { return e.Message }

// Unwrap lets errors.Is(err, ErrAlreadyInHandover) and the like see the kind.
func (e *Error) Unwrap() error { return e.Kind }

func refuse(kind error, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// refuseField refuses one input field.
func refuseField(field, code, format string, args ...any) *Error {
	e := refuse(ErrInvalidInput, code, format, args...)
	e.Field = field
	return e
}

// HandoverRequest is what a bot sends to hand a session over.
type HandoverRequest struct {
	UserID           string
	SessionID        string
	Profile          Profile
	Language         string
	Skills           []string
	Priority         *int
	CustomAttributes map[string]string
	Transcript       []TranscriptEntry
	// IfNoAgents overrides the endpoint's policy for this handover:
	// store.IfNoAgentsQueue or store.IfNoAgentsRefuse; "" keeps it.
	IfNoAgents string
}

// Profile is the user as the bot knows them.
type Profile struct {
	FirstName string
	LastName  string
	Email     string
}

// TranscriptEntry is one turn of the conversation with the bot before the handover.
type TranscriptEntry struct {
	Source string // user or bot
	Text   string
	Time   time.Time
}

// RoutingAttribute is one piece of routing data sent as participant data on
// the first message, under a name the Genesys inbound flow reads with Get
// Participant Data. Each endpoint may rename them; Default is the setup
// guide's name.
type RoutingAttribute struct {
	Key     string // how the endpoint's AttributeNames refers to it
	Label   string // for the console
	Default string
}

// RoutingAttributes are the routing data the first message carries.
var RoutingAttributes = []RoutingAttribute{
	{Key: "queueId", Label: "Queue ID", Default: "queueId"},
	{Key: "language", Label: "Language", Default: "myLanguage"},
	{Key: "skills", Label: "Skills (comma-separated)", Default: "mySkills"},
	{Key: "userId", Label: "User ID", Default: "userId"},
	{Key: "priority", Label: "Priority", Default: "myPriority"},
	{Key: "sessionId", Label: "Session ID", Default: "sessionId"},
}

// AttributeName is the participant data name the endpoint uses for key.
func AttributeName(e store.Endpoint, key string) string {
	if name := strings.TrimSpace(e.AttributeNames[key]); name != "" {
		return name
	}
	for _, a := range RoutingAttributes {
		if a.Key == key {
			return a.Default
		}
	}
	return key
}

// StartHandover hands a bot session over to the endpoint's Genesys queue. It
// returns once the handover is stored with its first Genesys call queued.
func (r *Relay) StartHandover(ctx context.Context, e store.Endpoint, req HandoverRequest) (store.Conversation, error) {
	r.obs.HandoverRequested()
	if e.Provider != store.ProviderGenesysCloudOM {
		return store.Conversation{}, refuse(ErrNoProvider, "no_provider", "Endpoint %q has no handover provider configured.", e.Name)
	}
	if err := checkIDs(req.UserID, req.SessionID); err != nil {
		return store.Conversation{}, err
	}
	for k, v := range req.CustomAttributes {
		if strings.TrimSpace(k) == "" {
			return store.Conversation{}, refuseField("customAttributes", "invalid_custom_attributes", "Custom attribute names must not be empty.")
		}
		if err := refuseNUL("customAttributes."+k, k+v); err != nil {
			return store.Conversation{}, err
		}
	}
	transcript := make([]TranscriptEntry, len(req.Transcript))
	for i, entry := range req.Transcript {
		if err := refuseNUL(fmt.Sprintf("transcript[%d].text", i), entry.Text); err != nil {
			return store.Conversation{}, err
		}
		if entry.Source == "user" {
			entry.Text = r.sanitizer.userText(e, entry.Text)
		}
		transcript[i] = entry
	}
	req.Transcript = transcript
	switch policy := firstNonEmpty(req.IfNoAgents, e.Waiting.IfNoAgents); policy {
	case store.IfNoAgentsQueue, "":
	case store.IfNoAgentsRefuse:
		// Refused before anything reaches Genesys; an unknown availability
		// (a refused permission, an outage) never refuses a handover.
		if a := r.Availability(ctx, e); a.Known && !a.Available {
			return store.Conversation{}, noAgents(a)
		}
	default:
		return store.Conversation{}, refuseField("ifNoAgents", "invalid_if_no_agents", "ifNoAgents is %q or %q, not %q.", store.IfNoAgentsQueue, store.IfNoAgentsRefuse, policy)
	}
	// Resolve the deployment now when it is unknown, so a wrong Deployment
	// Name is a clear error at once; when Genesys is merely unreachable the
	// handover is accepted and the outbox resolves it later.
	if e.IntegrationID == "" {
		if _, err := r.integrationID(withPriority(ctx, forUserNow), e, false); err != nil && !transient(err) {
			return store.Conversation{}, refuse(ErrGenesysSettings, "deployment_not_found", "The endpoint's Genesys settings do not work: %v", err)
		}
	}

	conv := store.Conversation{
		EndpointID:       e.ID,
		SessionID:        req.SessionID,
		UserID:           req.UserID,
		CustomerID:       "hov-" + secret.NewToken(16),
		State:            store.StateQueued,
		Language:         firstNonEmpty(req.Language, e.DefaultLanguage),
		Skills:           req.Skills,
		Priority:         e.DefaultPriority,
		CustomAttributes: maps.Clone(e.DefaultCustomAttributes),
	}
	if conv.Skills == nil {
		conv.Skills = e.DefaultSkills
	}
	if req.Priority != nil {
		conv.Priority = *req.Priority
	}
	if conv.CustomAttributes == nil {
		conv.CustomAttributes = map[string]string{}
	}
	maps.Copy(conv.CustomAttributes, req.CustomAttributes)
	if e.SendProfile {
		conv.FirstName, conv.LastName, conv.Email = req.Profile.FirstName, req.Profile.LastName, req.Profile.Email
	}

	now := r.store.Now()
	parts := genesys.SplitText(transcriptText(req.Transcript), genesys.MaxTextRunes)
	if len(parts) == 0 {
		parts = []string{"The user asked to talk to an agent."}
	}
	err := r.store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.CreateConversation(ctx, &conv); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return refuse(ErrAlreadyInHandover, "already_in_handover", "Session %q is already handed over; end it before starting another handover.", req.SessionID)
			}
			return err
		}
		for i, text := range parts {
			msg := store.Message{ConversationID: conv.ID, EndpointID: e.ID, SessionID: conv.SessionID, Direction: store.FromBot, Kind: store.KindTranscript, Text: text, Delivery: store.DeliveryPending, CreatedAt: now}
			inbound := genesys.InboundMessage{Text: text, Channel: genesys.InboundChannel{From: customerRecipient(conv), Time: genesys.TimestampOf(now)}}
			if i == 0 {
				// Participant data is taken from the first message (docs/genesys.md §Inbound).
				inbound.Channel.Metadata = &genesys.ChannelMetadata{CustomAttributes: routingAttributes(e, conv)}
			}
			if err := r.enqueueMessage(ctx, tx, conv, &msg, inbound); err != nil {
				return err
			}
		}
		state := store.Message{ConversationID: conv.ID, EndpointID: e.ID, SessionID: conv.SessionID, Direction: store.FromSystem, Kind: store.KindState, Data: store.MessageData{State: store.StateQueued}, CreatedAt: now}
		return tx.InsertMessage(ctx, &state)
	})
	if err != nil {
		return store.Conversation{}, err
	}
	ctx = logging.WithConversationID(ctx, conv.ID)
	session := conv.SessionID
	if e.Privacy.MaskSensitiveLogging {
		session = genesys.Masked // the process log is a log too (docs/privacy.md)
	}
	r.log.InfoContext(ctx, "handover queued", slog.Int64("endpoint_id", e.ID), slog.String("session_id", session), slog.Int("messages", len(parts)))
	r.obs.HandoverQueued()
	r.notifyOutbox()
	r.wakeWaiting()
	r.publish(conv)
	return conv, nil
}

// enqueueMessage stores a timeline message and the Genesys call that delivers
// it. channel.messageId is the message's own id, so a redelivery after a crash
// carries the same id.
func (r *Relay) enqueueMessage(ctx context.Context, tx *store.Store, conv store.Conversation, msg *store.Message, inbound genesys.InboundMessage) error {
	if err := tx.InsertMessage(ctx, msg); err != nil {
		return err
	}
	inbound.Channel.MessageID = "hov-msg-" + strconv.FormatInt(msg.ID, 10)
	return r.enqueue(ctx, tx, conv, &msg.ID, store.OutboxMessage, inbound)
}

func (r *Relay) enqueue(ctx context.Context, tx *store.Store, conv store.Conversation, messageID *int64, kind string, body any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode %s: %w", kind, err)
	}
	return tx.InsertOutbox(ctx, &store.OutboxItem{ConversationID: conv.ID, EndpointID: conv.EndpointID, MessageID: messageID, Kind: kind, Payload: string(payload)})
}

// UserMessage is a message from the user of a session in handover.
type UserMessage struct {
	UserID      string
	SessionID   string
	Text        string
	Attachments []store.Attachment
	QuickReply  *QuickReplyClick
	Custom      map[string]any
}

// QuickReplyClick is the user choosing an option of a structured message:
// a quick reply, a card's postback button (Type genesys.ButtonTypeButton) or
// a date (genesys.ButtonTypeDatePicker); "" is a quick reply.
type QuickReplyClick struct {
	Type                 string
	Text                 string
	Payload              string
	OriginatingMessageID string
}

// ErrNotInHandover means the session has no open handover: the bot answers it.
var ErrNotInHandover = errors.New("session is not in handover")

// SendUserMessage queues a user message for the agent. ErrNotInHandover when
// the session is with the bot.
func (r *Relay) SendUserMessage(ctx context.Context, e store.Endpoint, m UserMessage) (store.Message, error) {
	if err := checkIDs(m.UserID, m.SessionID); err != nil {
		return store.Message{}, err
	}
	if !utf8.ValidString(m.Text) {
		return store.Message{}, refuseField("text", "invalid_text", "The text is not valid UTF-8.")
	}
	if err := refuseNUL("text", m.Text); err != nil {
		return store.Message{}, err
	}
	if q := m.QuickReply; q != nil {
		if err := refuseNUL("data.quickReply", q.Text+q.Payload+q.OriginatingMessageID); err != nil {
			return store.Message{}, err
		}
		click := *q
		click.Text = r.sanitizer.userText(e, click.Text)
		m.QuickReply = &click
	}
	// Tags go before the length and emptiness checks: a text of tags alone
	// is refused as an empty one, and nothing is stored.
	m.Text = r.sanitizer.userText(e, m.Text)
	if n := utf8.RuneCountInString(m.Text); n > genesys.MaxTextRunes {
		tooLong := refuse(ErrTooLong, "text_too_long", "The text has %d characters; Genesys accepts at most %d in one message.", n, genesys.MaxTextRunes)
		tooLong.Field = "text"
		return store.Message{}, tooLong
	}
	if strings.TrimSpace(m.Text) == "" && len(m.Attachments) == 0 && m.QuickReply == nil {
		return store.Message{}, refuseField("text", "empty_message", "Send text, attachments or a quick reply.")
	}
	if err := r.checkAttachments(ctx, e, m.Attachments); err != nil {
		return store.Message{}, err
	}
	now := r.store.Now()
	var conv store.Conversation
	msg := store.Message{EndpointID: e.ID, SessionID: m.SessionID, Direction: store.FromUser, Kind: store.KindText, Text: m.Text,
		Data: store.MessageData{Attachments: m.Attachments, Custom: m.Custom}, Delivery: store.DeliveryPending, CreatedAt: now}
	// Committed with other requests' writes (group commit, docs/performance.md).
	err := r.store.InBatch(ctx, func(ctx context.Context, tx *store.Store) (err error) {
		// Read in the transaction: a handover ended meanwhile (by the agent,
		// on another instance) must not get a message that would open a new
		// conversation in Genesys.
		if conv, err = openConversation(ctx, tx, e.ID, m.SessionID); err != nil {
			return err
		}
		msg.ConversationID = conv.ID
		if m.QuickReply != nil {
			msg.Text = firstNonEmpty(m.Text, m.QuickReply.Text)
			kind := firstNonEmpty(m.QuickReply.Type, genesys.ButtonTypeQuickReply)
			msg.Data.QuickReplies = []store.QuickReply{{Text: m.QuickReply.Text, Payload: m.QuickReply.Payload, Type: kind}}
			if err := tx.InsertMessage(ctx, &msg); err != nil {
				return err
			}
			body := genesys.InboundStructuredResponse{
				Channel:              genesys.InboundChannel{MessageID: "hov-msg-" + strconv.FormatInt(msg.ID, 10), From: customerRecipient(conv), Time: genesys.TimestampOf(now)},
				ButtonResponse:       genesys.ButtonResponse{Type: kind, Text: m.QuickReply.Text, Payload: firstNonEmpty(m.QuickReply.Payload, m.QuickReply.Text)},
				OriginatingMessageID: m.QuickReply.OriginatingMessageID,
			}
			return r.enqueue(ctx, tx, conv, &msg.ID, store.OutboxStructured, body)
		}
		inbound := genesys.InboundMessage{Text: m.Text, Channel: genesys.InboundChannel{From: customerRecipient(conv), Time: genesys.TimestampOf(now)}}
		for _, a := range m.Attachments {
			inbound.Content = append(inbound.Content, genesys.InboundContent{Attachment: &genesys.Attachment{
				MediaType: firstNonEmpty(a.MediaType, mediaTypeOf(a.Mime)), URL: a.URL, Mime: firstNonEmpty(a.Mime, "application/octet-stream"), Filename: a.Filename, Text: a.Text}})
		}
		return r.enqueueMessage(ctx, tx, conv, &msg, inbound)
	})
	if err != nil {
		return store.Message{}, err
	}
	r.log.DebugContext(logging.WithConversationID(ctx, conv.ID), "user message queued", slog.Int64("message_id", msg.ID))
	r.notifyOutbox()
	r.broker.Publish(live.Conversation(conv.ID), live.Signal{Kind: live.Changed})
	r.broker.Publish(live.Conversations, live.Signal{Kind: live.Changed})
	return msg, nil
}

// UserTyping relays that the user is typing, when the endpoint relays typing.
func (r *Relay) UserTyping(ctx context.Context, e store.Endpoint, sessionID string) error {
	sent := false
	err := r.store.InTx(ctx, func(tx *store.Store) error {
		conv, err := openConversation(ctx, tx, e.ID, sessionID)
		if err != nil || !e.RelayTyping {
			return err
		}
		body := genesys.InboundEvent{
			Channel: genesys.InboundEventChannel{From: customerRecipient(conv), Time: genesys.TimestampOf(r.store.Now())},
			Events:  []genesys.Event{{EventType: genesys.EventTypeTyping}},
		}
		sent = true
		return r.enqueue(ctx, tx, conv, nil, store.OutboxEvent, body)
	})
	if err != nil || !sent {
		return err
	}
	r.notifyOutbox()
	return nil
}

// EndByUser ends the session's handover because the user left: the bot takes
// over, and Genesys is told to disconnect the customer.
func (r *Relay) EndByUser(ctx context.Context, e store.Endpoint, sessionID string) (store.Conversation, error) {
	conv, err := openConversation(ctx, r.store, e.ID, sessionID)
	if err != nil {
		return store.Conversation{}, err
	}
	return r.endAsUserLeft(ctx, conv)
}

// endAsUserLeft ends a handover because the user left and queues the
// disconnect of the customer in Genesys: the end route's and an erasure's end.
func (r *Relay) endAsUserLeft(ctx context.Context, conv store.Conversation) (store.Conversation, error) {
	ended, err := r.end(ctx, conv, store.StateEnded, store.ReasonUserEnded, func(tx *store.Store) error {
		return r.enqueue(ctx, tx, conv, nil, store.OutboxDisconnect, struct{}{})
	})
	if err != nil {
		return store.Conversation{}, err
	}
	r.notifyOutbox()
	return ended, nil
}

// openConversation is the session's open handover, or ErrNotInHandover.
func openConversation(ctx context.Context, s *store.Store, endpointID int64, sessionID string) (store.Conversation, error) {
	conv, err := s.OpenConversation(ctx, endpointID, sessionID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Conversation{}, ErrNotInHandover
	}
	return conv, err
}

// goodbyes are what the user reads when Genesys ends the handover, by cause.
var goodbyes = map[string]string{
	store.ReasonAgentEnded:     "The agent has ended the conversation. You are chatting with the bot again.",
	store.ReasonInactivity:     "The conversation with the agent ended after a period of inactivity. You are chatting with the bot again.",
	store.ReasonTimeout:        "The conversation with the agent timed out. You are chatting with the bot again.",
	store.ReasonSessionExpired: "The conversation with the agent expired. You are chatting with the bot again.",
	store.ReasonTransferred:    "The conversation was transferred out of this chat. You are chatting with the bot again.",
	store.ReasonError:          "The conversation with the agent ended because of a problem on the agents' side. You are chatting with the bot again.",
}

// end closes a conversation once, announces it on the session's stream, and
// runs also (when not nil) in the same transaction.
func (r *Relay) end(ctx context.Context, conv store.Conversation, state, reason string, also func(tx *store.Store) error) (store.Conversation, error) {
	ctx = logging.WithConversationID(ctx, conv.ID)
	now := r.store.Now()
	closed := false
	err := r.store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if closed, err = tx.EndConversation(ctx, conv.ID, state, reason, now); err != nil || !closed {
			return err
		}
		event := store.Message{ConversationID: conv.ID, EndpointID: conv.EndpointID, SessionID: conv.SessionID, Direction: store.FromSystem, Kind: store.KindState,
			Data: store.MessageData{State: state, Reason: reason}, CreatedAt: now}
		if err := tx.InsertMessage(ctx, &event); err != nil {
			return err
		}
		e, err := tx.EndpointByID(ctx, conv.EndpointID)
		if err != nil {
			return err
		}
		if e.Privacy.DiscardConversationText {
			// collectConversations off: the texts were kept only while the
			// bot might read them again from its stream (docs/privacy.md).
			if err := tx.ForgetConversationText(ctx, conv.ID, event.ID); err != nil {
				return err
			}
		}
		text := goodbyes[reason]
		if key, ok := reasonTexts[reason]; ok {
			text = waitingText(e, key, textFill{agent: conv.AgentName})
		}
		if text != "" {
			bye := store.Message{ConversationID: conv.ID, EndpointID: conv.EndpointID, SessionID: conv.SessionID, Direction: store.FromBot, Kind: store.KindText,
				Text: text, CreatedAt: now}
			if err := tx.InsertMessage(ctx, &bye); err != nil {
				return err
			}
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
	if err != nil {
		return store.Conversation{}, err
	}
	conv.State, conv.EndReason, conv.EndedAt = state, reason, &now
	if closed {
		r.log.InfoContext(ctx, "handover ended", slog.Int64("conversation_id", conv.ID), slog.String("state", state), slog.String("reason", reason))
		if state == store.StateFailed {
			r.obs.HandoverFailed(reason)
		} else {
			r.obs.HandoverEnded(reason)
		}
		r.publish(conv)
	}
	return conv, nil
}

func customerRecipient(conv store.Conversation) genesys.Recipient {
	rec := genesys.Recipient{ID: conv.CustomerID, IDType: genesys.IDTypeOpaque, FirstName: conv.FirstName, LastName: conv.LastName, Email: conv.Email}
	if name := strings.TrimSpace(conv.FirstName + " " + conv.LastName); name != "" {
		rec.Nickname = name
	}
	return rec
}

// routingAttributes are the custom attributes of the first message: the
// handover's own plus the routing data the Architect flow reads.
func routingAttributes(e store.Endpoint, conv store.Conversation) map[string]string {
	attrs := maps.Clone(conv.CustomAttributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	values := map[string]string{
		"queueId": e.QueueID, "language": conv.Language, "skills": strings.Join(conv.Skills, ","),
		"userId": conv.UserID, "priority": strconv.Itoa(conv.Priority), "sessionId": conv.SessionID,
	}
	for _, a := range RoutingAttributes {
		attrs[AttributeName(e, a.Key)] = values[a.Key]
	}
	return attrs
}

// transcriptText renders the bot conversation as one readable message.
func transcriptText(entries []TranscriptEntry) string {
	if len(entries) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Conversation with the bot before the handover:\n")
	for _, entry := range entries {
		text := strings.TrimSpace(entry.Text)
		if text == "" {
			continue
		}
		who := "Bot"
		if entry.Source == "user" {
			who = "User"
		}
		if entry.Time.IsZero() {
			fmt.Fprintf(&b, "%s: %s\n", who, text)
		} else {
			fmt.Fprintf(&b, "[%s] %s: %s\n", entry.Time.UTC().Format("2006-01-02 15:04:05 UTC"), who, text)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func checkIDs(userID, sessionID string) error {
	if err := checkID("sessionId", "missing_session_id", sessionID); err != nil {
		return err
	}
	return checkID("userId", "missing_user_id", userID)
}

// checkID refuses an id the store and Genesys cannot take: empty, over 200
// characters, not UTF-8, or holding U+0000.
func checkID(field, missingCode, id string) error {
	switch {
	case strings.TrimSpace(id) == "":
		return refuseField(field, missingCode, "%s is required.", field)
	case len(id) > 200:
		return refuseField(field, "id_too_long", "%s may have at most 200 characters.", field)
	case !utf8.ValidString(id):
		return refuseField(field, "invalid_id", "%s must be valid UTF-8.", field)
	}
	return refuseNUL(field, id)
}

// refuseNUL refuses a value that holds U+0000: PostgreSQL cannot store it
// in text, and Genesys would get a string the user never meant to send.
func refuseNUL(field, value string) error {
	if strings.ContainsRune(value, 0) {
		return refuseField(field, "nul_character", "%s contains a NUL character (U+0000), which cannot be stored; remove it.", field)
	}
	return nil
}

func mediaTypeOf(mime string) string {
	switch {
	case strings.HasPrefix(mime, "image/"):
		return genesys.MediaTypeImage
	case strings.HasPrefix(mime, "video/"):
		return genesys.MediaTypeVideo
	case strings.HasPrefix(mime, "audio/"):
		return genesys.MediaTypeAudio
	}
	return genesys.MediaTypeFile
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
