package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// InsertWebhook logs a received webhook. A valid one carries a dedupe key
// (integration, Genesys message id and type): when that key was stored before,
// the webhook is logged as a duplicate instead and duplicate is true.
func (s *Store) InsertWebhook(ctx context.Context, w *Webhook) (duplicate bool, err error) {
	if w.Headers == nil {
		w.Headers = map[string]string{}
	}
	err = s.db.WithContext(ctx).Create(w).Error
	if errors.Is(translate(err), ErrConflict) && w.DedupeKey != nil {
		w.ID, w.DedupeKey, w.Outcome = 0, nil, OutcomeDuplicate
		now := s.now()
		w.ProcessedAt = &now
		err = s.db.WithContext(ctx).Create(w).Error
		duplicate = true
	}
	if err != nil {
		return false, fmt.Errorf("log webhook: %w", err)
	}
	return duplicate, nil
}

// WebhookByID returns one logged webhook.
func (s *Store) WebhookByID(ctx context.Context, id int64) (Webhook, error) {
	var w Webhook
	if err := s.db.WithContext(ctx).Take(&w, id).Error; err != nil {
		return Webhook{}, fmt.Errorf("find webhook %d: %w", id, translate(err))
	}
	return w, nil
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
	updates := map[string]any{"outcome": outcome, "processed_at": at}
	if conversationID != nil {
		updates["conversation_id"] = *conversationID
	}
	if err := s.db.WithContext(ctx).Model(&Webhook{}).Where("id = ?", id).Updates(updates).Error; err != nil {
		return fmt.Errorf("finish webhook %d: %w", id, err)
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

// EndpointsByIntegrationID finds the endpoints whose deployment resolved to
// integrationID (normally one).
func (s *Store) EndpointsByIntegrationID(ctx context.Context, integrationID string) ([]Endpoint, error) {
	var endpoints []Endpoint
	err := s.db.WithContext(ctx).Joins("Organisation").Where("endpoints.integration_id = ? AND endpoints.integration_id <> ''", integrationID).Find(&endpoints).Error
	if err != nil {
		return nil, fmt.Errorf("find endpoints of integration %s: %w", integrationID, err)
	}
	for i := range endpoints {
		if err := s.openSecrets(&endpoints[i]); err != nil {
			return nil, err
		}
	}
	return endpoints, nil
}

// SetEndpointIntegration records what the endpoint's Deployment Name resolved to,
// or why it did not.
func (s *Store) SetEndpointIntegration(ctx context.Context, endpointID int64, integrationID, errText string) error {
	err := s.db.WithContext(ctx).Model(&Endpoint{}).Where("id = ?", endpointID).
		Updates(map[string]any{"integration_id": integrationID, "integration_error": errText}).Error
	if err != nil {
		return fmt.Errorf("record integration of endpoint %d: %w", endpointID, err)
	}
	return nil
}

// ClaimWebhook marks a webhook processed if nothing did before; inside the
// transaction that applies it, this makes processing happen once.
func (s *Store) ClaimWebhook(ctx context.Context, id int64, at time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Webhook{}).Where("id = ? AND processed_at IS NULL", id).Update("processed_at", at)
	if res.Error != nil {
		return false, fmt.Errorf("claim webhook %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
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
