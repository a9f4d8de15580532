package store

import "time"

// Conversation states.
const (
	StateQueued      = "queued"       // handed over, waiting for an agent
	StateAgentJoined = "agent_joined" // an agent accepted
	StateEnded       = "ended"        // back with the bot
	StateFailed      = "failed"       // the handover could not be delivered to Genesys
)

// End reasons, shown to the bot and in the console.
const (
	ReasonAgentEnded     = "agent_ended"
	ReasonUserEnded      = "user_ended"
	ReasonUndelivered    = "undelivered"
	ReasonInactivity     = "inactivity"      // Genesys ended an idle conversation
	ReasonTimeout        = "timeout"         // a Genesys timeout ended it
	ReasonSessionExpired = "session_expired" // the messaging session expired in Genesys
	ReasonTransferred    = "transferred"     // moved out of the queue's reach (another flow, an external party)
	ReasonError          = "error"           // an error or transport failure in Genesys
)

// Conversation is one handover of one bot session to Genesys.
type Conversation struct {
	ID                    int64
	EndpointID            int64
	SessionID             string
	UserID                string
	CustomerID            string // channel.from.id: fresh per handover, so Genesys never joins an old thread
	State                 string
	EndReason             string
	Language              string
	Skills                []string `gorm:"serializer:json"`
	Priority              int
	CustomAttributes      map[string]string `gorm:"serializer:json"`
	FirstName             string
	LastName              string
	Email                 string
	GenesysConversationID string
	AgentName             string
	CreatedAt             time.Time
	UpdatedAt             time.Time
	AgentJoinedAt         *time.Time
	AgentConnectedAt      *time.Time // Genesys's connectedTime of the agent named, when known
	FirstAgentMessageAt   *time.Time
	EndedAt               *time.Time
	// The last text message, kept by InsertMessage for the console's list.
	LastMessageAt      *time.Time
	LastMessagePreview string
	LastMessageFrom    string
}

// Open tells whether the conversation is still with Genesys.
func (c Conversation) Open() bool { return c.EndedAt == nil }

// Message directions.
const (
	FromUser   = "user"
	FromAgent  = "agent"
	FromBot    = "bot"
	FromSystem = "system"
	FromFlow   = "flow" // an Architect flow's message: Genesys, but not an agent
)

// Message kinds.
const (
	KindText       = "text"
	KindTranscript = "transcript" // the bot conversation before the handover
	KindTyping     = "typing"
	KindState      = "state"
	KindReceipt    = "receipt"     // a Genesys receipt for a message Handover sent
	KindFlowHidden = "flow_hidden" // a flow message the endpoint keeps from the user
)

// Delivery states of a message.
const (
	DeliveryPending   = "pending"
	DeliverySent      = "sent"
	DeliveryDelivered = "delivered"
	DeliveryRead      = "read"
	DeliveryFailed    = "failed"
	DeliveryRemoved   = "removed"
)

// deliveryRank orders delivery states: a receipt never moves a message back
// (a late Sent after Read), and a failure or removal is final.
var deliveryRank = map[string]int{DeliveryPending: 0, DeliverySent: 1, DeliveryDelivered: 2, DeliveryRead: 3, DeliveryFailed: 4, DeliveryRemoved: 4}

// Stronger tells whether delivery state a says more than b.
func Stronger(a, b string) bool { return deliveryRank[a] > deliveryRank[b] }

// Message is one entry of a conversation's timeline; those not from the user
// also make up the session's event stream for the bot.
type Message struct {
	ID               int64
	ConversationID   int64
	EndpointID       int64
	SessionID        string
	Direction        string
	Kind             string
	Text             string
	Data             MessageData `gorm:"serializer:json"`
	GenesysMessageID string
	Delivery         string
	Error            string
	CreatedAt        time.Time
}

// MessageData is what a message carries besides its text.
type MessageData struct {
	Attachments  []Attachment `json:"attachments,omitempty"`
	QuickReplies []QuickReply `json:"quickReplies,omitempty"`
	// Structured content a Genesys bot flow sends (docs/genesys.md §Structured).
	Cards      []Card      `json:"cards,omitempty"` // one card, or a carousel's
	DatePicker *DatePicker `json:"datePicker,omitempty"`
	ListPicker *ListPicker `json:"listPicker,omitempty"`
	State      string      `json:"state,omitempty"`
	Reason     string      `json:"reason,omitempty"`
	AgentName  string      `json:"agentName,omitempty"`
	// Receipts: the Genesys status as sent, whether more will follow, and the
	// timeline message it is about.
	ReceiptStatus string         `json:"receiptStatus,omitempty"`
	FinalReceipt  bool           `json:"finalReceipt,omitempty"`
	AboutMessage  int64          `json:"aboutMessage,omitempty"`
	Custom        map[string]any `json:"custom,omitempty"`
}

// Attachment is a file or image link in a message.
type Attachment struct {
	URL       string `json:"url"`
	MediaType string `json:"mediaType,omitempty"`
	Mime      string `json:"mime,omitempty"`
	Filename  string `json:"filename,omitempty"`
	Text      string `json:"text,omitempty"`
}

// QuickReply is one option of a structured agent message.
type QuickReply struct {
	Text    string `json:"text"`
	Payload string `json:"payload"`
	// Type is how a click answers Genesys: QuickReply ("" too), Button (a
	// card's postback) or DatePicker.
	Type string `json:"type,omitempty"`
}

// Card is a rich card of a structured message.
type Card struct {
	Title       string       `json:"title"`
	Description string       `json:"description,omitempty"`
	ImageURL    string       `json:"imageUrl,omitempty"`
	Actions     []CardAction `json:"actions,omitempty"`
}

// Card action types.
const (
	CardActionPostback = "postback" // answered with a Button response
	CardActionLink     = "link"     // opens URL
)

// CardAction is one button of a card.
type CardAction struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	Payload string `json:"payload,omitempty"`
	URL     string `json:"url,omitempty"`
}

// DatePicker asks the user for a date, or one of the offered times.
type DatePicker struct {
	Title    string           `json:"title,omitempty"`
	Subtitle string           `json:"subtitle,omitempty"`
	Minimum  *time.Time       `json:"minimum,omitempty"`
	Maximum  *time.Time       `json:"maximum,omitempty"`
	Times    []DatePickerTime `json:"times,omitempty"`
}

// DatePickerTime is one offered slot.
type DatePickerTime struct {
	Time            time.Time `json:"time"`
	DurationSeconds int       `json:"durationSeconds,omitempty"`
}

// ListPicker asks the user to choose from sections of items.
type ListPicker struct {
	Title    string              `json:"title,omitempty"`
	Sections []ListPickerSection `json:"sections"`
}

// ListPickerSection is one titled group of a list picker.
type ListPickerSection struct {
	Title             string           `json:"title,omitempty"`
	MultipleSelection bool             `json:"multipleSelection,omitempty"`
	Items             []ListPickerItem `json:"items"`
}

// ListPickerItem is one choice of a list picker.
type ListPickerItem struct {
	ID       string `json:"id,omitempty"`
	Title    string `json:"title"`
	Subtitle string `json:"subtitle,omitempty"`
}

// Outbox kinds: which Genesys call an item makes.
const (
	OutboxMessage    = "message"
	OutboxEvent      = "event"
	OutboxReceipt    = "receipt"
	OutboxStructured = "structured"
	OutboxDisconnect = "disconnect"
)

// Outbox statuses.
const (
	OutboxPending = "pending"
	OutboxSent    = "sent"
	OutboxFailed  = "failed"
)

// OutboxItem is one call to Genesys waiting to be made (or made).
type OutboxItem struct {
	ID             int64
	ConversationID int64
	EndpointID     int64
	MessageID      *int64 // the timeline message whose delivery this is
	Kind           string
	Payload        string // JSON request body
	Status         string
	Attempts       int
	NextAttemptAt  time.Time
	LeaseOwner     string
	LeaseUntil     *time.Time
	LastError      string
	CreatedAt      time.Time
	SentAt         *time.Time
}

// TableName keeps the table's name singular, as a queue's is.
func (OutboxItem) TableName() string { return "outbox" }

// APICall is one HTTP call made to Genesys.
type APICall struct {
	ID             int64
	EndpointID     int64
	ConversationID *int64
	OutboxID       *int64
	Method         string
	Path           string
	Status         int
	LatencyMS      int64 `gorm:"column:latency_ms"`
	Attempt        int
	Error          string
	CreatedAt      time.Time
}

// Webhook signature verdicts.
const (
	VerdictValid              = "valid"
	VerdictMissing            = "missing"
	VerdictMismatch           = "mismatch"
	VerdictUnknownIntegration = "unknown_integration"
	VerdictMalformed          = "malformed"
	VerdictStale              = "stale"
	VerdictTooLarge           = "too_large" // refused unread: over the body size limit
	VerdictTimeout            = "timeout"   // the body did not arrive within the read timeout
)

// Webhook processing outcomes.
const (
	OutcomeDelivered      = "delivered"
	OutcomeDuplicate      = "duplicate"
	OutcomeNoConversation = "no_conversation"
	OutcomeLogged         = "logged"
	OutcomeIgnored        = "ignored"
	OutcomeRejected       = "rejected"
)

// Webhook is one request received on the webhook URL.
type Webhook struct {
	ID               int64
	ReceivedAt       time.Time
	EndpointID       *int64
	ConversationID   *int64
	IntegrationID    string
	GenesysMessageID string
	EventType        string
	Headers          map[string]string `gorm:"serializer:json"`
	// Body is the body as received, or only its start for a webhook that
	// was refused, malformed or stale (see Truncated).
	Body string
	// BodyBytes and BodySHA256 are the whole body's length and hex SHA-256;
	// 0 and "" on rows logged before they were recorded.
	BodyBytes     int64
	BodySHA256    string `gorm:"column:body_sha256"`
	Verdict       string
	VerdictDetail string
	Status        int
	LatencyUS     int64 `gorm:"column:latency_us"`
	DedupeKey     *string
	Outcome       string
	ProcessedAt   *time.Time
	ReplayOf      *int64 // the webhook an admin replayed to log this one
	// ClockSkewMS is channel.time minus the time received, in milliseconds,
	// when it is more than a minute either way; 0 otherwise.
	ClockSkewMS int64
}

// Truncated tells whether the log kept only the start of the body.
func (w Webhook) Truncated() bool { return w.BodyBytes > int64(len(w.Body)) }
