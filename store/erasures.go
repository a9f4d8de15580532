package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Erasure is the audit record of one erasure of a person's data
// (docs/privacy.md): who asked, when, a hash of the user id (never the id
// itself) and how many rows of each kind went.
type Erasure struct {
	ID         int64
	ErasedAt   time.Time
	ErasedBy   string
	UserIDHash string
	EndpointID *int64  // the endpoint the erasure was limited to; nil for all
	Counts     Deleted `gorm:"serializer:json"`
}

// Deleted counts the rows that deleting conversations took with them.
type Deleted struct {
	Conversations int64 `json:"conversations"`
	Messages      int64 `json:"messages"` // every timeline entry: texts, states, receipts, queue events
	Outbox        int64 `json:"outbox"`
	Webhooks      int64 `json:"webhooks"`
	APICalls      int64 `json:"apiCalls"`
	BotDeliveries int64 `json:"botDeliveries"` // events for the bot webhook, with what the bot answered
}

// Add sums two counts.
func (d Deleted) Add(o Deleted) Deleted {
	return Deleted{Conversations: d.Conversations + o.Conversations, Messages: d.Messages + o.Messages, Outbox: d.Outbox + o.Outbox,
		Webhooks: d.Webhooks + o.Webhooks, APICalls: d.APICalls + o.APICalls, BotDeliveries: d.BotDeliveries + o.BotDeliveries}
}

// InsertErasure records an erasure.
func (s *Store) InsertErasure(ctx context.Context, e *Erasure) error {
	if e.ErasedAt.IsZero() {
		e.ErasedAt = s.now()
	}
	if err := s.db.WithContext(ctx).Create(e).Error; err != nil {
		return fmt.Errorf("record erasure: %w", err)
	}
	return nil
}

// Erasures lists the audit records, newest first.
func (s *Store) Erasures(ctx context.Context, limit int) ([]Erasure, error) {
	var out []Erasure
	if err := s.db.WithContext(ctx).Order("id DESC").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list erasures: %w", err)
	}
	return out, nil
}

// ConversationsOfUser lists every conversation of a bot user id, oldest
// first, at one endpoint or (endpointID 0) at all of them: what an export or
// an erasure of that person reaches.
func (s *Store) ConversationsOfUser(ctx context.Context, userID string, endpointID int64) ([]Conversation, error) {
	q := s.db.WithContext(ctx).Where("user_id = ?", userID)
	if endpointID != 0 {
		q = q.Where("endpoint_id = ?", endpointID)
	}
	var out []Conversation
	if err := q.Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list the conversations of a user: %w", err)
	}
	return out, nil
}

// EndedConversationsBefore lists up to limit conversations of an endpoint
// that ended before t: what its retention deletes.
func (s *Store) EndedConversationsBefore(ctx context.Context, endpointID int64, t time.Time, limit int) ([]Conversation, error) {
	var out []Conversation
	err := s.db.WithContext(ctx).Where("endpoint_id = ? AND ended_at IS NOT NULL AND ended_at < ?", endpointID, t.UTC()).
		Order("ended_at, id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list conversations ended before %s: %w", t.Format(time.RFC3339), err)
	}
	return out, nil
}

// PendingOutboxOf counts the calls to Genesys still to be made for the
// conversations: an erasure waits for them (the end it asked for is one).
func (s *Store) PendingOutboxOf(ctx context.Context, conversationIDs []int64) (int64, error) {
	if len(conversationIDs) == 0 {
		return 0, nil
	}
	var n int64
	err := s.db.WithContext(ctx).Model(&OutboxItem{}).Where("conversation_id IN ? AND status = ?", conversationIDs, OutboxPending).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count pending outbox items: %w", err)
	}
	return n, nil
}

// DeleteConversations deletes conversations with everything that belongs to
// them, in one transaction: their timeline (messages), their outbox items,
// and their rows in the webhook and Genesys call logs, including webhooks
// that were never tied to a conversation but name its customer id (a
// receipt that arrived after the end). Retention and erasure both come here.
func (s *Store) DeleteConversations(ctx context.Context, convs []Conversation) (Deleted, error) {
	if len(convs) == 0 {
		return Deleted{}, nil
	}
	ids := make([]int64, len(convs))
	for i, c := range convs {
		ids[i] = c.ID
	}
	var d Deleted
	var err error
	for attempt := 1; ; attempt++ {
		d, err = s.deleteConversations(ctx, convs, ids)
		if err == nil || !retryable(err) || attempt == 5 {
			break
		}
	}
	if err != nil {
		return Deleted{}, fmt.Errorf("delete conversations: %w", err)
	}
	return d, nil
}

// deleteConversations is one attempt of DeleteConversations. Its order
// follows the webhook processor's (a webhook row, then its conversation, then
// the timeline), so the two seldom wait on each other in a cycle; when they
// do, PostgreSQL ends one of them and DeleteConversations tries again.
func (s *Store) deleteConversations(ctx context.Context, convs []Conversation, ids []int64) (Deleted, error) {
	var d Deleted
	err := s.InTx(ctx, func(tx *Store) error {
		db := tx.db.WithContext(ctx)
		exec := func(n *int64, query string, args ...any) error {
			res := db.Exec(query, args...)
			*n += res.RowsAffected
			return res.Error
		}
		if err := exec(&d.Webhooks, "DELETE FROM webhooks WHERE conversation_id IN ?", ids); err != nil {
			return err
		}
		for _, c := range convs {
			if c.CustomerID == "" {
				continue
			}
			err := exec(&d.Webhooks, `DELETE FROM webhooks WHERE conversation_id IS NULL AND endpoint_id = ? AND body LIKE ? ESCAPE '\'`,
				c.EndpointID, "%"+likeEscaper.Replace(`"`+c.CustomerID+`"`)+"%")
			if err != nil {
				return err
			}
		}
		if s.dialect == Postgres {
			// The conversations next, so nobody adds to their timelines meanwhile.
			var locked []int64
			if err := db.Raw("SELECT id FROM conversations WHERE id IN ? ORDER BY id FOR UPDATE", ids).Scan(&locked).Error; err != nil {
				return err
			}
		}
		// Outbox items and messages would go by ON DELETE CASCADE too;
		// deleting them first is what counts them.
		for _, step := range []struct {
			n     *int64
			query string
		}{
			{&d.Outbox, "DELETE FROM outbox WHERE conversation_id IN ?"},
			{&d.BotDeliveries, "DELETE FROM bot_deliveries WHERE conversation_id IN ?"},
			{&d.Messages, "DELETE FROM messages WHERE conversation_id IN ?"},
			{&d.APICalls, "DELETE FROM api_calls WHERE conversation_id IN ?"},
			{&d.Conversations, "DELETE FROM conversations WHERE id IN ?"},
		} {
			if err := exec(step.n, step.query, ids); err != nil {
				return err
			}
		}
		return nil
	})
	return d, err
}

// retryable tells a PostgreSQL deadlock or serialization failure, after
// which the whole transaction may simply run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// likeEscaper escapes the wildcards of a LIKE pattern (ESCAPE '\').
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ReclaimErased makes deleted rows unrecoverable from the database files:
// on SQLite (opened with secure_delete, which zeroes what a delete frees) it
// checkpoints the write-ahead log into the database and truncates it, so no
// older copy of a deleted page stays in the -wal file. PostgreSQL keeps dead
// rows until VACUUM; docs/privacy.md says what that means for erasure.
func (s *Store) ReclaimErased(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	var busy, logFrames, checkpointed int
	if err := s.db.WithContext(ctx).Raw("PRAGMA wal_checkpoint(TRUNCATE)").Row().Scan(&busy, &logFrames, &checkpointed); err != nil {
		return fmt.Errorf("checkpoint the write-ahead log: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("checkpoint the write-ahead log: a reader kept it busy")
	}
	return nil
}
