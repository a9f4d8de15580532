package genesys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Wire values of the Open Messaging payloads (docs/genesys.md §Inbound, §Webhook). Genesys
// compares some of them case-sensitively, so send exactly these spellings.
const (
	IDTypeOpaque = "Opaque" // an id with no meaning to Genesys: a session key
	IDTypeEmail  = "Email"
	IDTypePhone  = "Phone"

	MessageTypeText       = "Text"
	MessageTypeStructured = "Structured"
	MessageTypeEvent      = "Event"
	MessageTypeReceipt    = "Receipt"

	EventTypeTyping = "Typing"
	TypingOn        = "On" // the only typing type; there is no "Off" (docs/genesys.md §Webhook)

	// Receipt statuses (docs/genesys.md §Receipts). A webhook receipt
	// (OpenNormalizedMessage.status) may carry any of them; an inbound
	// receipt (OpenInboundNormalizedReceipt) may not carry ReceiptRead, and
	// Genesys documents only Delivered and Failed for it.
	ReceiptSent      = "Sent"
	ReceiptDelivered = "Delivered"
	ReceiptRead      = "Read"
	ReceiptFailed    = "Failed"
	ReceiptPublished = "Published"
	ReceiptRemoved   = "Removed"

	// Reason codes of a Failed receipt (ConversationReason.code).
	ReasonMessageExpired            = "MessageExpired"
	ReasonRateLimited               = "RateLimited"
	ReasonMessageNotAllowed         = "MessageNotAllowed"
	ReasonGeneralError              = "GeneralError"
	ReasonUnsupportedMessage        = "UnsupportedMessage"
	ReasonUnknownMessage            = "UnknownMessage"
	ReasonInvalidMessageStructure   = "InvalidMessageStructure"
	ReasonInvalidDestination        = "InvalidDestination"
	ReasonServerError               = "ServerError"
	ReasonMediaTypeNotAllowed       = "MediaTypeNotAllowed"
	ReasonInvalidMediaContentLength = "InvalidMediaContentLength"
	ReasonRecipientOptedOut         = "RecipientOptedOut"
	ReasonDataFiltered              = "DataFiltered"

	// Who sent an outbound message (originatingEntity, docs/genesys.md
	// §RealGenesys): a person, or a bot or Architect flow.
	OriginatingEntityHuman = "Human"
	OriginatingEntityBot   = "Bot"

	MediaTypeImage = "Image"
	MediaTypeVideo = "Video"
	MediaTypeAudio = "Audio"
	MediaTypeFile  = "File"
	MediaTypeLink  = "Link"

	// Button types of a button response: what the customer clicked. The
	// inbound structured response (ContentButtonResponse) takes only the
	// first three; ListPicker and Form appear in webhook content
	// (ConversationContentButtonResponse).
	ButtonTypeButton     = "Button"
	ButtonTypeQuickReply = "QuickReply"
	ButtonTypeDatePicker = "DatePicker"
	ButtonTypeListPicker = "ListPicker"
	ButtonTypeForm       = "Form"

	DirectionInbound  = "Inbound"
	DirectionOutbound = "Outbound"

	ParticipantStateDisconnected = "disconnected"
)

// TimeLayout is how Genesys writes times: ISO-8601 in UTC with milliseconds,
// for example 2025-01-15T10:21:33.123Z.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime formats t the way Genesys writes times, in UTC with milliseconds.
func FormatTime(t time.Time) string {
	return t.UTC().Format(TimeLayout)
}

// Timestamp is a time on the wire. It marshals as [TimeLayout] and reads any
// RFC 3339 time, so that a webhook whose time has more, fewer or no
// fractional digits, or an offset instead of Z, is not refused for it.
// The zero Timestamp is left out of JSON by `omitzero`.
type Timestamp struct {
	time.Time
}

// TimestampOf wraps t.
func TimestampOf(t time.Time) Timestamp { return Timestamp{t} }

// MarshalJSON writes the time as TimeLayout in UTC.
func (ts Timestamp) MarshalJSON() ([]byte, error) {
	u := ts.UTC()
	if y := u.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("timestamp %v: year outside 0–9999", ts.Time)
	}
	return []byte(`"` + u.Format(TimeLayout) + `"`), nil
}

// UnmarshalJSON reads an RFC 3339 time; a time without a zone is taken as
// UTC, and null or "" give the zero Timestamp.
func (ts *Timestamp) UnmarshalJSON(data []byte) error {
	if bytes.Equal(data, []byte("null")) {
		*ts = Timestamp{}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	if s == "" {
		*ts = Timestamp{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			*ts = Timestamp{t.UTC()}
			return nil
		}
	}
	return fmt.Errorf("timestamp %q is not an ISO-8601 date-time", s)
}

// Recipient is one side of a message: channel.from or channel.to
// (OpenMessagingFromRecipient, OpenMessagingToRecipient). ID and IDType are
// required in channel.from; in channel.to only ID is.
type Recipient struct {
	ID        string `json:"id"`
	IDType    string `json:"idType,omitempty"`
	Nickname  string `json:"nickname,omitempty"`
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	Email     string `json:"email,omitempty"`
	Image     string `json:"image,omitempty"`
}

// ChannelMetadata is channel.metadata of an inbound message. Genesys turns
// CustomAttributes into participant data on the first message, which the
// Architect inbound flow reads to route (docs/genesys.md §Inbound).
type ChannelMetadata struct {
	CustomAttributes map[string]string `json:"customAttributes,omitempty"`
}

// Attachment is one media item (OpenContentAttachment inbound,
// ConversationContentAttachment outbound). Inbound, MediaType, URL and Mime
// are required.
type Attachment struct {
	ID               string `json:"id,omitempty"`
	MediaType        string `json:"mediaType"`
	URL              string `json:"url,omitempty"`
	Mime             string `json:"mime,omitempty"`
	Filename         string `json:"filename,omitempty"`
	Text             string `json:"text,omitempty"` // caption
	SHA256           string `json:"sha256,omitempty"`
	ContentSizeBytes int64  `json:"contentSizeBytes,omitempty"`
}

// InboundMessage is the body of POST …/{integrationId}/inbound/open/message
// (OpenInboundNormalizedMessage): a customer message to the agent. It must
// carry Text, Content or both.
type InboundMessage struct {
	Channel  InboundChannel    `json:"channel"`
	Text     string            `json:"text,omitempty"`
	Content  []InboundContent  `json:"content,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"` // message metadata; not participant data
}

// InboundChannel is channel of an inbound message or structured response
// (OpenInboundMessageMessagingChannel). There is no channel.to inbound: the
// integration id in the path says where the message goes.
type InboundChannel struct {
	MessageID string           `json:"messageId,omitempty"` // our own id, for correlation
	From      Recipient        `json:"from"`
	Time      Timestamp        `json:"time,omitzero"`
	Metadata  *ChannelMetadata `json:"metadata,omitempty"`
}

// InboundContent is one content item of an inbound message. Unlike outbound
// content it has no contentType (docs/genesys.md §Inbound).
type InboundContent struct {
	Attachment *Attachment `json:"attachment,omitempty"`
}

// InboundEvent is the body of POST …/inbound/open/event
// (OpenInboundNormalizedEvent): the customer is typing.
type InboundEvent struct {
	Channel InboundEventChannel `json:"channel"`
	Events  []Event             `json:"events"`
}

// InboundEventChannel is channel of an inbound event (OpenInboundMessagingChannel).
type InboundEventChannel struct {
	From Recipient `json:"from"`
	Time Timestamp `json:"time,omitzero"`
}

// Event is one event element. Inbound it carries only EventType; outbound
// (agent typing) it carries Typing too.
type Event struct {
	EventType string  `json:"eventType"`
	Typing    *Typing `json:"typing,omitempty"`
}

// Typing says how long to show the typing indicator.
type Typing struct {
	Type     string `json:"type"`
	Duration int64  `json:"duration,omitempty"` // milliseconds
}

// InboundReceipt is the body of POST …/inbound/open/receipt
// (OpenInboundNormalizedReceipt): whether an agent message reached the
// customer. ID is the Genesys message id from the webhook's top-level id.
type InboundReceipt struct {
	ID             string         `json:"id"`
	Channel        ReceiptChannel `json:"channel"`
	Status         string         `json:"status"` // ReceiptDelivered or ReceiptFailed
	Reasons        []Reason       `json:"reasons,omitempty"`
	IsFinalReceipt bool           `json:"isFinalReceipt"`
}

// ReceiptChannel is channel of an inbound receipt
// (OpenInboundMessagingReceiptChannel); To is the customer.
type ReceiptChannel struct {
	To   Recipient `json:"to"`
	Time Timestamp `json:"time,omitzero"`
}

// Reason says why a message failed (ConversationReason); Message is required.
type Reason struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// InboundStructuredResponse is the body of POST …/inbound/open/structured/response
// (OpenInboundStructuredResponseMessage): the customer clicked a quick reply
// or button of the structured message OriginatingMessageID.
type InboundStructuredResponse struct {
	Channel              InboundChannel `json:"channel"`
	ButtonResponse       ButtonResponse `json:"buttonResponse"`
	OriginatingMessageID string         `json:"originatingMessageId"`
}

// ButtonResponse is the clicked button: ContentButtonResponse in an inbound
// structured response, ConversationContentButtonResponse in webhook content
// (docs/genesys.md §Structured). ID is deprecated and only inbound;
// OriginatingMessageID is only in webhook content, since the inbound body
// carries it beside the button.
type ButtonResponse struct {
	ID                   string `json:"id,omitempty"`
	OriginatingMessageID string `json:"originatingMessageId,omitempty"`
	Type                 string `json:"type"` // ButtonTypeButton, …QuickReply, …DatePicker (inbound); also …ListPicker, …Form
	Text                 string `json:"text"`
	Payload              string `json:"payload"`
}

// Channel is channel of messages Genesys produces: webhook bodies and
// answers to inbound calls (OpenMessagingChannel).
type Channel struct {
	ID        string           `json:"id,omitempty"` // the integration id
	Platform  string           `json:"platform,omitempty"`
	Type      string           `json:"type,omitempty"`
	MessageID string           `json:"messageId,omitempty"`
	To        Recipient        `json:"to"`
	From      Recipient        `json:"from"`
	Time      Timestamp        `json:"time,omitzero"`
	Metadata  *ChannelMetadata `json:"metadata,omitempty"`
}

// MessageResponse is what Genesys answers to an inbound call: an
// OpenMessageNormalizedMessage for a message (with ConversationID when it was
// prefetched), and the event, receipt and structured-response variants for
// the others. Fields that do not apply stay empty.
type MessageResponse struct {
	ID             string            `json:"id"`
	Channel        Channel           `json:"channel"`
	Type           string            `json:"type"`
	Text           string            `json:"text,omitempty"`
	Content        []Content         `json:"content,omitempty"`
	Events         []Event           `json:"events,omitempty"`
	Status         string            `json:"status,omitempty"`
	Reasons        []Reason          `json:"reasons,omitempty"`
	IsFinalReceipt bool              `json:"isFinalReceipt,omitempty"`
	Direction      string            `json:"direction,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	ConversationID string            `json:"conversationId,omitempty"`
}

// Webhook is the body Genesys POSTs to the integration's webhook URL
// ("Outbound Open NormalizedMessage", docs/genesys.md
// §Webhook). Route the reply by Channel.To.ID, which is the Channel.From.ID
// we sent inbound; answer receipts and button clicks with ID. A receipt's ID
// is the id of the message it is about, so several receipts can share one
// (docs/genesys.md §Receipts). Fields beyond these are ignored, as Genesys
// adds fields over time.
type Webhook struct {
	ID                string            `json:"id"`
	Channel           Channel           `json:"channel"`
	Type              string            `json:"type"` // MessageTypeText, …Structured, …Event or …Receipt
	Text              string            `json:"text,omitempty"`
	Content           []Content         `json:"content,omitempty"`
	Events            []Event           `json:"events,omitempty"`
	Status            string            `json:"status,omitempty"`
	Reasons           []Reason          `json:"reasons,omitempty"`
	IsFinalReceipt    bool              `json:"isFinalReceipt,omitempty"`
	Direction         string            `json:"direction,omitempty"`
	OriginatingEntity string            `json:"originatingEntity,omitempty"` // OriginatingEntityHuman or …Bot (docs/genesys.md §RealGenesys)
	Metadata          map[string]string `json:"metadata,omitempty"`
}

// EntityRef points at another Genesys entity (DomainEntityRef).
type EntityRef struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	SelfURI string `json:"selfUri,omitempty"`
}

// Integration is an Open Messaging integration (OpenIntegration); the relay
// calls it a deployment. The signature secret is write-only and never read.
type Integration struct {
	ID                             string            `json:"id"`
	Name                           string            `json:"name"`
	OutboundNotificationWebhookURL string            `json:"outboundNotificationWebhookUrl,omitempty"`
	WebhookHeaders                 map[string]string `json:"webhookHeaders,omitempty"`
	Status                         string            `json:"status,omitempty"`
	CreateStatus                   string            `json:"createStatus,omitempty"` // Initiated, Completed or Error
	SupportedContent               *EntityRef        `json:"supportedContent,omitempty"`
	MessagingSetting               *EntityRef        `json:"messagingSetting,omitempty"`
	Recipient                      *EntityRef        `json:"recipient,omitempty"`
	SelfURI                        string            `json:"selfUri,omitempty"`
}

// IntegrationListing is one page of integrations (OpenIntegrationEntityListing).
type IntegrationListing struct {
	Entities    []Integration `json:"entities"`
	PageSize    int           `json:"pageSize"`
	PageNumber  int           `json:"pageNumber"`
	PageCount   int           `json:"pageCount"`
	Total       int64         `json:"total"`
	FirstURI    string        `json:"firstUri,omitempty"`
	NextURI     string        `json:"nextUri,omitempty"`
	PreviousURI string        `json:"previousUri,omitempty"`
	LastURI     string        `json:"lastUri,omitempty"`
	SelfURI     string        `json:"selfUri,omitempty"`
}

// ErrorBody is how the Platform API describes a failure (docs/genesys.md §Inbound).
// Support asks for ContextID.
type ErrorBody struct {
	Message           string            `json:"message,omitempty"`
	Code              string            `json:"code,omitempty"`
	Status            int               `json:"status,omitempty"`
	ContextID         string            `json:"contextId,omitempty"`
	EntityID          string            `json:"entityId,omitempty"`
	EntityName        string            `json:"entityName,omitempty"`
	MessageWithParams string            `json:"messageWithParams,omitempty"`
	MessageParams     map[string]string `json:"messageParams,omitempty"`
	Details           []ErrorDetail     `json:"details,omitempty"`
	Errors            []ErrorBody       `json:"errors,omitempty"`
	Limit             *ErrorLimit       `json:"limit,omitempty"`
}

// ErrorDetail is one entry of ErrorBody.Details (Detail).
type ErrorDetail struct {
	ErrorCode  string `json:"errorCode,omitempty"`
	FieldName  string `json:"fieldName,omitempty"`
	EntityID   string `json:"entityId,omitempty"`
	EntityName string `json:"entityName,omitempty"`
}

// ErrorLimit names the limit a 429 hit (Limit).
type ErrorLimit struct {
	Key       string `json:"key,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Value     int64  `json:"value,omitempty"`
}

// MessageConversation is GET /api/v2/conversations/messages/{conversationId}
// (docs/genesys.md §Inbound): who is in the conversation and in which state.
type MessageConversation struct {
	ID           string        `json:"id"`
	Name         string        `json:"name,omitempty"`
	Participants []Participant `json:"participants"`
	SelfURI      string        `json:"selfUri,omitempty"`
}

// Participant is one participant of a message conversation
// (MessageMediaParticipant). Purpose is customer, agent, acd, …; an agent's
// identity is User.ID.
type Participant struct {
	ID             string            `json:"id"`
	Name           string            `json:"name,omitempty"`
	Purpose        string            `json:"purpose,omitempty"`
	State          string            `json:"state,omitempty"`
	Direction      string            `json:"direction,omitempty"`
	DisconnectType string            `json:"disconnectType,omitempty"`
	StartTime      Timestamp         `json:"startTime,omitzero"`
	ConnectedTime  Timestamp         `json:"connectedTime,omitzero"`
	EndTime        Timestamp         `json:"endTime,omitzero"`
	StartAcwTime   Timestamp         `json:"startAcwTime,omitzero"`
	EndAcwTime     Timestamp         `json:"endAcwTime,omitzero"`
	WrapupRequired bool              `json:"wrapupRequired,omitempty"`
	User           *EntityRef        `json:"user,omitempty"`
	Queue          *EntityRef        `json:"queue,omitempty"`
	Attributes     map[string]string `json:"attributes,omitempty"`
	Type           string            `json:"type,omitempty"` // "open" for Open Messaging
}

// participantStateRequest is the body of PATCH …/participants/{id}
// (MediaParticipantRequest).
type participantStateRequest struct {
	State string `json:"state"`
}
