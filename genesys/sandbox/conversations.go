package sandbox

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/handover-relay/handover/genesys"
)

// Participant purposes and states (docs/genesys.md §Inbound, §Notifications).
const (
	purposeCustomer = "customer"
	purposeACD      = "acd"
	purposeAgent    = "agent"

	stateAlerting     = "alerting"
	stateConnected    = "connected"
	stateDisconnected = "disconnected"

	disconnectClient   = "client"
	disconnectPeer     = "peer"
	disconnectTransfer = "transfer"
	disconnectEndpoint = "endpoint"
	disconnectNoAnswer = "transfer.noanswer"
)

// originatingEntity of outbound messages (docs/genesys.md §RealGenesys 15.1): an
// agent's are Human, an Architect flow's (or bot's) Bot.
const (
	originatingHuman = "Human"
	originatingBot   = "Bot"
)

// Agent message limits (docs/genesys.md §Limits).
const (
	maxAgentText = 4000
	// typingDuration is how long an agent typing event asks the customer's
	// side to show the indicator, as Genesys's own example does (docs/genesys.md §Webhook).
	typingDuration = 5000
)

// queueIDAttribute is the custom attribute that picks the queue. In Genesys
// an Architect flow reads participant data and transfers to a queue; the
// sandbox plays that flow.
const queueIDAttribute = "queueId"

// activeConversationLocked finds the conversation that messages from
// customerID to the integration join: Genesys threads on integration plus
// channel.from.id while the conversation is active (docs/genesys.md §Inbound).
func (s *Sandbox) activeConversationLocked(integrationID, customerID string) *Conversation {
	id, ok := s.active[threadKey{integrationID, customerID}]
	if !ok {
		return nil
	}
	return s.convs[id]
}

// startConversationLocked creates a conversation for a customer's first
// message: the customer leg, connected, whose participant data is the custom
// attributes, and the ACD leg holding it on a queue.
func (s *Sandbox) startConversationLocked(in *integration, from genesys.Recipient, attrs map[string]string, now time.Time) *Conversation {
	return s.startConversationWithIDLocked(uuid.NewString(), in, from, attrs, now)
}

// startConversationWithIDLocked is startConversationLocked for a
// conversation whose id Genesys gave before it reached a queue: a bot
// flow's, whose Transfer to ACD keeps the conversation it ran in.
func (s *Sandbox) startConversationWithIDLocked(id string, in *integration, from genesys.Recipient, attrs map[string]string, now time.Time) *Conversation {
	q := queue{}
	if chosen, ok := s.queueLocked(attrs[queueIDAttribute]); ok {
		q = chosen
	} else if len(s.queues) > 0 {
		q = s.queues[0]
	}
	conv := &Conversation{
		ID:            id,
		IntegrationID: in.ID,
		Customer:      from,
		QueueID:       q.id,
		State:         StateWaiting,
		StartTime:     now,
		Participants: []Participant{
			{
				ID: uuid.NewString(), SessionID: uuid.NewString(), Name: displayName(from), Purpose: purposeCustomer,
				State: stateConnected, Direction: "inbound", StartTime: now, ConnectedTime: now, Attributes: maps.Clone(attrs),
			},
			{
				ID: uuid.NewString(), SessionID: uuid.NewString(), Name: q.name, Purpose: purposeACD, State: stateAlerting,
				Direction: "inbound", StartTime: now, QueueID: q.id,
			},
		},
	}
	s.convs[conv.ID] = conv
	s.convOrder = append(s.convOrder, conv.ID)
	s.active[threadKey{in.ID, from.ID}] = conv.ID
	s.changedLocked(conv)
	// The ACD leg connects as soon as the flow has put the conversation on
	// the queue; it stays connected while the conversation waits.
	acd := &conv.Participants[1]
	acd.State, acd.ConnectedTime = stateConnected, now
	s.changedLocked(conv)
	return conv
}

func findParticipant(conv *Conversation, match func(*Participant) bool) *Participant {
	for i := range conv.Participants {
		if match(&conv.Participants[i]) {
			return &conv.Participants[i]
		}
	}
	return nil
}

func connectedAgent(conv *Conversation) *Participant {
	return findParticipant(conv, func(p *Participant) bool {
		return p.Purpose == purposeAgent && p.State == stateConnected
	})
}

func alertingAgent(conv *Conversation) *Participant {
	return findParticipant(conv, func(p *Participant) bool {
		return p.Purpose == purposeAgent && p.State == stateAlerting
	})
}

// disconnectLocked ends one leg, unless it has already ended, and reports
// the end of an agent's or the customer's session as a detail event
// (docs/genesys.md §DetailEvents).
func (s *Sandbox) disconnectLocked(conv *Conversation, p *Participant, disconnectType string, now time.Time) {
	if p == nil || p.State == stateDisconnected {
		return
	}
	p.State, p.DisconnectType, p.EndTime = stateDisconnected, disconnectType, now
	switch p.Purpose {
	case purposeAgent:
		if !p.ConnectedTime.IsZero() {
			p.StartAcwTime = now // wrap-up starts when an agent who answered leaves
		}
		s.userEndLocked(conv, p, now)
	case purposeCustomer:
		s.customerEndLocked(conv, p, now)
	}
}

// endConversationLocked disconnects every remaining leg after the customer
// leg and stops threading new messages into the conversation.
func (s *Sandbox) endConversationLocked(conv *Conversation, customerType, othersType string, now time.Time) {
	if customer := findParticipant(conv, func(p *Participant) bool { return p.Purpose == purposeCustomer }); customer != nil {
		s.disconnectLocked(conv, customer, customerType, now)
	}
	for i := range conv.Participants {
		s.disconnectLocked(conv, &conv.Participants[i], othersType, now)
	}
	conv.State, conv.EndTime = StateEnded, now
	key := threadKey{conv.IntegrationID, conv.Customer.ID}
	if s.active[key] == conv.ID {
		delete(s.active, key)
	}
}

// wireConversation is a conversation as GET …/messages/{id} (MessageConversation)
// and the queue topic (QueueConversationMessageEventTopicMessageConversation)
// show it: the two share these fields.
type wireConversation struct {
	ID           string            `json:"id"`
	Participants []wireParticipant `json:"participants"`
	SelfURI      string            `json:"selfUri,omitempty"`
}

type wireParticipant struct {
	ID             string            `json:"id"`
	Name           string            `json:"name,omitempty"`
	Purpose        string            `json:"purpose"`
	State          string            `json:"state"`
	Direction      string            `json:"direction,omitempty"`
	DisconnectType string            `json:"disconnectType,omitempty"`
	StartTime      string            `json:"startTime,omitempty"`
	ConnectedTime  string            `json:"connectedTime,omitempty"`
	EndTime        string            `json:"endTime,omitempty"`
	StartAcwTime   string            `json:"startAcwTime,omitempty"`
	EndAcwTime     string            `json:"endAcwTime,omitempty"`
	WrapupRequired *bool             `json:"wrapupRequired,omitempty"`
	Wrapup         *wireWrapup       `json:"wrapup,omitempty"`
	User           *wireRef          `json:"user,omitempty"`
	Queue          *wireRef          `json:"queue,omitempty"`
	Attributes     map[string]string `json:"attributes,omitempty"`
	Type           string            `json:"type,omitempty"`
}

// wireWrapup is the fields Wrapup (GET) and QueueConversationMessageEventTopicWrapup
// (queue topic) share.
type wireWrapup struct {
	Code            string `json:"code"`
	DurationSeconds int64  `json:"durationSeconds"`
	EndTime         string `json:"endTime"`
}

type wireRef struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return genesys.FormatTime(t)
}

func (s *Sandbox) wireConversationLocked(conv *Conversation) wireConversation {
	out := wireConversation{ID: conv.ID, Participants: make([]wireParticipant, 0, len(conv.Participants))}
	for _, p := range conv.Participants {
		w := wireParticipant{
			ID: p.ID, Name: p.Name, Purpose: p.Purpose, State: p.State, Direction: p.Direction,
			DisconnectType: p.DisconnectType,
			StartTime:      formatTime(p.StartTime), ConnectedTime: formatTime(p.ConnectedTime),
			EndTime: formatTime(p.EndTime), StartAcwTime: formatTime(p.StartAcwTime), EndAcwTime: formatTime(p.EndAcwTime),
			Attributes: maps.Clone(p.Attributes),
		}
		if p.WrapupCode != "" {
			w.Wrapup = &wireWrapup{
				Code:            p.WrapupCode,
				DurationSeconds: int64(p.EndAcwTime.Sub(p.StartAcwTime).Seconds()),
				EndTime:         formatTime(p.EndAcwTime),
			}
		}
		if p.Purpose == purposeAgent {
			required := p.WrapupRequired
			w.WrapupRequired = &required
			w.User = &wireRef{ID: p.UserID, Name: p.UserName}
		}
		if p.Purpose == purposeCustomer {
			w.Type = "open"
		}
		if p.QueueID != "" {
			q, _ := s.queueLocked(p.QueueID)
			w.Queue = &wireRef{ID: p.QueueID, Name: q.name}
		}
		out.Participants = append(out.Participants, w)
	}
	return out
}

// getConversation is GET /api/v2/conversations/messages/{conversationId}.
func (s *Sandbox) getConversation(c *fiber.Ctx) error {
	s.mu.Lock()
	conv, ok := s.convs[c.Params("conversationId")]
	var out wireConversation
	if ok {
		out = s.wireConversationLocked(conv)
		out.SelfURI = "/api/v2/conversations/messages/" + conv.ID
	}
	s.mu.Unlock()
	if !ok {
		return s.apiError(c, fiber.StatusNotFound, "not.found", "The requested conversation could not be found.")
	}
	return c.JSON(out)
}

// patchParticipant is PATCH …/messages/{cid}/participants/{pid} with
// {"state":"disconnected"} (MediaParticipantRequest, docs/genesys.md §Inbound).
// Disconnecting the customer ends the conversation; the agent, whose peer
// left, gets disconnectType "peer".
func (s *Sandbox) patchParticipant(c *fiber.Ctx) error {
	var req struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return s.apiError(c, fiber.StatusBadRequest, "bad.request", "body is not a MediaParticipantRequest: "+err.Error())
	}
	if req.State != stateDisconnected {
		// The sandbox has no hold, mute or wrap-up to change.
		return s.apiError(c, fiber.StatusBadRequest, "bad.request",
			fmt.Sprintf("state %q is not supported; only %q", req.State, stateDisconnected))
	}
	now := s.now()
	s.mu.Lock()
	conv, ok := s.convs[c.Params("conversationId")]
	var p *Participant
	if ok {
		pid := c.Params("participantId")
		p = findParticipant(conv, func(p *Participant) bool { return p.ID == pid })
	}
	if p == nil {
		s.mu.Unlock()
		return s.apiError(c, fiber.StatusNotFound, "not.found", "The requested conversation participant could not be found.")
	}
	// Disconnecting a leg that has already ended changes nothing and is
	// answered like the first time: what Genesys answers is UNCERTAIN, and an
	// idempotent answer lets a relay repeat the call after a lost response.
	if p.State != stateDisconnected {
		switch p.Purpose {
		case purposeCustomer:
			s.endConversationLocked(conv, disconnectClient, disconnectPeer, now)
		case purposeAgent:
			s.disconnectLocked(conv, p, disconnectClient, now)
			s.endConversationLocked(conv, disconnectPeer, disconnectPeer, now)
		default:
			s.disconnectLocked(conv, p, disconnectClient, now)
		}
		s.changedLocked(conv)
	}
	s.mu.Unlock()
	// The SDK documents no body; 202 says the disconnect was accepted.
	return c.SendStatus(fiber.StatusAccepted)
}

// patchAttributes is PATCH …/participants/{pid}/attributes with
// {"attributes":{…}}: the keys given replace those of the participant data.
func (s *Sandbox) patchAttributes(c *fiber.Ctx) error {
	var req struct {
		Attributes map[string]string `json:"attributes"`
	}
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return s.apiError(c, fiber.StatusBadRequest, "bad.request", "body is not ParticipantAttributes: "+err.Error())
	}
	s.mu.Lock()
	conv, ok := s.convs[c.Params("conversationId")]
	var p *Participant
	if ok {
		pid := c.Params("participantId")
		p = findParticipant(conv, func(p *Participant) bool { return p.ID == pid })
	}
	if p == nil {
		s.mu.Unlock()
		return s.apiError(c, fiber.StatusNotFound, "not.found", "The requested conversation participant could not be found.")
	}
	if p.Attributes == nil {
		p.Attributes = map[string]string{}
	}
	maps.Copy(p.Attributes, req.Attributes)
	s.changedLocked(conv)
	s.mu.Unlock()
	return c.SendStatus(fiber.StatusAccepted)
}

// Accept has agentName answer the conversation. When agentName is being
// offered it (Offer, TransferToAgent), that alerting leg connects; otherwise
// an agent leg alerts and then connects at once. The ACD leg, if the
// conversation waits on a queue, hands over to the agent.
func (s *Sandbox) Accept(conversationID, agentName string) error {
	agentName = strings.TrimSpace(agentName)
	if agentName == "" {
		return fmt.Errorf("accept conversation %s: the agent needs a name", conversationID)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, err := s.openConversationLocked(conversationID)
	if err != nil {
		return fmt.Errorf("accept conversation %s: %w", conversationID, err)
	}
	if connectedAgent(conv) != nil {
		return fmt.Errorf("accept conversation %s: %w", conversationID, ErrAlreadyAccepted)
	}
	agent := alertingAgent(conv)
	if agent != nil && agent.UserName != agentName {
		return fmt.Errorf("accept conversation %s as %s: %w (%s)", conversationID, agentName, ErrOfferPending, agent.UserName)
	}
	if agent == nil {
		agent = s.alertLocked(conv, agentName, now)
		s.changedLocked(conv)
		s.userStartLocked(conv, agent, now)
	}
	agent.State, agent.ConnectedTime = stateConnected, now
	s.disconnectLocked(conv, findParticipant(conv, func(p *Participant) bool {
		return p.Purpose == purposeACD && p.State != stateDisconnected
	}), disconnectTransfer, now)
	conv.State = StateConnected
	s.changedLocked(conv)
	return nil
}

// alertLocked adds an agent leg for agentName in state alerting: the
// conversation is being offered to them. The caller sends the snapshot and
// the user.start event; the pointer is valid until the next append.
func (s *Sandbox) alertLocked(conv *Conversation, agentName string, now time.Time) *Participant {
	userID, ok := s.users[agentName]
	if !ok {
		userID = uuid.NewString()
		s.users[agentName] = userID
	}
	conv.Participants = append(conv.Participants, Participant{
		ID: uuid.NewString(), SessionID: uuid.NewString(), Name: agentName, Purpose: purposeAgent, State: stateAlerting,
		Direction: "inbound", StartTime: now, UserID: userID, UserName: agentName, QueueID: conv.QueueID, WrapupRequired: true,
	})
	return &conv.Participants[len(conv.Participants)-1]
}

// AgentEnd has the agent close the conversation: the agent leg disconnects
// ("client", with after-call work), and then the customer leg.
func (s *Sandbox) AgentEnd(conversationID string) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, err := s.openConversationLocked(conversationID)
	if err != nil {
		return fmt.Errorf("end conversation %s: %w", conversationID, err)
	}
	agent := connectedAgent(conv)
	if agent == nil {
		return fmt.Errorf("end conversation %s: %w", conversationID, ErrNoAgent)
	}
	s.disconnectLocked(conv, agent, disconnectClient, now)
	s.changedLocked(conv)
	// Whether the customer leg of an Open Messaging conversation disconnects
	// as soon as the agent ends it is UNCERTAIN (docs/genesys.md §Notifications). The
	// sandbox ends it at once so that a relay sees both signals and can
	// test either rule of "conversation ended".
	s.endConversationLocked(conv, disconnectPeer, disconnectPeer, now)
	s.changedLocked(conv)
	return nil
}

// AgentTyping sends the customer an agent typing event.
func (s *Sandbox) AgentTyping(conversationID string) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, in, _, err := s.agentContextLocked(conversationID)
	if err != nil {
		return fmt.Errorf("agent typing in conversation %s: %w", conversationID, err)
	}
	conv.AgentTypingAt = now
	id := genesysID()
	w := s.outboundLocked(conv, in, id, now)
	// Genesys's typing example names the integration, not the agent (docs/genesys.md §RealGenesys 15.6).
	w.Channel.From.Nickname = in.Name
	w.Type = genesys.MessageTypeEvent
	w.Events = []genesys.Event{{EventType: genesys.EventTypeTyping, Typing: &genesys.Typing{Type: genesys.TypingOn, Duration: typingDuration}}}
	s.queueWebhookLocked(conv, in, w)
	return nil
}

// AgentSend sends the customer a text, with an image when imageURL is set.
// It returns the Genesys message id once the webhook is queued.
func (s *Sandbox) AgentSend(conversationID, text, imageURL string) (string, error) {
	text = strings.TrimSpace(text)
	imageURL = strings.TrimSpace(imageURL)
	if text == "" && imageURL == "" {
		return "", fmt.Errorf("agent send in conversation %s: %w: no text and no image", conversationID, ErrInvalidMessage)
	}
	if n := utf8.RuneCountInString(text); n > maxAgentText {
		return "", fmt.Errorf("agent send in conversation %s: %w: %d characters, the Open API channel allows %d", conversationID, ErrInvalidMessage, n, maxAgentText)
	}
	var content []genesys.Content
	if imageURL != "" {
		attachment, err := imageAttachment(imageURL)
		if err != nil {
			return "", fmt.Errorf("agent send in conversation %s: %w", conversationID, err)
		}
		content = []genesys.Content{{ContentType: genesys.ContentTypeAttachment, Attachment: attachment}}
	}
	return s.agentMessage(conversationID, genesys.MessageTypeText, text, content)
}

// AgentQuickReplies sends a structured message: text with one quick reply
// per option. Its webhook shape follows docs/genesys.md §Structured.
func (s *Sandbox) AgentQuickReplies(conversationID, text string, options []string) (string, error) {
	var content []genesys.Content
	for _, o := range options {
		if o = strings.TrimSpace(o); o != "" {
			content = append(content, genesys.Content{
				ContentType: genesys.ContentTypeQuickReply,
				QuickReply:  &genesys.QuickReply{Text: o, Payload: o, Action: "Message"},
			})
		}
	}
	if len(content) == 0 {
		return "", fmt.Errorf("agent quick replies in conversation %s: %w: no options", conversationID, ErrInvalidMessage)
	}
	if n := utf8.RuneCountInString(text); n > maxAgentText {
		return "", fmt.Errorf("agent quick replies in conversation %s: %w: %d characters, the Open API channel allows %d", conversationID, ErrInvalidMessage, n, maxAgentText)
	}
	return s.agentMessage(conversationID, genesys.MessageTypeStructured, strings.TrimSpace(text), content)
}

func (s *Sandbox) agentMessage(conversationID, messageType, text string, content []genesys.Content) (string, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, in, agent, err := s.agentContextLocked(conversationID)
	if err != nil {
		return "", fmt.Errorf("agent send in conversation %s: %w", conversationID, err)
	}
	id := genesysID()
	w := s.outboundLocked(conv, in, id, now)
	w.Channel.From.Nickname = agent.UserName
	if s.cfg.NicknameIsIntegrationName {
		w.Channel.From.Nickname = in.Name
	}
	w.Type = messageType
	w.Text = text
	w.Content = content
	w.OriginatingEntity = originatingHuman
	conv.Messages = append(conv.Messages, Message{
		ID: id, Direction: genesys.DirectionOutbound, ChannelMessageID: id, Type: messageType,
		Text: text, Content: copyContent(content), From: agent.UserName, OriginatingEntity: originatingHuman, Time: now,
	})
	s.agentMessages[id] = conv.ID
	s.queueWebhookLocked(conv, in, w)
	s.changedLocked(conv)
	return id, nil
}

// outboundLocked is the envelope every webhook of conv shares (docs/genesys.md §Webhook).
// Its channel.time is the sandbox's clock moved by SkewWebhookClock.
func (s *Sandbox) outboundLocked(conv *Conversation, in *integration, id string, now time.Time) genesys.Webhook {
	idType := conv.Customer.IDType
	if idType == "" {
		idType = genesys.IDTypeOpaque
	}
	return genesys.Webhook{
		ID: id,
		Channel: genesys.Channel{
			ID: in.ID, Platform: "Open", Type: "Private", MessageID: id,
			To:   genesys.Recipient{ID: conv.Customer.ID, IDType: idType},
			From: genesys.Recipient{ID: in.ID, IDType: genesys.IDTypeOpaque},
			Time: genesys.TimestampOf(now.Add(s.skew)),
		},
		Direction: genesys.DirectionOutbound,
	}
}

// SkewWebhookClock moves the channel.time of every later webhook by d, as
// when Genesys's clock and the relay's disagree or a webhook is retried long
// after it was made: -20*time.Minute makes them look old, 3*time.Minute
// from the future. 0 puts the clock back.
func (s *Sandbox) SkewWebhookClock(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skew = d
}

func (s *Sandbox) openConversationLocked(conversationID string) (*Conversation, error) {
	conv, ok := s.convs[conversationID]
	if !ok {
		return nil, ErrConversationNotFound
	}
	if conv.State == StateEnded {
		return nil, ErrConversationEnded
	}
	return conv, nil
}

func (s *Sandbox) agentContextLocked(conversationID string) (*Conversation, *integration, *Participant, error) {
	conv, err := s.openConversationLocked(conversationID)
	if err != nil {
		return nil, nil, nil, err
	}
	agent := connectedAgent(conv)
	if agent == nil {
		return nil, nil, nil, ErrNoAgent
	}
	in := s.integrationLocked(conv.IntegrationID)
	if in == nil {
		return nil, nil, nil, fmt.Errorf("integration %s is gone", conv.IntegrationID)
	}
	return conv, in, agent, nil
}

// outboundImageTypes are what the default supported content profile lets
// agents send: jpg, png and gif only (docs/genesys.md §Limits).
var outboundImageTypes = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
}

func imageAttachment(raw string) (*genesys.Attachment, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: image URL %q is not an http or https URL", ErrInvalidMessage, raw)
	}
	name := path.Base(u.Path)
	mime, ok := outboundImageTypes[strings.ToLower(path.Ext(name))]
	if !ok {
		return nil, fmt.Errorf("%w: image %q is not a .jpg, .png or .gif, which is all the default content profile allows outbound", ErrInvalidMessage, name)
	}
	return &genesys.Attachment{ID: uuid.NewString(), MediaType: genesys.MediaTypeImage, URL: raw, Mime: mime, Filename: name}, nil
}
