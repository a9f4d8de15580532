package relay

import (
	"context"
	"log/slog"
	"time"

	"github.com/handover-relay/handover/live"
)

// PruneLogs deletes the webhooks, Genesys calls and finished bot deliveries
// logged more than retention
// ago (HANDOVER_WEBHOOK_RETENTION), but never within the webhook replay
// window; a retention of 0 keeps them forever. Then, with a LogMaxBytes
// cap, it deletes the oldest rows of both logs until their estimated size
// (store.LogBytes) is within it, keeping the webhooks whose dedupe keys stop
// replays inside the window even when that leaves the logs over the cap.
func (r *Relay) PruneLogs(ctx context.Context, retention time.Duration) error {
	var webhooks, calls int64
	if retention > 0 {
		// Webhook rows carry the dedupe keys: keep them for the whole replay
		// window, or a replay just inside it would be applied twice.
		before := r.store.Now().Add(-max(retention, r.cfg.WebhookReplayWindow))
		var err error
		if webhooks, err = r.store.PruneWebhooks(ctx, before); err != nil {
			return err
		}
		if calls, err = r.store.PruneAPICalls(ctx, before); err != nil {
			return err
		}
		deliveries, err := r.store.PruneBotDeliveries(ctx, before)
		if err != nil {
			return err
		}
		if deliveries > 0 {
			r.log.InfoContext(ctx, "pruned old bot deliveries", slog.Int64("bot_deliveries", deliveries), slog.Time("before", before))
			r.broker.Publish(live.BotDeliveries, live.Signal{Kind: live.Changed})
		}
		if webhooks+calls > 0 {
			r.log.InfoContext(ctx, "pruned old logs", slog.Int64("webhooks", webhooks), slog.Int64("api_calls", calls), slog.Time("before", before))
		}
	}
	if r.cfg.LogMaxBytes > 0 {
		res, err := r.store.PruneLogsToSize(ctx, r.cfg.LogMaxBytes, r.store.Now().Add(-r.cfg.WebhookReplayWindow))
		if err != nil {
			return err
		}
		if res.Webhooks+res.APICalls > 0 {
			r.log.InfoContext(ctx, "pruned the oldest logs to stay within HANDOVER_LOG_MAX_BYTES", slog.Int64("webhooks", res.Webhooks),
				slog.Int64("api_calls", res.APICalls), slog.Int64("bytes", res.Bytes), slog.Int64("max_bytes", r.cfg.LogMaxBytes))
		}
		if res.Bytes > r.cfg.LogMaxBytes {
			r.log.WarnContext(ctx, "the webhook and Genesys call logs are over HANDOVER_LOG_MAX_BYTES: what is left are webhooks inside the replay window, kept to stop replays, and webhooks not yet processed",
				slog.Int64("bytes", res.Bytes), slog.Int64("max_bytes", r.cfg.LogMaxBytes), slog.Duration("replay_window", r.cfg.WebhookReplayWindow))
		}
		webhooks, calls = webhooks+res.Webhooks, calls+res.APICalls
	}
	if webhooks+calls > 0 {
		r.broker.Publish(live.Webhooks, live.Signal{Kind: live.Changed})
		r.broker.Publish(live.APICalls, live.Signal{Kind: live.Changed})
	}
	return nil
}

// PruneEvery runs PruneLogs (with the log retention) and PruneConversations
// (with each endpoint's) at once and then every interval until ctx ends.
func (r *Relay) PruneEvery(ctx context.Context, logRetention, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if err := r.PruneLogs(ctx, logRetention); err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "prune old logs", slog.Any("error", err))
		}
		if _, err := r.PruneConversations(ctx); err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "delete conversations past their retention", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
