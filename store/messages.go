package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

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
	KindQueue      = "queue" // the queue as the waiting user sees it: Data.Queue
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
	// Queue is a queue update (KindQueue).
	Queue *QueueUpdate `json:"queue,omitempty"`
}

// QueueUpdate is what a waiting user hears about the queue.
type QueueUpdate struct {
	// EstimatedWaitSeconds is Genesys's estimate; nil when it has none.
	EstimatedWaitSeconds *int `json:"estimatedWaitSeconds"`
	Waiting              int  `json:"waiting"` // conversations waiting in the queue
	// WaitedSeconds is how long this handover has waited so far.
	WaitedSeconds int `json:"waitedSeconds"`
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

// InsertMessage adds an entry to a conversation's timeline. A text message
// also becomes the conversation's last message (for the console's list), and
// a session event is queued for the endpoint's bot webhook, in the same
// transaction.
func (s *Store) InsertMessage(ctx context.Context, m *Message) error {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = s.now()
	}
	write := func(tx *gorm.DB) error {
		if err := insertMessageRow(ctx, tx, m); err != nil {
			return err
		}
		if err := queueBotDelivery(ctx, tx, m); err != nil {
			return err
		}
		return updateLastMessage(ctx, tx, m)
	}
	var err error
	if s.inTx {
		// The caller's transaction (or batch savepoint) undoes these writes
		// together when one fails: a savepoint of their own would be one
		// more statement on the hot path and nothing more.
		err = write(s.db.WithContext(ctx))
	} else {
		err = s.db.WithContext(ctx).Transaction(write)
	}
	if err != nil {
		return fmt.Errorf("insert message: %w", translate(err))
	}
	return nil
}

// insertMessageSQL is the timeline's insert, written out: the bot's and the
// agents' every message makes one, in the committer (rawsql.go).
// TestATimelineMessageKeepsEveryField guards its columns against the struct.
const insertMessageSQL = `INSERT INTO messages (conversation_id, endpoint_id, session_id, direction, kind, text, data, genesys_message_id,
	delivery, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`

func insertMessageRow(ctx context.Context, db *gorm.DB, m *Message) error {
	data, err := json.Marshal(m.Data)
	if err != nil {
		return err
	}
	return insertOne(ctx, db, &m.ID, insertMessageSQL, m.ConversationID, m.EndpointID, m.SessionID, m.Direction, m.Kind,
		m.Text, string(data), m.GenesysMessageID, m.Delivery, m.Error, m.CreatedAt)
}

// SessionEventsAfter returns what the session's event stream shows after the
// event id afterID, oldest first: everything but what the user said and the
// transcript the bot sent along with the handover.
func (s *Store) SessionEventsAfter(ctx context.Context, endpointID int64, sessionID string, afterID int64, limit int) ([]Message, error) {
	var out []Message
	err := s.db.WithContext(ctx).
		// The bot hears everything but its own side, what the endpoint keeps
		// from the user, and receipts other than a failure.
		Where("endpoint_id = ? AND session_id = ? AND id > ? AND direction <> ? AND kind NOT IN ? AND (kind <> ? OR delivery = ?)",
			endpointID, sessionID, afterID, FromUser, []string{KindTranscript, KindFlowHidden}, KindReceipt, DeliveryFailed).
		Order("id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("read events of session %q: %w", sessionID, err)
	}
	return out, nil
}

// ConversationMessages returns a conversation's timeline, oldest first.
func (s *Store) ConversationMessages(ctx context.Context, conversationID int64) ([]Message, error) {
	var out []Message
	if err := s.db.WithContext(ctx).Where("conversation_id = ?", conversationID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("read messages of conversation %d: %w", conversationID, err)
	}
	return out, nil
}

// SetMessageDelivery records how far a message got, and the Genesys id it got.
func (s *Store) SetMessageDelivery(ctx context.Context, id int64, delivery, genesysID, errText string) error {
	if err := s.batched(ctx, func(db *gorm.DB) error { return setDelivery(db, id, delivery, genesysID, errText) }); err != nil {
		return fmt.Errorf("set delivery of message %d: %w", id, err)
	}
	return nil
}

// setDelivery writes a message's delivery state: how far it got, what went
// wrong, and the id Genesys gave it ("" keeps the id it has). Written out
// (rawsql.go): the outbox's sent mark makes it for every message relayed.
func setDelivery(db *gorm.DB, id int64, delivery, genesysID, errText string) error {
	return execSQL(db.Statement.Context, db, "UPDATE messages SET delivery = ?, error = ?, genesys_message_id = CASE WHEN ? = '' THEN genesys_message_id ELSE ? END WHERE id = ?",
		delivery, errText, genesysID, genesysID, id)
}

// ApplyReceipt applies a Genesys receipt to the message Handover sent that
// it names (the user's messages and the bot transcript): the delivery moves
// only forward (see Stronger), with the failure reason when it failed. found
// is false when no message carries that Genesys id yet.
func (s *Store) ApplyReceipt(ctx context.Context, conversationID int64, genesysID, delivery, errText string) (about Message, found bool, err error) {
	err = s.db.WithContext(ctx).
		Where("conversation_id = ? AND genesys_message_id = ? AND direction IN ?", conversationID, genesysID, []string{FromUser, FromBot}).
		Order("id").Take(&about).Error
	if err != nil {
		if err = translate(err); err == ErrNotFound {
			return Message{}, false, nil
		}
		return Message{}, false, fmt.Errorf("find message of receipt %s: %w", genesysID, err)
	}
	if !Stronger(delivery, about.Delivery) {
		return about, true, nil
	}
	// Conditional on the state read, so that a concurrent receipt cannot be undone.
	res := s.db.WithContext(ctx).Model(&Message{}).Where("id = ? AND delivery = ?", about.ID, about.Delivery).
		Updates(map[string]any{"delivery": delivery, "error": errText})
	if res.Error != nil {
		return Message{}, false, fmt.Errorf("apply receipt for %s: %w", genesysID, res.Error)
	}
	if res.RowsAffected == 1 {
		about.Delivery, about.Error = delivery, errText
	}
	return about, true, nil
}

// previewLength is how many characters of the last message the list shows.
const previewLength = 140

// messagePreview is a message's text on one line, cut to previewLength.
func messagePreview(m *Message) string {
	text := strings.Join(strings.Fields(m.Text), " ")
	if text == "" && len(m.Data.Attachments) > 0 {
		text = "[attachment]"
	}
	if utf8.RuneCountInString(text) > previewLength {
		runes := []rune(text)
		text = string(runes[:previewLength-1]) + "…"
	}
	return text
}

// updateLastMessage makes a text message its conversation's last message,
// unless a later one is already recorded.
func updateLastMessage(ctx context.Context, db *gorm.DB, m *Message) error {
	if m.Kind != KindText && m.Kind != KindTranscript {
		return nil
	}
	// The inactivity timer counts from the last word of either side.
	exchange := m.Kind == KindText && (m.Direction == FromUser || m.Direction == FromAgent)
	preview := messagePreview(m)
	// One statement for both, each column moving only forwards: this runs
	// for every message, in the committer's one writer (docs/performance.md),
	// so it is written out (rawsql.go).
	var (
		set  []string
		args []any
	)
	if exchange {
		set = append(set, "last_exchange_at = CASE WHEN last_exchange_at IS NULL OR last_exchange_at < ? THEN ? ELSE last_exchange_at END")
		args = append(args, m.CreatedAt, m.CreatedAt)
	}
	if preview != "" {
		const newer = "CASE WHEN last_message_at IS NULL OR last_message_at <= ? THEN ? ELSE "
		set = append(set, "last_message_at = "+newer+"last_message_at END", "last_message_preview = "+newer+"last_message_preview END",
			"last_message_from = "+newer+"last_message_from END")
		args = append(args, m.CreatedAt, m.CreatedAt, m.CreatedAt, preview, m.CreatedAt, m.Direction)
	}
	if len(set) == 0 {
		return nil
	}
	return execSQL(ctx, db, "UPDATE conversations SET "+strings.Join(set, ", ")+" WHERE id = ?", append(args, m.ConversationID)...)
}

// textKinds are the timeline entries that carry what somebody wrote.
var textKinds = []string{KindText, KindTranscript, KindFlowHidden}

// ForgetDeliveredText keeps no text of a call Genesys accepted, for an
// endpoint that does not collect conversations (docs/privacy.md): the
// outbox item's body and the text, attachments and replies of the timeline
// entry it delivered go; its kind, times and delivery state stay.
func (s *Store) ForgetDeliveredText(ctx context.Context, item OutboxItem) error {
	return s.InTx(ctx, func(tx *Store) error {
		db := tx.db.WithContext(ctx)
		if err := db.Exec("UPDATE outbox SET payload = '{}' WHERE id = ?", item.ID).Error; err != nil {
			return fmt.Errorf("forget the text of outbox item %d: %w", item.ID, err)
		}
		if item.MessageID == nil {
			return nil
		}
		if err := db.Exec("UPDATE messages SET text = '', data = '{}' WHERE id = ? AND kind IN ?", *item.MessageID, textKinds).Error; err != nil {
			return fmt.Errorf("forget the text of message %d: %w", *item.MessageID, err)
		}
		return tx.forgetPreview(ctx, item.ConversationID)
	})
}

// ForgetConversationText removes the text of every timeline entry of a
// conversation before entry beforeID (the entry that ended it: what follows
// is the goodbye the bot has yet to read), for an endpoint that does not
// collect conversations.
func (s *Store) ForgetConversationText(ctx context.Context, conversationID, beforeID int64) error {
	// An entry still on its way to the bot webhook keeps its text until it
	// is delivered or given up on (ForgetBotDeliveredText).
	err := s.db.WithContext(ctx).Exec(`UPDATE messages SET text = '', data = '{}' WHERE conversation_id = ? AND id < ? AND kind IN ?
		AND NOT EXISTS (SELECT 1 FROM bot_deliveries d WHERE d.message_id = messages.id AND d.status = ?)`,
		conversationID, beforeID, textKinds, BotDeliveryPending).Error
	if err != nil {
		return fmt.Errorf("forget the texts of conversation %d: %w", conversationID, err)
	}
	return s.forgetPreview(ctx, conversationID)
}

// ForgetBotDeliveredText removes the text of a timeline entry the bot
// webhook is done with, once its conversation ended, for an endpoint that
// does not collect conversations: what ForgetConversationText left for it.
func (s *Store) ForgetBotDeliveredText(ctx context.Context, messageID int64) error {
	err := s.db.WithContext(ctx).Exec(`UPDATE messages SET text = '', data = '{}' WHERE id = ? AND kind IN ?
		AND EXISTS (SELECT 1 FROM conversations c WHERE c.id = messages.conversation_id AND c.ended_at IS NOT NULL)`, messageID, textKinds).Error
	if err != nil {
		return fmt.Errorf("forget the text of message %d: %w", messageID, err)
	}
	return nil
}

func (s *Store) forgetPreview(ctx context.Context, conversationID int64) error {
	if err := s.db.WithContext(ctx).Exec("UPDATE conversations SET last_message_preview = '' WHERE id = ?", conversationID).Error; err != nil {
		return fmt.Errorf("forget the last message of conversation %d: %w", conversationID, err)
	}
	return nil
}

// MessageByID returns one timeline entry.
func (s *Store) MessageByID(ctx context.Context, id int64) (Message, error) {
	var m Message
	if err := s.db.WithContext(ctx).Take(&m, id).Error; err != nil {
		return Message{}, fmt.Errorf("find message %d: %w", id, translate(err))
	}
	return m, nil
}
