package store

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// The console's lists page by keyset: newest first, and the next page is
// everything below the last id shown (WHERE id < before ORDER BY id DESC),
// never OFFSET, so a page costs the same however deep it is.

// DefaultPageSize is how many rows a console list shows at once.
const DefaultPageSize = 50

// TimeRange is a half-open interval [From, To); a zero end is open.
type TimeRange struct {
	From time.Time
	To   time.Time
}

func (r TimeRange) apply(q *gorm.DB, column string) *gorm.DB {
	if !r.From.IsZero() {
		q = q.Where(column+" >= ?", r.From.UTC())
	}
	if !r.To.IsZero() {
		q = q.Where(column+" < ?", r.To.UTC())
	}
	return q
}

// Page is one page of a keyset-paginated list: Next is the cursor (the
// "before" id) of the following page, 0 when this page is the last.
type Page[T any] struct {
	Rows []T
	Next int64
}

// keysetPage runs q for limit+1 rows below before, newest first, and cuts the
// result into a page and the cursor of the next one.
func keysetPage[T any](q *gorm.DB, before int64, limit int, id func(T) int64) (Page[T], error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	var rows []T
	if err := q.Order("id DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return Page[T]{}, err
	}
	p := Page[T]{Rows: rows}
	if len(rows) > limit {
		p.Rows = rows[:limit]
		p.Next = id(p.Rows[limit-1])
	}
	return p, nil
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
func updateLastMessage(db *gorm.DB, m *Message) error {
	if m.Kind != KindText && m.Kind != KindTranscript {
		return nil
	}
	preview := messagePreview(m)
	if preview == "" {
		return nil
	}
	return db.Model(&Conversation{}).
		Where("id = ? AND (last_message_at IS NULL OR last_message_at <= ?)", m.ConversationID, m.CreatedAt).
		UpdateColumns(map[string]any{"last_message_at": m.CreatedAt, "last_message_preview": preview, "last_message_from": m.Direction}).Error
}

// WebhookFilter selects the webhooks the console lists.
type WebhookFilter struct {
	EndpointID int64  // 0 for every endpoint
	Verdict    string // valid, missing, mismatch, …, WebhooksRejected for every one but valid; "" for all
	Received   TimeRange
	Before     int64
	Limit      int
}

// WebhooksRejected filters the webhooks with any verdict but valid.
const WebhooksRejected = "rejected"

// webhookListColumns are what a list shows: everything but the body, which
// may be up to 1 MB a row.
var webhookListColumns = []string{"id", "received_at", "endpoint_id", "conversation_id", "integration_id", "genesys_message_id", "event_type",
	"verdict", "verdict_detail", "status", "latency_us", "outcome", "processed_at", "replay_of", "clock_skew_ms"}

// ListWebhooks returns a page of logged webhooks, newest first, without
// their bodies and headers.
func (s *Store) ListWebhooks(ctx context.Context, f WebhookFilter) (Page[Webhook], error) {
	q := s.db.WithContext(ctx).Model(&Webhook{}).Select(webhookListColumns)
	if f.EndpointID != 0 {
		q = q.Where("endpoint_id = ?", f.EndpointID)
	}
	switch f.Verdict {
	case "":
	case WebhooksRejected:
		q = q.Where("verdict <> 'valid'") // as the partial index webhooks_rejected says it, so that it is used
	default:
		q = q.Where("verdict = ?", f.Verdict)
	}
	q = f.Received.apply(q, "received_at")
	p, err := keysetPage(q, f.Before, f.Limit, func(w Webhook) int64 { return w.ID })
	if err != nil {
		return Page[Webhook]{}, fmt.Errorf("list webhooks: %w", err)
	}
	return p, nil
}

// WebhookReplays lists the webhooks logged by replaying webhook id, oldest first.
func (s *Store) WebhookReplays(ctx context.Context, id int64) ([]Webhook, error) {
	var out []Webhook
	if err := s.db.WithContext(ctx).Select(webhookListColumns).Where("replay_of = ?", id).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list replays of webhook %d: %w", id, err)
	}
	return out, nil
}

// OutcomeReplayed marks a valid webhook that was never processed and whose
// replay took over its dedupe key and was processed in its place.
const OutcomeReplayed = "replayed"

// InsertReplayedWebhook logs a replayed webhook. A valid one carries the
// original's dedupe key; in one transaction:
//   - no webhook holds the key: it is logged with it (to be processed);
//   - a processed webhook holds it: it is logged as a duplicate (duplicate is true);
//   - an unprocessed one holds it (its processing never ran): that one is
//     marked replayed and gives up the key, so this one is processed instead
//     and the Genesys message is still applied once.
func (s *Store) InsertReplayedWebhook(ctx context.Context, w *Webhook) (duplicate bool, err error) {
	if w.Headers == nil {
		w.Headers = map[string]string{}
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if w.DedupeKey != nil {
			var holder Webhook
			err := tx.Select("id", "processed_at").Where("dedupe_key = ?", *w.DedupeKey).Take(&holder).Error
			switch {
			case err == nil && holder.ProcessedAt != nil:
				now := s.now()
				w.DedupeKey, w.Outcome, w.ProcessedAt, duplicate = nil, OutcomeDuplicate, &now, true
			case err == nil:
				res := tx.Model(&Webhook{}).Where("id = ? AND processed_at IS NULL", holder.ID).
					UpdateColumns(map[string]any{"dedupe_key": nil, "outcome": OutcomeReplayed, "processed_at": s.now()})
				if res.Error != nil {
					return res.Error
				}
				if res.RowsAffected == 0 {
					// Processed since it was read (SQLite has one writer, so only on Postgres).
					now := s.now()
					w.DedupeKey, w.Outcome, w.ProcessedAt, duplicate = nil, OutcomeDuplicate, &now, true
				}
			case translate(err) != ErrNotFound:
				return err
			}
		}
		return tx.Create(w).Error
	})
	if err != nil {
		return false, fmt.Errorf("log replayed webhook: %w", translate(err))
	}
	return duplicate, nil
}

// APICallFilter selects the Genesys calls the console lists.
type APICallFilter struct {
	EndpointID int64
	Status     string // "ok" (2xx/3xx without error), "failed", or "" for all
	Created    TimeRange
	Before     int64
	Limit      int
}

// API call status filters.
const (
	APICallsOK     = "ok"
	APICallsFailed = "failed"
)

// apiCallFailed is how the partial index api_calls_failed says it, so that it is used.
const apiCallFailed = "(status NOT BETWEEN 200 AND 399 OR error <> '')"

// ListAPICalls returns a page of recorded Genesys calls, newest first.
func (s *Store) ListAPICalls(ctx context.Context, f APICallFilter) (Page[APICall], error) {
	q := s.db.WithContext(ctx).Model(&APICall{})
	if f.EndpointID != 0 {
		q = q.Where("endpoint_id = ?", f.EndpointID)
	}
	switch f.Status {
	case APICallsOK:
		q = q.Where("NOT " + apiCallFailed)
	case APICallsFailed:
		q = q.Where(apiCallFailed)
	}
	q = f.Created.apply(q, "created_at")
	p, err := keysetPage(q, f.Before, f.Limit, func(c APICall) int64 { return c.ID })
	if err != nil {
		return Page[APICall]{}, fmt.Errorf("list Genesys calls: %w", err)
	}
	return p, nil
}

// pruneBatch bounds one delete, so pruning never holds the (single) SQLite
// writer for long and the relay's writes go on between batches.
const pruneBatch = 1000

// PruneWebhooks deletes the webhooks received before before, in batches, and
// returns how many it deleted.
func (s *Store) PruneWebhooks(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.pruneBefore(ctx, "webhooks", "received_at", before)
	if err != nil {
		return n, fmt.Errorf("prune webhooks: %w", err)
	}
	return n, nil
}

// PruneAPICalls deletes the Genesys calls recorded before before, in batches.
func (s *Store) PruneAPICalls(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.pruneBefore(ctx, "api_calls", "created_at", before)
	if err != nil {
		return n, fmt.Errorf("prune Genesys calls: %w", err)
	}
	return n, nil
}

// pruneBefore deletes table rows whose column is before t, pruneBatch at a time.
func (s *Store) pruneBefore(ctx context.Context, table, column string, t time.Time) (int64, error) {
	var total int64
	for {
		res := s.db.WithContext(ctx).Exec("DELETE FROM "+table+" WHERE id IN (SELECT id FROM "+table+" WHERE "+column+" < ? ORDER BY id LIMIT ?)", t.UTC(), pruneBatch)
		if res.Error != nil {
			return total, res.Error
		}
		total += res.RowsAffected
		if res.RowsAffected < pruneBatch {
			return total, nil
		}
	}
}
