package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// BotDeliveryStore is what the bot delivery log needs from the store.
type BotDeliveryStore interface {
	ListEndpoints(ctx context.Context) ([]store.Endpoint, error)
	ListBotDeliveries(ctx context.Context, f store.BotDeliveryFilter) (store.Page[store.BotDelivery], error)
	BotDeliveryByID(ctx context.Context, id int64) (store.BotDelivery, error)
	EndpointByID(ctx context.Context, id int64) (store.Endpoint, error)
}

// BotEventSender sends events to bot webhooks out of turn: replays and tests.
type BotEventSender interface {
	BotEventOf(ctx context.Context, d store.BotDelivery) (relay.BotEvent, error)
	ReplayBotDelivery(ctx context.Context, id int64) (store.BotDelivery, error)
	SendBotTestEvent(ctx context.Context, e store.Endpoint) (store.BotDelivery, error)
}

// BotDeliveries serves the log of event webhooks to bots (README "Event
// webhooks to the bot"), its replays, and an endpoint's test event.
type BotDeliveries struct {
	Store BotDeliveryStore
	Relay BotEventSender
	Now   func() time.Time // pinned in tests
}

var botDeliveryStatuses = []views.Option{
	{Value: store.BotDeliveryPending, Label: "waiting to be sent"},
	{Value: store.BotDeliveryDelivered, Label: "delivered"},
	{Value: store.BotDeliveryFailed, Label: "failed"},
}

var botEventTypes = []views.Option{
	{Value: live.EventMessage, Label: "message"}, {Value: live.EventTyping, Label: "typing"}, {Value: live.EventState, Label: "state"},
	{Value: live.EventReceipt, Label: "receipt"}, {Value: live.EventQueue, Label: "queue"}, {Value: live.EventTest, Label: "test"},
}

// List answers GET /bot-deliveries?endpoint=&status=&type=&since=&from=&to=&before=.
func (h *BotDeliveries) List(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f := readListFilters(c, consoleNow(h.Now))
	status, eventType := oneOf(c.Query("status"), botDeliveryStatuses), oneOf(c.Query("type"), botEventTypes)
	endpoints, err := h.Store.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	names := newEndpointNames(endpoints)
	result, err := h.Store.ListBotDeliveries(ctx, store.BotDeliveryFilter{EndpointID: f.endpointID, Status: status, EventType: eventType, Created: f.period, Before: f.before})
	if err != nil {
		return err
	}
	rows := make([]views.BotDeliveryRow, len(result.Rows))
	for i, d := range result.Rows {
		rows[i] = botDeliveryRow(d, names)
	}
	q := f.query()
	if status != "" {
		q.Set("status", status)
	}
	if eventType != "" {
		q.Set("type", eventType)
	}
	props := views.BotDeliveriesProps{
		Filters:   views.BotDeliveryFilters{Endpoint: f.endpoint, Status: status, Type: eventType, Since: f.since, From: f.from, To: f.to},
		Endpoints: names.options, Statuses: botDeliveryStatuses, Types: botEventTypes, Periods: periods(f.since), Rows: rows,
	}
	props.ListURL, props.Pager = pageLinks("/bot-deliveries", q, f.before, result.Next)
	if wantsPart(c, views.BotDeliveryListID) {
		return render(c, fiber.StatusOK, views.BotDeliveryList(props))
	}
	return page(c, fiber.StatusOK, "Bot deliveries", "botdeliveries", views.BotDeliveriesPage(props))
}

// Show answers GET /bot-deliveries/:id: one delivery with its event and
// what its last attempt got back.
func (h *BotDeliveries) Show(c *fiber.Ctx) error {
	d, body, names, err := h.load(c)
	if err != nil {
		return err
	}
	props := views.BotDeliveryProps{Delivery: botDeliveryRow(d, names), URL: d.URL, ResponseExcerpt: d.ResponseExcerpt, CSRFToken: csrfToken(c)}
	props.Body, _ = prettyJSON(body)
	if c.Query("replayed") != "" {
		props.Notice = botDeliveryNotice("Replayed", d)
	}
	return page(c, fiber.StatusOK, fmt.Sprintf("Bot delivery #%d", d.ID), "botdeliveries", views.BotDeliveryPage(props))
}

// Replay answers POST /bot-deliveries/:id/replay and goes back to the
// delivery's page, which says how the replay went.
func (h *BotDeliveries) Replay(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := h.replay(c.UserContext(), id); err != nil {
		return err
	}
	return redirect(c, fmt.Sprintf("/bot-deliveries/%d?replayed=1", id))
}

// SendTestEvent answers POST /endpoints/:id/bot-test-event from the endpoint
// page: the result in place of the button's section.
func (h *BotDeliveries) SendTestEvent(c *fiber.Ctx) error {
	d, err := h.sendTestEvent(c)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.BotTestResult(botDeliveryNotice("Test event", d), d.Status == store.BotDeliveryDelivered, d.ID))
}

func (h *BotDeliveries) sendTestEvent(c *fiber.Ctx) (store.BotDelivery, error) {
	id, err := pathID(c)
	if err != nil {
		return store.BotDelivery{}, err
	}
	e, err := h.Store.EndpointByID(c.UserContext(), id)
	if err != nil {
		return store.BotDelivery{}, err
	}
	d, err := h.Relay.SendBotTestEvent(c.UserContext(), e)
	if errors.Is(err, relay.ErrNoBotWebhook) {
		return store.BotDelivery{}, &ValidationError{Fields: map[string]string{"botWebhookUrl": "Set the endpoint's Bot Webhook URL first."}}
	}
	return d, err
}

func (h *BotDeliveries) replay(ctx context.Context, id int64) (store.BotDelivery, error) {
	d, err := h.Relay.ReplayBotDelivery(ctx, id)
	if errors.Is(err, relay.ErrNoBotWebhook) {
		return store.BotDelivery{}, &ValidationError{Fields: map[string]string{"botWebhookUrl": "The endpoint has no Bot Webhook URL to replay to."}}
	}
	return d, err
}

// botDeliveryNotice says in words how a delivery's last attempt went.
func botDeliveryNotice(what string, d store.BotDelivery) string {
	if d.Status == store.BotDeliveryDelivered && d.LastError == "" {
		return fmt.Sprintf("%s: the bot answered %d in %d ms.", what, d.ResponseStatus, d.LatencyMS)
	}
	if d.Status == store.BotDeliveryPending && d.AttemptedAt == nil {
		return what + ": due now."
	}
	return fmt.Sprintf("%s: %s.", what, d.LastError)
}

// load reads the delivery of the path, the body it sends and the endpoints' names.
func (h *BotDeliveries) load(c *fiber.Ctx) (store.BotDelivery, string, endpointNames, error) {
	ctx := c.UserContext()
	id, err := pathID(c)
	if err != nil {
		return store.BotDelivery{}, "", endpointNames{}, err
	}
	d, err := h.Store.BotDeliveryByID(ctx, id)
	if err != nil {
		return store.BotDelivery{}, "", endpointNames{}, err
	}
	endpoints, err := h.Store.ListEndpoints(ctx)
	if err != nil {
		return store.BotDelivery{}, "", endpointNames{}, err
	}
	names := newEndpointNames(endpoints)
	masked := names.endpoints[d.EndpointID].Privacy.MaskSensitiveLogging
	body, err := h.body(ctx, d, masked)
	if err != nil {
		return store.BotDelivery{}, "", endpointNames{}, err
	}
	if masked && d.ResponseExcerpt != "" {
		d.ResponseExcerpt = genesys.Masked
	}
	return d, body, names, nil
}

// body is the JSON a delivery sends, as it would be sent now; for an
// endpoint that masks sensitive logging, as the webhook log keeps a body:
// texts, names and the user id masked (docs/privacy.md).
func (h *BotDeliveries) body(ctx context.Context, d store.BotDelivery, masked bool) (string, error) {
	ev, err := h.Relay.BotEventOf(ctx, d)
	if err != nil {
		return "", err
	}
	if masked {
		ev.UserID = genesys.Masked
		if data, ok := ev.Data.(map[string]any); ok && data["agentName"] != nil {
			data["agentName"] = genesys.Masked
		}
	}
	b, err := json.Marshal(ev)
	if err != nil || !masked {
		return string(b), err
	}
	return string(genesys.MaskBody(b)), nil
}

func botDeliveryRow(d store.BotDelivery, names endpointNames) views.BotDeliveryRow {
	return views.BotDeliveryRow{
		ID: d.ID, Created: d.CreatedAt, Endpoint: names.name(d.EndpointID), EventType: d.EventType, EventID: d.EventID, SessionID: d.SessionID,
		Status: d.Status, Attempts: d.Attempts, ResponseStatus: d.ResponseStatus, Latency: time.Duration(d.LatencyMS) * time.Millisecond,
		Error: d.LastError, ConversationID: derefID(d.ConversationID), NextAttempt: nextAttempt(d),
	}
}

// nextAttempt is when a waiting delivery is tried again; nil otherwise.
func nextAttempt(d store.BotDelivery) *time.Time {
	if d.Status != store.BotDeliveryPending {
		return nil
	}
	return &d.NextAttemptAt
}

// botDeliveryJSON is a row of the bot delivery log, as the API shows it.
type botDeliveryJSON struct {
	ID              int64      `json:"id"`
	CreatedAt       time.Time  `json:"createdAt"`
	EndpointID      int64      `json:"endpointId"`
	Endpoint        string     `json:"endpoint,omitempty"`
	ConversationID  *int64     `json:"conversationId"`
	SessionID       string     `json:"sessionId"`
	EventID         string     `json:"eventId"`
	EventType       string     `json:"type"`
	Status          string     `json:"status"`
	Attempts        int        `json:"attempts"`
	NextAttemptAt   *time.Time `json:"nextAttemptAt,omitempty"`
	URL             string     `json:"url,omitempty"`
	ResponseStatus  int        `json:"responseStatus"` // 0 when no answer came
	LatencyMS       int64      `json:"latencyMs"`
	ResponseExcerpt string     `json:"responseExcerpt,omitempty"`
	Error           string     `json:"error,omitempty"`
	AttemptedAt     *time.Time `json:"attemptedAt,omitempty"`
	DeliveredAt     *time.Time `json:"deliveredAt,omitempty"`
}

func newBotDeliveryJSON(d store.BotDelivery, names endpointNames) botDeliveryJSON {
	return botDeliveryJSON{ID: d.ID, CreatedAt: d.CreatedAt, EndpointID: d.EndpointID, Endpoint: names.name(d.EndpointID), ConversationID: d.ConversationID,
		SessionID: d.SessionID, EventID: d.EventID, EventType: d.EventType, Status: d.Status, Attempts: d.Attempts, NextAttemptAt: nextAttempt(d),
		URL: d.URL, ResponseStatus: d.ResponseStatus, LatencyMS: d.LatencyMS, ResponseExcerpt: d.ResponseExcerpt, Error: d.LastError,
		AttemptedAt: d.AttemptedAt, DeliveredAt: d.DeliveredAt}
}

// APIList answers GET /api/v1/admin/bot-deliveries?endpoint=&status=&type=&since=&from=&to=&before=.
func (h *BotDeliveries) APIList(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f, extra, err := apiListFilters(c, consoleNow(h.Now), map[string][]views.Option{"status": botDeliveryStatuses, "type": botEventTypes})
	if err != nil {
		return err
	}
	endpoints, err := h.Store.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	names := newEndpointNames(endpoints)
	result, err := h.Store.ListBotDeliveries(ctx, store.BotDeliveryFilter{EndpointID: f.endpointID, Status: extra["status"], EventType: extra["type"],
		Created: f.period, Before: f.before})
	if err != nil {
		return err
	}
	out := make([]botDeliveryJSON, len(result.Rows))
	for i, d := range result.Rows {
		out[i] = newBotDeliveryJSON(d, names)
	}
	return c.JSON(struct {
		Deliveries []botDeliveryJSON `json:"botDeliveries"`
		pageJSON
	}{out, newPageJSON("/api/v1/admin/bot-deliveries", filterQuery(f, extra), result.Next)})
}

// APIGet answers GET /api/v1/admin/bot-deliveries/:id: the row with the
// event it sends.
func (h *BotDeliveries) APIGet(c *fiber.Ctx) error {
	d, body, names, err := h.load(c)
	if err != nil {
		return err
	}
	return c.JSON(struct {
		botDeliveryJSON
		Event json.RawMessage `json:"event"`
	}{newBotDeliveryJSON(d, names), json.RawMessage(body)})
}

// APIReplay answers POST /api/v1/admin/bot-deliveries/:id/replay with the
// delivery after its replay.
func (h *BotDeliveries) APIReplay(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	d, err := h.replay(c.UserContext(), id)
	if err != nil {
		return err
	}
	return h.apiRow(c, d)
}

// APITestEvent answers POST /api/v1/admin/endpoints/:id/bot-test-event with
// the test event's delivery: sent at once, its outcome in the row.
func (h *BotDeliveries) APITestEvent(c *fiber.Ctx) error {
	d, err := h.sendTestEvent(c)
	if err != nil {
		return err
	}
	c.Status(fiber.StatusCreated)
	return h.apiRow(c, d)
}

func (h *BotDeliveries) apiRow(c *fiber.Ctx, d store.BotDelivery) error {
	endpoints, err := h.Store.ListEndpoints(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(newBotDeliveryJSON(d, newEndpointNames(endpoints)))
}
