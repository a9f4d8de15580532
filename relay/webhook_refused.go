package relay

import (
	"context"
	"log/slog"
	"time"

	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/store"
)

// RefuseWebhook logs a webhook request that was refused before its body could
// be checked (too large to read, or too slow to arrive), with its verdict and
// why, so the webhook log shows every
// request, not only those that reached ReceiveWebhook.
//
// Like every refused webhook, it is counted in the metrics, and logged as a
// row only within its source's per-minute allowance (RefusedLogPerMinute).
func (r *Relay) RefuseWebhook(ctx context.Context, in IncomingWebhook, verdict, detail string) (WebhookResult, error) {
	r.obs.Webhook(verdict)
	logRow, note := r.admitRefused(ctx, in.Source)
	if !logRow {
		return WebhookResult{Verdict: verdict, Detail: detail}, nil
	}
	now := r.store.Now()
	log := store.Webhook{
		ReceivedAt: in.ReceivedAt.UTC(), Headers: maskHeaders(in.Headers),
		Status: r.webhookStatus(verdict), Verdict: verdict, VerdictDetail: detail + note, Outcome: store.OutcomeRejected, ProcessedAt: &now,
		LatencyUS: time.Since(in.ReceivedAt).Microseconds(),
	}
	logBody(&log, in.Body, false)
	if _, err := r.store.InsertWebhook(ctx, &log); err != nil {
		return WebhookResult{}, err
	}
	r.log.WarnContext(ctx, "webhook rejected", slog.Int64("webhook_id", log.ID), slog.String("verdict", verdict), slog.String("detail", detail))
	r.broker.Publish(live.Webhooks, live.Signal{Kind: live.Changed})
	return WebhookResult{Verdict: verdict, Detail: detail, LogID: log.ID}, nil
}
