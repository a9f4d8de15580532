package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
)

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
	// Masked tells that the body was masked for an endpoint with
	// maskSensitiveLogging (docs/privacy.md): it can no longer be replayed.
	Masked bool
}

// Truncated tells whether the log kept only the start of the body.
func (w Webhook) Truncated() bool { return w.BodyBytes > int64(len(w.Body)) }

// InsertWebhook logs a received webhook. A valid one carries a dedupe key
// (integration, Genesys message id and type): when that key was stored before,
// the webhook is logged as a duplicate instead and duplicate is true.
func (s *Store) InsertWebhook(ctx context.Context, w *Webhook) (duplicate bool, err error) {
	if w.Headers == nil {
		w.Headers = map[string]string{}
	}
	// Committed with the other webhooks arriving meanwhile (batch.go): the
	// 200 waits for the commit. A second delivery of the same message
	// conflicts on its dedupe key and is logged as a duplicate instead.
	first := *w
	insert := func(ctx context.Context, tx *Store) error {
		*w, duplicate = first, false
		inserted, err := insertWebhookRow(tx.db.WithContext(ctx), w)
		if err != nil || inserted {
			return err
		}
		w.ID, w.DedupeKey, w.Outcome = 0, nil, OutcomeDuplicate
		now := tx.now()
		w.ProcessedAt = &now
		duplicate = true
		_, err = insertWebhookRow(tx.db.WithContext(ctx), w)
		return err
	}
	if s.batch == nil {
		// PostgreSQL: no committer, and the two statements need no
		// transaction (a conflict ignored aborts nothing), so each is one
		// round trip, as before group commit.
		err = insert(ctx, s)
	} else {
		// No savepoint either: the duplicate's row is written only after
		// the first insert did nothing, so a failure leaves nothing half
		// done.
		err = s.inBatch(ctx, insert, true)
	}
	if err != nil {
		return false, fmt.Errorf("log webhook: %w", err)
	}
	return duplicate, nil
}

// insertWebhookSQL is the webhook log's insert, written out: gorm's Create
// builds it by reflection on every call and reads back every column, inside
// the committer that every write waits for (docs/performance.md). A row whose
// dedupe key is taken is not inserted, and returns no id.
const insertWebhookSQL = `INSERT INTO webhooks (received_at, endpoint_id, conversation_id, integration_id, genesys_message_id, event_type,
	headers, body, body_bytes, body_sha256, verdict, verdict_detail, status, latency_us, dedupe_key, outcome, processed_at, replay_of,
	clock_skew_ms, masked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`

// insertWebhookRow inserts w and sets its ID; false when its dedupe key was
// taken and nothing was inserted.
func insertWebhookRow(db *gorm.DB, w *Webhook) (bool, error) {
	headers, err := json.Marshal(w.Headers)
	if err != nil {
		return false, err
	}
	return insertRow(db.Statement.Context, db, &w.ID, insertWebhookSQL, w.ReceivedAt, w.EndpointID, w.ConversationID, w.IntegrationID,
		w.GenesysMessageID, w.EventType, string(headers), w.Body, w.BodyBytes, w.BodySHA256, w.Verdict, w.VerdictDetail, w.Status, w.LatencyUS,
		w.DedupeKey, w.Outcome, w.ProcessedAt, w.ReplayOf, w.ClockSkewMS, w.Masked)
}

// WebhookByID returns one logged webhook.
func (s *Store) WebhookByID(ctx context.Context, id int64) (Webhook, error) {
	w, err := queryOne(ctx, s.db, scanWebhook, "SELECT "+webhookColumns+" FROM webhooks WHERE id = ?", id)
	if err != nil {
		return Webhook{}, fmt.Errorf("find webhook %d: %w", id, err)
	}
	return w, nil
}

// webhookColumns and scanWebhook read a logged webhook without gorm's
// reflection (rawsql.go): its processor reads each one it applies.
// TestALoggedWebhookKeepsEveryField guards the list against the struct.
const webhookColumns = `id, received_at, endpoint_id, conversation_id, integration_id, genesys_message_id, event_type, headers, body,
	body_bytes, body_sha256, verdict, verdict_detail, status, latency_us, dedupe_key, outcome, processed_at, replay_of, clock_skew_ms, masked`

func scanWebhook(rows *sql.Rows) (Webhook, error) {
	var (
		w       Webhook
		headers sql.RawBytes
	)
	err := rows.Scan(&w.ID, &w.ReceivedAt, &w.EndpointID, &w.ConversationID, &w.IntegrationID, &w.GenesysMessageID, &w.EventType, &headers,
		&w.Body, &w.BodyBytes, &w.BodySHA256, &w.Verdict, &w.VerdictDetail, &w.Status, &w.LatencyUS, &w.DedupeKey, &w.Outcome, &w.ProcessedAt,
		&w.ReplayOf, &w.ClockSkewMS, &w.Masked)
	if err == nil && len(headers) > 0 {
		// As gorm's JSON serializer reads the column.
		err = json.Unmarshal(headers, &w.Headers)
	}
	return w, err
}

// UnprocessedWebhooksAfter lists valid webhooks whose processing did not
// finish (the process stopped after answering 200, or a full queue dropped
// them), oldest first, from the id after afterID.
func (s *Store) UnprocessedWebhooksAfter(ctx context.Context, afterID int64, limit int) ([]Webhook, error) {
	var out []Webhook
	err := s.db.WithContext(ctx).Where("processed_at IS NULL AND verdict = ? AND id > ?", VerdictValid, afterID).Order("id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list unprocessed webhooks: %w", err)
	}
	return out, nil
}

// FinishWebhook records what processing a webhook did.
func (s *Store) FinishWebhook(ctx context.Context, id int64, outcome string, conversationID *int64, at time.Time) error {
	err := execSQL(ctx, s.db, "UPDATE webhooks SET outcome = ?, processed_at = ?, conversation_id = COALESCE(?, conversation_id) WHERE id = ?",
		outcome, at, conversationID, id)
	if err != nil {
		return fmt.Errorf("finish webhook %d: %w", id, err)
	}
	return nil
}

// MaskWebhook replaces a logged webhook's body by its masked form.
func (s *Store) MaskWebhook(ctx context.Context, id int64, body string) error {
	if err := s.db.WithContext(ctx).Model(&Webhook{}).Where("id = ?", id).Updates(map[string]any{"body": body, "masked": true}).Error; err != nil {
		return fmt.Errorf("mask webhook %d: %w", id, err)
	}
	return nil
}

// WebhooksOf lists the webhooks tied to a conversation.
func (s *Store) WebhooksOf(ctx context.Context, conversationID int64) ([]Webhook, error) {
	var out []Webhook
	if err := s.db.WithContext(ctx).Where("conversation_id = ?", conversationID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list webhooks of conversation %d: %w", conversationID, err)
	}
	return out, nil
}

// ClaimWebhook marks a webhook processed if nothing did before; inside the
// transaction that applies it, this makes processing happen once.
func (s *Store) ClaimWebhook(ctx context.Context, id int64, at time.Time) (bool, error) {
	changed, err := execCounted(ctx, s.db, "UPDATE webhooks SET processed_at = ? WHERE id = ? AND processed_at IS NULL", at, id)
	if err != nil {
		return false, fmt.Errorf("claim webhook %d: %w", id, err)
	}
	return changed == 1, nil
}

// ForEachWebhook calls fn for every logged webhook, oldest first (tests, export).
func (s *Store) ForEachWebhook(ctx context.Context, fn func(Webhook)) error {
	var hooks []Webhook
	if err := s.db.WithContext(ctx).Order("id").FindInBatches(&hooks, 500, func(*gorm.DB, int) error {
		for _, w := range hooks {
			fn(w)
		}
		return nil
	}).Error; err != nil {
		return fmt.Errorf("read webhooks: %w", err)
	}
	return nil
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

// PruneWebhooks deletes the webhooks received before before, in batches, and
// returns how many it deleted.
func (s *Store) PruneWebhooks(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.pruneBefore(ctx, "webhooks", "received_at", before)
	if err != nil {
		return n, fmt.Errorf("prune webhooks: %w", err)
	}
	return n, nil
}
