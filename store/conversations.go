package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Conversation states.
const (
	StateQueued      = "queued"       // handed over, waiting for an agent
	StateAgentJoined = "agent_joined" // an agent accepted
	StateEnded       = "ended"        // back with the bot
	StateFailed      = "failed"       // the handover could not be delivered to Genesys
	// StateWithBot is a Genesys Bot Connector session while its bot talks
	// with the customer inside a Genesys flow (no handover yet).
	StateWithBot = "with_bot"
)

// End reasons, shown to the bot and in the console.
const (
	ReasonAgentEnded     = "agent_ended"
	ReasonUserEnded      = "user_ended"
	ReasonUndelivered    = "undelivered"
	ReasonInactivity     = "inactivity"      // Genesys, or the endpoint's inactivity timeout, ended an idle conversation
	ReasonTimeout        = "timeout"         // a Genesys timeout ended it
	ReasonSessionExpired = "session_expired" // the messaging session expired in Genesys
	ReasonTransferred    = "transferred"     // moved out of the queue's reach (another flow, an external party)
	ReasonError          = "error"           // an error or transport failure in Genesys
	ReasonQueueTimeout   = "queue_timeout"   // no agent took the handover within the endpoint's queue timeout
	ReasonBotComplete    = "bot_complete"    // a Bot Connector turn answered Complete: the flow took over
	ReasonBotFailed      = "bot_failed"      // a Bot Connector turn answered Failed: the bot gave no answer
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
	// NextQueueUpdateAt is when the waiting session's next queue event is
	// due; LastExchangeAt when the user or the agent last wrote.
	NextQueueUpdateAt *time.Time
	LastExchangeAt    *time.Time
}

// Open tells whether the conversation is still with Genesys.
func (c Conversation) Open() bool { return c.EndedAt == nil }

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
	q := "SELECT " + conversationColumns + " FROM conversations WHERE " + query + " LIMIT 1"
	if s.inTx && s.dialect == Postgres {
		q += " FOR UPDATE"
	}
	c, err := queryOne(ctx, s.db, scanConversation, q, args...)
	if err != nil {
		return Conversation{}, fmt.Errorf("find conversation: %w", err)
	}
	return c, nil
}

// conversationColumns and scanConversation read a conversation without
// gorm's builder and reflection (rawsql.go): the relay reads one at least
// twice for every message it relays, and gorm's read took twice as long
// (BenchmarkConversationReads, docs/performance.md).
// TestAConversationKeepsEveryField guards the list against the struct.
const conversationColumns = `id, endpoint_id, session_id, user_id, customer_id, state, end_reason, language, skills, priority,
	custom_attributes, first_name, last_name, email, genesys_conversation_id, agent_name, created_at, updated_at,
	agent_joined_at, agent_connected_at, first_agent_message_at, ended_at, last_message_at, last_message_preview,
	last_message_from, next_queue_update_at, last_exchange_at`

func scanConversation(rows *sql.Rows) (Conversation, error) {
	var (
		c                        Conversation
		skills, customAttributes string
	)
	err := rows.Scan(&c.ID, &c.EndpointID, &c.SessionID, &c.UserID, &c.CustomerID, &c.State, &c.EndReason, &c.Language, &skills, &c.Priority,
		&customAttributes, &c.FirstName, &c.LastName, &c.Email, &c.GenesysConversationID, &c.AgentName, &c.CreatedAt, &c.UpdatedAt,
		&c.AgentJoinedAt, &c.AgentConnectedAt, &c.FirstAgentMessageAt, &c.EndedAt, &c.LastMessageAt, &c.LastMessagePreview,
		&c.LastMessageFrom, &c.NextQueueUpdateAt, &c.LastExchangeAt)
	if err != nil {
		return Conversation{}, err
	}
	// As gorm's JSON serializer reads them: an empty text is the zero value.
	if skills != "" {
		if err := json.Unmarshal([]byte(skills), &c.Skills); err != nil {
			return Conversation{}, fmt.Errorf("conversation %d's skills: %w", c.ID, err)
		}
	}
	if customAttributes != "" {
		if err := json.Unmarshal([]byte(customAttributes), &c.CustomAttributes); err != nil {
			return Conversation{}, fmt.Errorf("conversation %d's custom attributes: %w", c.ID, err)
		}
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

// QueueBotConnectorHandover moves a Bot Connector session that the flow
// transferred to ACD over the endpoint's Open Messaging integration from
// with_bot to queued: its customer is now the Open Messaging customer
// customerID of the Genesys conversation genesysID, so that the agent's
// webhooks find it (docs/genesys.md §BotConnector). ErrConflict when
// another conversation has that customer id; false when it is no longer
// with the bot.
func (s *Store) QueueBotConnectorHandover(ctx context.Context, id int64, customerID, genesysID string) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Conversation{}).Where("id = ? AND state = ? AND ended_at IS NULL", id, StateWithBot).
		Updates(map[string]any{"state": StateQueued, "customer_id": customerID, "genesys_conversation_id": genesysID, "updated_at": s.now()})
	if res.Error != nil {
		return false, fmt.Errorf("queue the Bot Connector handover of conversation %d: %w", id, translate(res.Error))
	}
	return res.RowsAffected == 1, nil
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
	changed, err := execCounted(ctx, s.db, "UPDATE conversations SET first_agent_message_at = ?, updated_at = ? WHERE id = ? AND first_agent_message_at IS NULL",
		at, s.now(), id)
	if err != nil {
		return false, fmt.Errorf("mark first agent message on conversation %d: %w", id, err)
	}
	return changed == 1, nil
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

// ConversationFilter selects the conversations the console lists.
type ConversationFilter struct {
	EndpointID int64  // 0 for every endpoint
	State      string // queued, agent_joined, ended, failed; "" for all
	Created    TimeRange
	// Search matches a session id, a user id or a Genesys conversation id exactly.
	Search string
	Before int64 // keyset cursor; 0 for the newest
	Limit  int   // DefaultPageSize when 0
}

// ListConversations returns a page of conversations, newest first. Each
// filter has an index ending in id, and the last message is read from the
// conversation's own columns, so a page reads about Limit rows however many
// messages are stored.
func (s *Store) ListConversations(ctx context.Context, f ConversationFilter) (Page[Conversation], error) {
	q := s.db.WithContext(ctx).Model(&Conversation{})
	if f.EndpointID != 0 {
		q = q.Where("endpoint_id = ?", f.EndpointID)
	}
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	q = f.Created.apply(q, "created_at")
	if search := strings.TrimSpace(f.Search); search != "" {
		q = q.Where("(session_id = ? OR user_id = ? OR (genesys_conversation_id = ? AND genesys_conversation_id <> ''))", search, search, search)
	}
	p, err := keysetPage(q, f.Before, f.Limit, func(c Conversation) int64 { return c.ID })
	if err != nil {
		return Page[Conversation]{}, fmt.Errorf("list conversations: %w", err)
	}
	return p, nil
}

// LatestConversationOfUser returns the newest handover of a bot user at an
// endpoint, open or ended: the Copilot workspace's conversation when the agent's
// script passes only the user id.
func (s *Store) LatestConversationOfUser(ctx context.Context, endpointID int64, userID string) (Conversation, error) {
	var c Conversation
	err := s.db.WithContext(ctx).Where("endpoint_id = ? AND user_id = ?", endpointID, userID).Order("id DESC").Take(&c).Error
	if err != nil {
		return Conversation{}, fmt.Errorf("find the latest conversation of user %q: %w", userID, translate(err))
	}
	return c, nil
}

// Waiting is an open handover with its endpoint's waiting settings: what
// the relay's waiting loop looks at.
type Waiting struct {
	Conversation
	QueueUpdateSeconds  int
	QueueTimeoutSeconds int
	InactivitySeconds   int
}

// WaitingAfter returns up to limit open handovers, ids after afterID, that
// are queued or with an agent and whose endpoint has a queue update, a queue
// timeout, an inactivity timeout or a text of its own.
func (s *Store) WaitingAfter(ctx context.Context, afterID int64, limit int) ([]Waiting, error) {
	var out []Waiting
	err := s.db.WithContext(ctx).Table("conversations AS c").
		Select("c.*, e.queue_update_seconds, e.queue_timeout_seconds, e.inactivity_seconds").
		Joins("JOIN endpoints AS e ON e.id = c.endpoint_id").
		Where("c.ended_at IS NULL AND c.state IN ? AND c.id > ?", []string{StateQueued, StateAgentJoined}, afterID).
		Where("e.queue_update_seconds > 0 OR e.queue_timeout_seconds > 0 OR e.inactivity_seconds > 0 OR e.messages <> '{}'").
		Order("c.id").Limit(limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("read waiting conversations: %w", err)
	}
	return out, nil
}

// ClaimQueueUpdate moves a waiting handover's next queue update from due
// (nil: none was set) to next, and tells whether this caller did it: of
// several instances, one sends each update.
func (s *Store) ClaimQueueUpdate(ctx context.Context, id int64, due *time.Time, next time.Time) (bool, error) {
	q := s.db.WithContext(ctx).Model(&Conversation{}).Where("id = ? AND ended_at IS NULL AND state = ?", id, StateQueued)
	if due == nil {
		q = q.Where("next_queue_update_at IS NULL")
	} else {
		q = q.Where("next_queue_update_at = ?", *due)
	}
	res := q.UpdateColumn("next_queue_update_at", next)
	if res.Error != nil {
		return false, fmt.Errorf("claim queue update of conversation %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// OpenHandovers counts the handovers open now: waiting for an agent, and
// with one. One statement, so a scrape sees one moment.
func (s *Store) OpenHandovers(ctx context.Context) (queued, withAgent int64, err error) {
	var counts struct{ Queued, WithAgent int64 }
	err = s.db.WithContext(ctx).Model(&Conversation{}).Where("ended_at IS NULL").Select(
		"coalesce(sum(CASE WHEN state = ? THEN 1 ELSE 0 END), 0) AS queued, "+
			"coalesce(sum(CASE WHEN state = ? THEN 1 ELSE 0 END), 0) AS with_agent", StateQueued, StateAgentJoined).
		Scan(&counts).Error
	if err != nil {
		return 0, 0, fmt.Errorf("count open handovers: %w", err)
	}
	return counts.Queued, counts.WithAgent, nil
}
