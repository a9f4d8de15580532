package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// CreateConversation inserts a new handover. ErrConflict when the session has
// an open handover already.
func (s *Store) CreateConversation(ctx context.Context, c *Conversation) error {
	if c.Skills == nil {
		c.Skills = []string{}
	}
	if c.CustomAttributes == nil {
		c.CustomAttributes = map[string]string{}
	}
	if err := s.db.WithContext(ctx).Create(c).Error; err != nil {
		return fmt.Errorf("create conversation for session %q: %w", c.SessionID, translate(err))
	}
	return nil
}

// ConversationByID returns one conversation.
func (s *Store) ConversationByID(ctx context.Context, id int64) (Conversation, error) {
	return s.conversationWhere(ctx, "id = ?", id)
}

// OpenConversation returns the session's handover that has not ended.
func (s *Store) OpenConversation(ctx context.Context, endpointID int64, sessionID string) (Conversation, error) {
	return s.conversationWhere(ctx, "endpoint_id = ? AND session_id = ? AND ended_at IS NULL", endpointID, sessionID)
}

// LatestConversation returns the session's newest handover, open or ended.
func (s *Store) LatestConversation(ctx context.Context, endpointID int64, sessionID string) (Conversation, error) {
	var c Conversation
	err := s.db.WithContext(ctx).Where("endpoint_id = ? AND session_id = ?", endpointID, sessionID).Order("id DESC").Take(&c).Error
	if err != nil {
		return Conversation{}, fmt.Errorf("find conversation of session %q: %w", sessionID, translate(err))
	}
	return c, nil
}

// ConversationByCustomerID finds a conversation by the channel.from.id sent to
// Genesys, which webhooks carry back as channel.to.id.
func (s *Store) ConversationByCustomerID(ctx context.Context, customerID string) (Conversation, error) {
	return s.conversationWhere(ctx, "customer_id = ?", customerID)
}

// ConversationByGenesysID finds a conversation by its Genesys conversation id.
func (s *Store) ConversationByGenesysID(ctx context.Context, genesysID string) (Conversation, error) {
	return s.conversationWhere(ctx, "genesys_conversation_id = ? AND genesys_conversation_id <> ''", genesysID)
}

// conversationWhere reads one conversation. Inside a transaction it locks
// the row on PostgreSQL, so that what the transaction then writes (a message
// queued for an open handover, a webhook applied to it) cannot interleave with
// another instance ending it: a read-then-write on the same row is one step.
// SQLite has a single writer connection, which serialises transactions anyway.
func (s *Store) conversationWhere(ctx context.Context, query string, args ...any) (Conversation, error) {
	var c Conversation
	q := s.db.WithContext(ctx).Where(query, args...)
	if s.inTx && s.dialect == Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Take(&c).Error; err != nil {
		return Conversation{}, fmt.Errorf("find conversation: %w", translate(err))
	}
	return c, nil
}

// OpenConversationsWithGenesysID lists open handovers that Genesys has
// confirmed, oldest first, for end detection by polling.
func (s *Store) OpenConversationsWithGenesysID(ctx context.Context, limit int) ([]Conversation, error) {
	var out []Conversation
	err := s.db.WithContext(ctx).Where("ended_at IS NULL AND genesys_conversation_id <> ''").Order("id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list open conversations: %w", err)
	}
	return out, nil
}

// SetGenesysConversationID records the id Genesys gave the conversation.
func (s *Store) SetGenesysConversationID(ctx context.Context, id int64, genesysID string) error {
	err := s.db.WithContext(ctx).Model(&Conversation{}).Where("id = ? AND genesys_conversation_id = ''", id).
		Updates(map[string]any{"genesys_conversation_id": genesysID, "updated_at": s.now()}).Error
	if err != nil {
		return fmt.Errorf("set Genesys id of conversation %d: %w", id, err)
	}
	return nil
}

// MarkAgentJoined moves a queued conversation to agent_joined. It reports
// whether this call made the change, so the event is announced once.
func (s *Store) MarkAgentJoined(ctx context.Context, id int64, agentName string, at time.Time, connectedAt *time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Conversation{}).Where("id = ? AND state = ? AND ended_at IS NULL", id, StateQueued).
		Updates(map[string]any{"state": StateAgentJoined, "agent_name": agentName, "agent_joined_at": at, "agent_connected_at": connectedAt, "updated_at": s.now()})
	if res.Error != nil {
		return false, fmt.Errorf("mark agent joined on conversation %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// SetConnectedAgent records the agent now connected and when Genesys says it
// connected, learnt from participant data, which is more reliable than a
// webhook's nickname.
func (s *Store) SetConnectedAgent(ctx context.Context, id int64, agentName string, connectedAt *time.Time) error {
	err := s.db.WithContext(ctx).Model(&Conversation{}).Where("id = ?", id).
		Updates(map[string]any{"agent_name": agentName, "agent_connected_at": connectedAt, "updated_at": s.now()}).Error
	if err != nil {
		return fmt.Errorf("set agent name on conversation %d: %w", id, err)
	}
	return nil
}

// MarkFirstAgentMessage records when the agent first answered, once. It
// reports whether this call recorded it.
func (s *Store) MarkFirstAgentMessage(ctx context.Context, id int64, at time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Conversation{}).Where("id = ? AND first_agent_message_at IS NULL", id).
		Updates(map[string]any{"first_agent_message_at": at, "updated_at": s.now()})
	if res.Error != nil {
		return false, fmt.Errorf("mark first agent message on conversation %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// EndConversation closes an open conversation with a final state and reason.
// It reports whether this call closed it, so the end is announced once.
func (s *Store) EndConversation(ctx context.Context, id int64, state, reason string, at time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Conversation{}).Where("id = ? AND ended_at IS NULL", id).
		Updates(map[string]any{"state": state, "end_reason": reason, "ended_at": at, "updated_at": s.now()})
	if res.Error != nil {
		return false, fmt.Errorf("end conversation %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// InsertMessage adds an entry to a conversation's timeline. A text message
// also becomes the conversation's last message (for the console's list), in
// the same transaction.
func (s *Store) InsertMessage(ctx context.Context, m *Message) error {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = s.now()
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(m).Error; err != nil {
			return err
		}
		return updateLastMessage(tx, m)
	})
	if err != nil {
		return fmt.Errorf("insert message: %w", translate(err))
	}
	return nil
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
	updates := map[string]any{"delivery": delivery, "error": errText}
	if genesysID != "" {
		updates["genesys_message_id"] = genesysID
	}
	if err := s.db.WithContext(ctx).Model(&Message{}).Where("id = ?", id).Updates(updates).Error; err != nil {
		return fmt.Errorf("set delivery of message %d: %w", id, err)
	}
	return nil
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
