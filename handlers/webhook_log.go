package handlers

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// WebhookLogStore is what the webhook log needs from the store.
type WebhookLogStore interface {
	ListEndpoints(ctx context.Context) ([]store.Endpoint, error)
	ListWebhooks(ctx context.Context, f store.WebhookFilter) (store.Page[store.Webhook], error)
	WebhookByID(ctx context.Context, id int64) (store.Webhook, error)
	WebhookReplays(ctx context.Context, id int64) ([]store.Webhook, error)
}

// WebhookReplayer runs a logged webhook through checks and processing again.
type WebhookReplayer interface {
	ReplayWebhook(ctx context.Context, id int64) (store.Webhook, error)
}

// WebhookLog serves the log of requests to the webhook URL, and replays.
type WebhookLog struct {
	Store WebhookLogStore
	Relay WebhookReplayer
	Now   func() time.Time // pinned in tests
}

var webhookVerdicts = []views.Option{
	{Value: store.VerdictValid, Label: "valid"},
	{Value: store.WebhooksRejected, Label: "any rejection"},
	{Value: store.VerdictMissing, Label: "signature missing"},
	{Value: store.VerdictMismatch, Label: "signature does not match"},
	{Value: store.VerdictUnknownIntegration, Label: "unknown integration"},
	{Value: store.VerdictMalformed, Label: "not a webhook body"},
	{Value: store.VerdictStale, Label: "too old (replay refused)"},
	{Value: store.VerdictTooLarge, Label: "body too large (not read)"},
	{Value: store.VerdictTimeout, Label: "body too slow to arrive"},
}

// List answers GET /webhooks?endpoint=&verdict=&since=&from=&to=&before=.
func (h *WebhookLog) List(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f := readListFilters(c, consoleNow(h.Now))
	verdict := oneOf(c.Query("verdict"), webhookVerdicts)
	endpoints, err := h.Store.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	names := newEndpointNames(endpoints)
	result, err := h.Store.ListWebhooks(ctx, store.WebhookFilter{EndpointID: f.endpointID, Verdict: verdict, Received: f.period, Before: f.before})
	if err != nil {
		return err
	}
	rows := make([]views.WebhookRow, len(result.Rows))
	for i, w := range result.Rows {
		rows[i] = webhookRow(w, names)
	}
	q := f.query()
	if verdict != "" {
		q.Set("verdict", verdict)
	}
	props := views.WebhooksProps{
		Filters:   views.WebhookFilters{Endpoint: f.endpoint, Verdict: verdict, Since: f.since, From: f.from, To: f.to},
		Endpoints: names.options, Verdicts: webhookVerdicts, Periods: periods(f.since), Rows: rows,
	}
	props.ListURL, props.Pager = pageLinks("/webhooks", q, f.before, result.Next)
	if wantsPart(c, views.WebhookListID) {
		return render(c, fiber.StatusOK, views.WebhookList(props))
	}
	return page(c, fiber.StatusOK, "Webhooks", "webhooks", views.WebhooksPage(props))
}

// Show answers GET /webhooks/:id: one webhook with its headers, body and replays.
func (h *WebhookLog) Show(c *fiber.Ctx) error {
	w, replays, names, err := h.load(c)
	if err != nil {
		return err
	}
	id := w.ID
	props := views.WebhookProps{Webhook: webhookRow(w, names), Integration: w.IntegrationID, GenesysMessageID: w.GenesysMessageID, CSRFToken: csrfToken(c)}
	for name, value := range w.Headers {
		props.Headers = append(props.Headers, views.KeyValue{Key: name, Value: value})
	}
	slices.SortFunc(props.Headers, func(a, b views.KeyValue) int { return cmp.Compare(a.Key, b.Key) })
	props.Body, props.BodyIsJSON = prettyJSON(w.Body)
	props.BodyBytes, props.BodySHA256, props.BodyTruncated, props.BodyKept = w.BodyBytes, w.BodySHA256, w.Truncated(), len(w.Body)
	props.BodyMasked = w.Masked
	for _, r := range replays {
		props.Replays = append(props.Replays, webhookRow(r, names))
	}
	if replayed, err := strconv.ParseInt(c.Query("replayed"), 10, 64); err == nil {
		for _, r := range props.Replays {
			if r.ID == replayed {
				props.Notice = replayNotice(r)
			}
		}
	}
	return page(c, fiber.StatusOK, fmt.Sprintf("Webhook #%d", id), "webhooks", views.WebhookPage(props))
}

// Replay answers POST /webhooks/:id/replay and goes back to the webhook's page,
// which says what the replay did.
func (h *WebhookLog) Replay(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	replay, err := h.Relay.ReplayWebhook(c.UserContext(), id)
	if err != nil {
		return err
	}
	return redirect(c, fmt.Sprintf("/webhooks/%d?replayed=%d", id, replay.ID))
}

func replayNotice(r views.WebhookRow) string {
	if r.Verdict != store.VerdictValid {
		return strings.TrimSpace(fmt.Sprintf("Replayed as #%d: refused, %s. %s", r.ID, views.VerdictLabel(r.Verdict), r.VerdictDetail))
	}
	return fmt.Sprintf("Replayed as #%d: %s.", r.ID, views.OutcomeLabel(r.Outcome, r.Processed))
}

func webhookRow(w store.Webhook, names endpointNames) views.WebhookRow {
	row := views.WebhookRow{
		ID: w.ID, Received: w.ReceivedAt, Endpoint: names.namePtr(w.EndpointID), EventType: w.EventType,
		Verdict: w.Verdict, VerdictDetail: w.VerdictDetail, Status: w.Status, Latency: time.Duration(w.LatencyUS) * time.Microsecond,
		Outcome: w.Outcome, ConversationID: derefID(w.ConversationID), ReplayOf: derefID(w.ReplayOf),
		ClockSkew: time.Duration(w.ClockSkewMS) * time.Millisecond,
	}
	if w.ProcessedAt != nil {
		row.Processed, row.Processing = true, max(0, w.ProcessedAt.Sub(w.ReceivedAt))
	}
	return row
}

// prettyJSON indents a JSON body for reading; anything else is shown as received.
func prettyJSON(body string) (string, bool) {
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(body), "", "  "); err != nil {
		return body, false
	}
	return out.String(), true
}
