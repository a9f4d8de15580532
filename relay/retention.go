package relay

import (
	"context"
	"log/slog"
	"time"
)

// PruneLogs deletes the webhooks and Genesys calls logged more than retention
// ago (HANDOVER_WEBHOOK_RETENTION), but never within the webhook replay
// window; a retention of 0 keeps them forever.
func (r *Relay) PruneLogs(ctx context.Context, retention time.Duration) error {
	if retention <= 0 {
		return nil
	}
	// Webhook rows carry the dedupe keys: keep them for the whole replay
	// window, or a replay just inside it would be applied twice.
	before := r.store.Now().Add(-max(retention, r.cfg.WebhookReplayWindow))
	webhooks, err := r.store.PruneWebhooks(ctx, before)
	if err != nil {
		return err
	}
	calls, err := r.store.PruneAPICalls(ctx, before)
	if err != nil {
		return err
	}
	if webhooks+calls > 0 {
		r.log.InfoContext(ctx, "pruned old logs", slog.Int64("webhooks", webhooks), slog.Int64("api_calls", calls), slog.Time("before", before))
		r.broker.Publish(WebhooksTopic, Signal{Kind: "changed"})
		r.broker.Publish(APICallsTopic, Signal{Kind: "changed"})
	}
	return nil
}

// PruneLogsEvery runs PruneLogs at once and then every interval until ctx ends.
func (r *Relay) PruneLogsEvery(ctx context.Context, retention, interval time.Duration) {
	if retention <= 0 {
		return
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if err := r.PruneLogs(ctx, retention); err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "prune old logs", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
