package relay

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/store"
)

// ReplayWebhook runs a logged webhook through the checks and processing
// again, as an admin asked from the console, and returns the new log row.
//
// The replay is logged as a new webhook (ReplayOf the original) with the
// stored body and headers. Its signature is verified anew with the endpoint's
// current secret, but its age is not checked: an admin replays an old webhook
// on purpose. A valid replay carries the original's dedupe key, so a webhook
// that was processed already is logged as a duplicate and changes nothing;
// one that was not is processed now, before this returns.
func (r *Relay) ReplayWebhook(ctx context.Context, id int64) (store.Webhook, error) {
	original, err := r.store.WebhookByID(ctx, id)
	if err != nil {
		return store.Webhook{}, err
	}
	if original.Truncated() {
		return store.Webhook{}, ErrReplayTruncated
	}
	if original.Masked {
		return store.Webhook{}, ErrReplayMasked
	}
	started := time.Now()
	replay := store.Webhook{ReceivedAt: r.store.Now(), Headers: original.Headers, ReplayOf: &original.ID}
	check, err := r.checkWebhook(ctx, []byte(original.Body), headerValue(original.Headers, genesys.SignatureHeader), started, 0)
	if err != nil {
		return store.Webhook{}, err
	}
	check.describe(&replay)
	// No age check on a replay: its verdict is valid or refused, never stale.
	valid := check.verdict == store.VerdictValid
	replay.Status, replay.Verdict, replay.VerdictDetail = r.webhookStatus(check.verdict), check.verdict, check.detail
	logBody(&replay, []byte(original.Body), valid)
	if !valid {
		replay.Outcome = store.OutcomeRejected
		now := r.store.Now()
		replay.ProcessedAt = &now
	}
	replay.LatencyUS = time.Since(started).Microseconds()
	duplicate, err := r.store.InsertReplayedWebhook(ctx, &replay)
	if err != nil {
		return store.Webhook{}, err
	}
	r.log.InfoContext(ctx, "webhook replayed", slog.Int64("webhook_id", original.ID), slog.Int64("replay_id", replay.ID),
		slog.String("verdict", replay.Verdict), slog.Bool("duplicate", duplicate))
	r.broker.Publish(live.Webhooks, live.Signal{Kind: live.Changed})
	if valid && !duplicate {
		if err := r.ProcessWebhook(ctx, replay.ID); err != nil {
			return store.Webhook{}, err
		}
	}
	return r.store.WebhookByID(ctx, replay.ID)
}

// ErrReplayMasked refuses to replay a webhook whose logged body was masked
// (maskSensitiveLogging): it is no longer what Genesys signed.
var ErrReplayMasked = errors.New("this webhook's body was masked in the log (the endpoint masks sensitive logging), so it cannot be replayed")

// ErrReplayTruncated refuses to replay a webhook whose log row kept only the
// start of its body: its signature cannot be verified again.
var ErrReplayTruncated = errors.New("the webhook log kept only the start of this webhook's body, so its signature cannot be verified again and it cannot be replayed")

// headerValue finds a header by name regardless of case.
func headerValue(headers map[string]string, name string) string {
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
