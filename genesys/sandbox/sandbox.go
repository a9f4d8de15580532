// Package sandbox is an in-process fake of Genesys Cloud: the OAuth token
// endpoint, the Open Messaging inbound API, message conversations, the
// Notifications API with its WebSocket, signed outbound webhooks with
// Genesys's retry policy, analytics detail events (also to Process
// Automation triggers and Amazon EventBridge), and an agent desk page for a
// person to play the agent, the Architect flow and the customer leaving.
//
// Beyond the happy path it plays what real orgs do: offers declined or
// missed, transfers to agents and queues, after-call work, flow messages
// from the bot, receipt sequences for the customer's messages, a skewed
// webhook clock, and agent messages named after the integration.
//
// It is what the tests and the demo mode talk to instead of a real org, so it
// follows the wire contract (shared/reference/genesys-open-messaging.md) as
// closely as it can: request bodies are checked against the same Swagger
// definitions the real API is generated from, and answers have the real
// shapes. Where docs/genesys.md marks a behaviour UNCERTAIN, a comment says
// which way the sandbox went and why.
package sandbox

import (
	"cmp"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/handover-relay/handover/genesys"
)

// openAPISpec is the Swagger subset of the Platform API (docs/genesys.md §Inbound). It is
// embedded, not read from testdata, so that the sandbox validates requests in
// the demo mode of a deployed binary too.
//
//go:embed openapi.json
var openAPISpec []byte

// parsedSpec converts the embedded spec once per process: the conversion
// takes a noticeable fraction of a second, and the result is read-only, so
// every sandbox (tests start many) can share it.
var parsedSpec = sync.OnceValues(func() (*genesys.Spec, error) { return genesys.ParseSpec(openAPISpec) })

// Defaults follow the real service (docs/genesys.md §Webhook, §RateLimits, §Notifications).
const (
	DefaultWebhookRetries    = 5
	DefaultWebhookRetryDelay = 5 * time.Second
	DefaultWebhookTimeout    = 10 * time.Second
	DefaultRequestsPerMinute = 300
	DefaultTokenLifetime     = 24 * time.Hour
	DefaultHeartbeatInterval = 30 * time.Second
	DefaultAgentsOnQueue     = 2
	DefaultHandleTime        = 3 * time.Minute
)

// Config tunes the sandbox. The zero value of each field means the default
// of the real Genesys Cloud.
type Config struct {
	// PublicBaseURL is how clients reach the sandbox, for example
	// "http://127.0.0.1:8080/sandbox/genesys"; notification channels'
	// connectUri is built from it.
	PublicBaseURL     string
	WebhookRetries    int           // retries after the first attempt; default 5
	WebhookRetryDelay time.Duration // default 5s (tests set ~10ms)
	WebhookTimeout    time.Duration // default 10s
	RequestsPerMinute int           // per access token; default 300
	TokenLifetime     time.Duration // default 24h (expires_in)
	HeartbeatInterval time.Duration // notifications WebSocket heartbeat; default 30s
	// SendReceipts makes the sandbox POST a Delivered receipt webhook for
	// each inbound message it accepts (docs/genesys.md §Receipts: what triggers them in
	// Genesys is UNCERTAIN, so it is off unless asked for). It is shorthand
	// for ReceiptSequence []string{"Delivered"}.
	SendReceipts bool
	// ReceiptSequence, when not nil, lists the receipt statuses the sandbox
	// POSTs, in order, for each inbound message it accepts: each a Receipt
	// webhook whose id is the message's Genesys id, with isFinalReceipt only
	// on the last. Statuses: Sent, Delivered, Read, Failed, Published,
	// Removed. An empty, non-nil slice sends none whatever SendReceipts says.
	ReceiptSequence []string
	// FlowGreeting, when set, is sent to every new conversation as an
	// Architect flow's Send Response (originatingEntity Bot) as soon as the
	// conversation is on the queue, before any agent.
	FlowGreeting string
	// NicknameIsIntegrationName makes agent messages carry the integration's
	// name in channel.from.nickname instead of the agent's, as real Genesys
	// may (docs/genesys.md §RealGenesys 15.6: which name agent messages carry is UNCERTAIN). The
	// agent's name is then only in the conversation's participants.
	NicknameIsIntegrationName bool
	// AgentsOnQueue is how many agents each new queue starts with On Queue;
	// default DefaultAgentsOnQueue. SetAgentsOnQueue changes it, to zero too.
	AgentsOnQueue int
	// HandleTime is how long the sandbox assumes an agent takes per
	// conversation when it estimates a wait; default DefaultHandleTime.
	HandleTime time.Duration
	// OrganizationID is the org id in EventBridge event sources; default a
	// random UUID per sandbox.
	OrganizationID string
	HTTPClient     *http.Client // for webhooks; default one with timeouts
	Logger         *slog.Logger
	Now            func() time.Time
	// DeskCSRF, when set, gives the CSRF token the agent desk's forms carry
	// (the console's, when the desk is behind its sign-in).
	DeskCSRF func(c *fiber.Ctx) string
	// OnInbound, when set, is called for every accepted inbound call as it is
	// recorded (benchmarks time the relay with it). It runs with the
	// sandbox's lock held: it must return quickly and not call the sandbox.
	OnInbound func(InboundRecord)
}

// Fault makes the sandbox misbehave on API and token calls, to test how the
// relay copes with an unwell Genesys.
type Fault struct {
	Status     int           // answer this status with an ErrorBody (0: answer normally)
	RetryAfter time.Duration // with Status: send Retry-After in whole seconds
	Latency    time.Duration // wait this long before answering (or failing)
	// SlowAnswer does the call's work at once and then waits this long
	// before answering: the call reached Genesys but its answer is late,
	// as when the caller dies while it is in flight.
	SlowAnswer time.Duration
	Reset      bool // close the TCP connection without an answer
	Count      int  // how many calls it hits; 0 = until cleared
	// PathContains limits the fault to paths containing it; "" = every API
	// and token path.
	PathContains string
}

// Conversation states as the desk shows them.
const (
	StateWaiting   = "waiting"   // on the queue, no agent connected
	StateConnected = "connected" // an agent is connected
	StateEnded     = "ended"     // the customer leg is disconnected
)

// Conversation is a copy of one message conversation.
type Conversation struct {
	ID               string
	IntegrationID    string
	Customer         genesys.Recipient // channel.from of the first message
	QueueID          string
	State            string // StateWaiting, StateConnected or StateEnded
	Participants     []Participant
	Messages         []Message
	StartTime        time.Time
	EndTime          time.Time
	CustomerTypingAt time.Time // last inbound typing event
	AgentTypingAt    time.Time // last agent typing event
}

// Participant is one leg of a conversation, as GET …/messages/{id} shows it.
type Participant struct {
	ID             string
	SessionID      string // the session detail events name
	Name           string
	Purpose        string // customer, acd or agent
	State          string // alerting, connected or disconnected
	Direction      string
	DisconnectType string
	StartTime      time.Time
	ConnectedTime  time.Time
	EndTime        time.Time
	StartAcwTime   time.Time
	EndAcwTime     time.Time // when the agent applied a wrap-up code
	WrapupCode     string
	UserID         string
	UserName       string
	QueueID        string
	Attributes     map[string]string
	WrapupRequired bool
}

// Message is one message of a conversation, in either direction.
type Message struct {
	ID                   string // the Genesys message id
	Direction            string // genesys.DirectionInbound (customer) or genesys.DirectionOutbound (agent)
	ChannelMessageID     string // channel.messageId: the sender's id inbound, ID outbound
	Type                 string // Text or Structured
	Text                 string
	Content              []genesys.Content
	ButtonResponse       *genesys.ButtonResponse // a customer's click
	OriginatingMessageID string                  // the structured message clicked
	From                 string                  // display name of the sender
	OriginatingEntity    string                  // outbound: Human (an agent) or Bot (a flow)
	Time                 time.Time
	// ReceiptStatus is the latest receipt: the relay's for an outbound
	// message, the one the sandbox sent for an inbound one.
	ReceiptStatus  string
	ReceiptReasons []genesys.Reason
}

// InboundKind names an inbound endpoint.
type InboundKind string

// The inbound endpoints (docs/genesys.md §Inbound).
const (
	KindMessage    InboundKind = "message"
	KindEvent      InboundKind = "event"
	KindReceipt    InboundKind = "receipt"
	KindStructured InboundKind = "structured"
)

// InboundRecord is one accepted inbound call.
type InboundRecord struct {
	Kind           InboundKind
	IntegrationID  string
	ConversationID string // "" when the call touched no conversation
	Body           []byte // as received
	// Parsed is genesys.InboundMessage, InboundEvent, InboundReceipt or
	// InboundStructuredResponse, following Kind.
	Parsed    any
	Duplicate bool // a repeated channel.messageId, answered from the first
	Time      time.Time
}

// RejectedRecord is one request the sandbox refused.
type RejectedRecord struct {
	Method string
	Path   string
	Status int
	Code   string // the ErrorBody code or OAuth error
	Reason string
	Body   []byte // at most the first 4 KB of the body
	// BodyBytes is the body's whole length, which may be more than len(Body).
	BodyBytes int
	Time      time.Time
}

// Delivery is one webhook attempt.
type Delivery struct {
	ConversationID string
	IntegrationID  string
	MessageID      string // the body's top-level id
	Type           string // Text, Structured, Event or Receipt
	URL            string
	Body           []byte
	Signature      string
	Attempt        int // 1 for the first try
	Status         int // 0 when no answer came
	Error          string
	Time           time.Time
	Duration       time.Duration
}

// Errors of the agent actions.
var (
	ErrConversationNotFound = errors.New("no such conversation")
	// ErrNotFound: no Bot Connector integration has the id.
	ErrNotFound           = errors.New("no such integration")
	ErrConversationEnded  = errors.New("the conversation has ended")
	ErrNoAgent            = errors.New("no agent is connected to the conversation; accept it first")
	ErrAlreadyAccepted    = errors.New("an agent is already connected to the conversation")
	ErrInvalidMessage     = errors.New("invalid agent message")
	ErrOfferPending       = errors.New("another agent is being offered the conversation; accept as that agent, decline or let the offer time out")
	ErrNoOffer            = errors.New("no agent is being offered the conversation")
	ErrUnknownQueue       = errors.New("no such queue")
	ErrNoWrapup           = errors.New("no agent is in after-call work on the conversation")
	ErrUnknownMessage     = errors.New("no such customer message in the conversation")
	ErrUnknownIntegration = errors.New("no such integration")
	ErrInvalidReceipt     = errors.New("invalid receipt")
)

// Sandbox is the fake Genesys Cloud. Build it with New, mount it with
// Register, and stop it with Close. All methods are safe for concurrent use.
type Sandbox struct {
	cfg  Config
	spec *genesys.Spec
	log  *slog.Logger
	http *http.Client

	// ctx ends on Close; every background goroutine watches it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu            sync.Mutex
	closed        bool
	clients       map[string]string // client id → secret
	tokens        map[string]*token
	clientCalls   map[string][]time.Time // per OAuth client, pruned to the sliding minute
	apiCalls      []APICall
	queues        []queue
	integrations  []*integration
	convs         map[string]*Conversation
	convOrder     []string
	active        map[threadKey]string // (integration, customer) → conversation not yet ended
	dedupe        map[dedupeKey]*genesys.MessageResponse
	agentMessages map[string]string // Genesys id of an outbound (agent or flow) message → conversation id
	users         map[string]string // agent name → user id
	inbound       []InboundRecord
	rejected      []RejectedRecord // a ring of the last maxRejected
	rejectedNext  int              // where the next refused request goes in rejected
	deliveries    []Delivery
	faults        []*Fault
	channels      map[string]*notificationChannel
	outboxes      map[string]*outbox // conversation id → pending webhooks
	orgID         string
	receipts      []string      // statuses sent for each inbound message
	skew          time.Duration // added to every webhook's channel.time

	destinations    []*eventDestination
	eventDeliveries []EventDelivery

	bots botConnectors // the Bot Connector's integrations, bot lists and bot flows
	// deskIntegrations are the deskOnly stand-ins of Bot Connector
	// integrations, kept out of the Open Messaging integration listings.
	deskIntegrations []*integration
}

type queue struct {
	id, name string
	// agentsOnQueue is how many agents are On Queue for it, busy or idle
	// (docs/genesys.md §Queues); the desk sets it.
	agentsOnQueue int
}

type integration struct {
	genesys.Integration
	secret  string
	content genesys.SupportedContent // its supported content profile
	// deskOnly is a Bot Connector integration's stand-in after its flow
	// transferred to ACD: the customer is Genesys's own, so its
	// conversations send no webhooks; the desk shows them.
	deskOnly bool
}

type threadKey struct{ integrationID, customerID string }

type dedupeKey struct {
	kind          InboundKind
	integrationID string
	messageID     string
}

// New checks cfg, fills in defaults and builds a Sandbox with no clients,
// queues or integrations yet.
func New(cfg Config) (*Sandbox, error) {
	if cfg.PublicBaseURL == "" {
		return nil, errors.New("new Genesys sandbox: PublicBaseURL is required (it builds the notification connectUri)")
	}
	if !strings.HasPrefix(cfg.PublicBaseURL, "http://") && !strings.HasPrefix(cfg.PublicBaseURL, "https://") {
		return nil, fmt.Errorf("new Genesys sandbox: PublicBaseURL %q must start with http:// or https://", cfg.PublicBaseURL)
	}
	cfg.PublicBaseURL = strings.TrimRight(cfg.PublicBaseURL, "/")
	if cfg.WebhookRetries < 0 {
		return nil, errors.New("new Genesys sandbox: WebhookRetries must not be negative")
	}
	if cfg.WebhookRetries == 0 {
		cfg.WebhookRetries = DefaultWebhookRetries
	}
	if cfg.WebhookRetryDelay <= 0 {
		cfg.WebhookRetryDelay = DefaultWebhookRetryDelay
	}
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = DefaultWebhookTimeout
	}
	if cfg.RequestsPerMinute <= 0 {
		cfg.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.AgentsOnQueue <= 0 {
		cfg.AgentsOnQueue = DefaultAgentsOnQueue
	}
	if cfg.HandleTime <= 0 {
		cfg.HandleTime = DefaultHandleTime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	receipts := cfg.ReceiptSequence
	if receipts == nil && cfg.SendReceipts {
		receipts = []string{genesys.ReceiptDelivered}
	}
	for _, status := range receipts {
		if !slices.Contains(receiptStatuses, status) {
			return nil, fmt.Errorf("new Genesys sandbox: receipt status %q is not one of %s", status, strings.Join(receiptStatuses, ", "))
		}
	}
	if n := utf8.RuneCountInString(cfg.FlowGreeting); n > maxAgentText {
		return nil, fmt.Errorf("new Genesys sandbox: FlowGreeting has %d characters, the Open API channel allows %d", n, maxAgentText)
	}
	orgID := cmp.Or(cfg.OrganizationID, uuid.NewString())
	client := cfg.HTTPClient
	if client == nil {
		client = newWebhookClient(cfg.WebhookTimeout)
	}
	spec, err := parsedSpec()
	if err != nil {
		return nil, fmt.Errorf("new Genesys sandbox: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Sandbox{
		cfg:           cfg,
		spec:          spec,
		log:           cfg.Logger.With(slog.String("component", "genesys_sandbox")),
		http:          client,
		ctx:           ctx,
		cancel:        cancel,
		clients:       map[string]string{},
		tokens:        map[string]*token{},
		clientCalls:   map[string][]time.Time{},
		convs:         map[string]*Conversation{},
		active:        map[threadKey]string{},
		dedupe:        map[dedupeKey]*genesys.MessageResponse{},
		agentMessages: map[string]string{},
		users:         map[string]string{},
		channels:      map[string]*notificationChannel{},
		outboxes:      map[string]*outbox{},
		orgID:         orgID,
		receipts:      slices.Clone(receipts),
	}, nil
}

// newWebhookClient has a timeout on every phase, like Genesys's 10 s wait
// for an answer (docs/genesys.md §Webhook).
func newWebhookClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   8,
		},
		// Genesys posts to exactly the configured URL; a redirect is an answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Close stops the background work: pending webhook deliveries and their
// retries are dropped and notification sockets are closed. It waits for the
// goroutines to end. Call it before shutting the fiber app down, as open
// sockets would hold the shutdown.
func (s *Sandbox) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// goBackgroundLocked runs f on a goroutine that Close waits for; the caller
// holds s.mu. It refuses once Close has begun, so that no Add races with
// Close's Wait.
func (s *Sandbox) goBackgroundLocked(f func()) bool {
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// Register mounts every route on r: the caller decides the prefix, for
// example app.Group("/sandbox/genesys"), or a bare fiber.App in tests. The
// agent desk's routes run deskGuard first (Handover's console sign-in and
// CSRF check); the API is Genesys's and authenticates with OAuth.
func (s *Sandbox) Register(r fiber.Router, deskGuard ...fiber.Handler) {
	r.Post("/oauth/token", s.applyFaults, s.issueToken)

	api := r.Group("/api/v2", s.applyFaults, s.authenticate)
	api.Get("/conversations/messaging/integrations/open", s.listIntegrations)
	api.Get("/conversations/messaging/integrations/open/:integrationId", s.getIntegration)
	api.Get("/conversations/messaging/supportedcontent/:supportedContentId", s.getSupportedContent)
	api.Post("/conversations/messages/:integrationId/inbound/open/message", s.inboundMessage)
	api.Post("/conversations/messages/:integrationId/inbound/open/event", s.inboundEvent)
	api.Post("/conversations/messages/:integrationId/inbound/open/receipt", s.inboundReceipt)
	api.Post("/conversations/messages/:integrationId/inbound/open/structured/response", s.inboundStructured)
	api.Get("/conversations/messages/:conversationId", s.getConversation)
	api.Patch("/conversations/messages/:conversationId/participants/:participantId", s.patchParticipant)
	api.Patch("/conversations/messages/:conversationId/participants/:participantId/attributes", s.patchAttributes)
	api.Post("/analytics/queues/observations/query", s.observeQueues)
	api.Get("/routing/queues/:queueId/mediatypes/:mediaType/estimatedwaittime", s.estimatedWaitTime)
	api.Post("/notifications/channels", s.createChannel)
	api.Get("/notifications/channels", s.listChannels)
	api.Head("/notifications/channels/:channelId", s.headChannel)
	api.Get("/notifications/channels/:channelId/subscriptions", s.getSubscriptions)
	api.Post("/notifications/channels/:channelId/subscriptions", s.addSubscriptions)
	api.Put("/notifications/channels/:channelId/subscriptions", s.replaceSubscriptions)
	api.Delete("/notifications/channels/:channelId/subscriptions", s.deleteSubscriptions)
	api.Put("/textbots/botconnector/integrations/:integrationId/bots", s.putBotList)
	api.All("/*", s.unknownAPIPath)

	r.Get("/streaming/channels/:channelId", s.checkSocketUpgrade, s.socketHandler())

	s.registerDesk(r, deskGuard)
}

// AddClient lets an OAuth client with these credentials get tokens.
func (s *Sandbox) AddClient(clientID, clientSecret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[clientID] = clientSecret
}

// AddQueue adds an ACD queue. New conversations go to the queue named by
// their queueId custom attribute, or else to the first queue added.
func (s *Sandbox) AddQueue(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.queues {
		if q.id == id {
			s.queues[i].name = name
			return
		}
	}
	s.queues = append(s.queues, queue{id: id, name: name, agentsOnQueue: s.cfg.AgentsOnQueue})
}

// AddIntegration creates an Open Messaging integration whose webhooks go to
// webhookURL, signed with webhookSecret. Unlike Genesys, creation is not
// asynchronous: the integration is Completed at once.
func (s *Sandbox) AddIntegration(name, webhookURL, webhookSecret string) genesys.Integration {
	id := uuid.NewString()
	in := genesys.Integration{
		ID:                             id,
		Name:                           name,
		OutboundNotificationWebhookURL: webhookURL,
		Status:                         "Active",
		CreateStatus:                   "Completed",
		Recipient:                      &genesys.EntityRef{ID: uuid.NewString(), Name: name},
		SelfURI:                        "/api/v2/conversations/messaging/integrations/open/" + id,
	}
	// Genesys's default profile: every type from the customer, only JPEG,
	// PNG and GIF to the customer (docs/genesys.md §SupportedContent).
	content := genesys.SupportedContent{ID: uuid.NewString(), Name: "Default", MediaTypes: genesys.MediaTypes{Allow: &genesys.MediaTypeAccess{
		Inbound:  []genesys.MediaType{{Type: "*/*"}},
		Outbound: []genesys.MediaType{{Type: "image/jpeg"}, {Type: "image/png"}, {Type: "image/gif"}},
	}}}
	in.SupportedContent = &genesys.EntityRef{ID: content.ID, Name: content.Name, SelfURI: "/api/v2/conversations/messaging/supportedcontent/" + content.ID}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.integrations = append(s.integrations, &integration{Integration: in, secret: webhookSecret, content: content})
	return in
}

// SetInboundMediaTypes changes which media types the integration's supported
// content profile accepts from the customer ("image/*", "application/pdf", …;
// none blocks every attachment). Attachments of other types are dropped, as
// Genesys drops them.
func (s *Sandbox) SetInboundMediaTypes(integrationID string, types ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.integrationLocked(integrationID)
	if in == nil {
		return fmt.Errorf("set media types of integration %s: %w", integrationID, ErrUnknownIntegration)
	}
	in.content.MediaTypes.Allow.Inbound = nil
	for _, t := range types {
		in.content.MediaTypes.Allow.Inbound = append(in.content.MediaTypes.Allow.Inbound, genesys.MediaType{Type: t})
	}
	return nil
}

// getSupportedContent is GET /api/v2/conversations/messaging/supportedcontent/{id}.
func (s *Sandbox) getSupportedContent(c *fiber.Ctx) error {
	s.mu.Lock()
	var (
		out   genesys.SupportedContent
		found bool
	)
	for _, in := range s.integrations {
		if in.content.ID == c.Params("supportedContentId") {
			out, found = in.content, true
			out.MediaTypes.Allow = &genesys.MediaTypeAccess{Inbound: slices.Clone(in.content.MediaTypes.Allow.Inbound), Outbound: slices.Clone(in.content.MediaTypes.Allow.Outbound)}
		}
	}
	s.mu.Unlock()
	if !found {
		return s.apiError(c, fiber.StatusNotFound, "not.found", "Supported content profile not found")
	}
	return c.JSON(out)
}

// RevokeTokens makes every issued token invalid: calls with them get 401.
func (s *Sandbox) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// SetFault adds a fault. Faults are checked in the order they were set and
// the first that matches a request applies.
func (s *Sandbox) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Sandbox) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Conversations returns copies of all conversations, oldest first.
func (s *Sandbox) Conversations() []Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Conversation, 0, len(s.convOrder))
	for _, id := range s.convOrder {
		out = append(out, copyConversation(s.convs[id]))
	}
	return out
}

// Conversation returns a copy of conversation id.
func (s *Sandbox) Conversation(id string) (Conversation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[id]
	if !ok {
		return Conversation{}, false
	}
	return copyConversation(c), true
}

// ConversationByCustomer returns the latest conversation of the customer
// whose channel.from.id is fromID, preferring one that has not ended.
func (s *Sandbox) ConversationByCustomer(fromID string) (Conversation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found *Conversation
	for _, id := range slices.Backward(s.convOrder) {
		c := s.convs[id]
		if c.Customer.ID != fromID {
			continue
		}
		if c.State != StateEnded {
			return copyConversation(c), true
		}
		if found == nil {
			found = c
		}
	}
	if found == nil {
		return Conversation{}, false
	}
	return copyConversation(found), true
}

// Inbound returns every accepted inbound call, oldest first.
func (s *Sandbox) Inbound() []InboundRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.inbound)
	for i := range out {
		out[i].Body = slices.Clone(out[i].Body)
	}
	return out
}

// Rejected returns the last 100 refused requests, oldest first, each with
// at most the first 4 KB of its body.
func (s *Sandbox) Rejected() []RejectedRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	// rejectedNext is the oldest record once the ring is full, and
	// len(s.rejected) before: either way this copies oldest first.
	out := slices.Concat(s.rejected[s.rejectedNext:], s.rejected[:s.rejectedNext])
	for i := range out {
		out[i].Body = slices.Clone(out[i].Body)
	}
	return out
}

// Deliveries returns every webhook attempt, oldest first.
func (s *Sandbox) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.deliveries)
	for i := range out {
		out[i].Body = slices.Clone(out[i].Body)
	}
	return out
}

func copyConversation(c *Conversation) Conversation {
	out := *c
	out.Participants = slices.Clone(c.Participants)
	for i := range out.Participants {
		out.Participants[i].Attributes = maps.Clone(c.Participants[i].Attributes)
	}
	out.Messages = slices.Clone(c.Messages)
	for i := range out.Messages {
		m := &out.Messages[i]
		m.Content = copyContent(m.Content)
		m.ReceiptReasons = slices.Clone(m.ReceiptReasons)
		if m.ButtonResponse != nil {
			b := *m.ButtonResponse
			m.ButtonResponse = &b
		}
	}
	return out
}

func copyContent(in []genesys.Content) []genesys.Content {
	out := slices.Clone(in)
	for i := range out {
		if a := out[i].Attachment; a != nil {
			c := *a
			out[i].Attachment = &c
		}
		if q := out[i].QuickReply; q != nil {
			c := *q
			out[i].QuickReply = &c
		}
		if b := out[i].ButtonResponse; b != nil {
			c := *b
			out[i].ButtonResponse = &c
		}
	}
	return out
}

// genesysID is a Genesys message id: 32 lower-case hex digits.
func genesysID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func (s *Sandbox) now() time.Time { return s.cfg.Now().UTC() }

func (s *Sandbox) integrationLocked(id string) *integration {
	for _, in := range s.integrations {
		if in.ID == id {
			return in
		}
	}
	for _, in := range s.deskIntegrations {
		if in.ID == id {
			return in
		}
	}
	return nil
}

func (s *Sandbox) queueLocked(id string) (queue, bool) {
	for _, q := range s.queues {
		if q.id == id {
			return q, true
		}
	}
	return queue{}, false
}

// addInbound records an accepted inbound call; the caller holds s.mu.
func (s *Sandbox) addInbound(rec InboundRecord) {
	s.inbound = append(s.inbound, rec)
	if s.cfg.OnInbound != nil {
		s.cfg.OnInbound(rec)
	}
}
