package handlers

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// The JSON admin API for what the console shows: conversations with their
// timelines, the webhook log with replay, the Genesys call log, and a
// pre-flight run. The same stores, filters and keyset paging as the
// console pages; a filter that does not parse is a 422 naming it (the
// console ignores it instead).

// pageJSON is the keyset paging of a list: nextBefore is the cursor of the
// next (older) page, next the same as a path; both absent on the last page.
type pageJSON struct {
	NextBefore int64  `json:"nextBefore,omitempty"`
	Next       string `json:"next,omitempty"`
}

func newPageJSON(path string, q map[string]string, next int64) pageJSON {
	if next == 0 {
		return pageJSON{}
	}
	params := []string{}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if q[k] != "" {
			params = append(params, k+"="+queryEscape(q[k]))
		}
	}
	params = append(params, "before="+strconv.FormatInt(next, 10))
	return pageJSON{NextBefore: next, Next: path + "?" + strings.Join(params, "&")}
}

// apiListFilters reads the console's list filters, refusing what does not
// parse, and the extra parameters a list takes (each must be one of its
// allowed values, when given).
func apiListFilters(c *fiber.Ctx, now time.Time, extra map[string][]views.Option) (listFilters, map[string]string, error) {
	errs := map[string]string{}
	if v := c.Query("endpoint"); v != "" {
		if id, err := strconv.ParseInt(v, 10, 64); err != nil || id <= 0 {
			errs["endpoint"] = "An endpoint id: a positive whole number."
		}
	}
	if v := c.Query("since"); v != "" {
		if _, ok := parseSince(v); !ok {
			errs["since"] = "A period such as 90m, 24h or 7d."
		}
	}
	for _, k := range []string{"from", "to"} {
		if v := c.Query(k); v != "" {
			if _, err := time.Parse(dateLayout, v); err != nil {
				errs[k] = "A date such as 2026-12-04."
			}
		}
	}
	if v := c.Query("before"); v != "" {
		if before, err := strconv.ParseInt(v, 10, 64); err != nil || before <= 0 {
			errs["before"] = "The nextBefore of an earlier page: a positive whole number."
		}
	}
	values := map[string]string{}
	for k, options := range extra {
		v := c.Query(k)
		if v == "" {
			continue
		}
		if oneOf(v, options) == "" {
			allowed := make([]string, len(options))
			for i, o := range options {
				allowed[i] = o.Value
			}
			errs[k] = "One of " + strings.Join(allowed, ", ") + "."
			continue
		}
		values[k] = v
	}
	if len(errs) > 0 {
		return listFilters{}, nil, &ValidationError{Fields: errs}
	}
	return readListFilters(c, now), values, nil
}

// filterQuery is the filters of a list as the parameters of its next page.
func filterQuery(f listFilters, extra map[string]string) map[string]string {
	q := map[string]string{"endpoint": f.endpoint, "since": f.since, "from": f.from, "to": f.to}
	for k, v := range extra {
		q[k] = v
	}
	return q
}

// conversationJSON is a conversation as the list and its page show it.
type conversationJSON struct {
	ID                    int64      `json:"id"`
	EndpointID            int64      `json:"endpointId"`
	Endpoint              string     `json:"endpoint"`
	SessionID             string     `json:"sessionId"`
	UserID                string     `json:"userId"`
	State                 string     `json:"state"`
	EndReason             string     `json:"endReason,omitempty"`
	AgentName             string     `json:"agentName,omitempty"`
	GenesysConversationID string     `json:"genesysConversationId,omitempty"`
	CreatedAt             time.Time  `json:"createdAt"`
	AgentJoinedAt         *time.Time `json:"agentJoinedAt,omitempty"`
	EndedAt               *time.Time `json:"endedAt,omitempty"`
	LastMessage           string     `json:"lastMessage,omitempty"`
	LastMessageFrom       string     `json:"lastMessageFrom,omitempty"`
	LastMessageAt         *time.Time `json:"lastMessageAt,omitempty"`
	Wait                  string     `json:"wait,omitempty"` // how long the customer waited, or waits, in words
}

func newConversationJSON(conv store.Conversation, names endpointNames, now time.Time) conversationJSON {
	return conversationJSON{
		ID: conv.ID, EndpointID: conv.EndpointID, Endpoint: names.name(conv.EndpointID), SessionID: conv.SessionID, UserID: conv.UserID,
		State: conv.State, EndReason: conv.EndReason, AgentName: conv.AgentName, GenesysConversationID: conv.GenesysConversationID,
		CreatedAt: conv.CreatedAt, AgentJoinedAt: conv.AgentJoinedAt, EndedAt: conv.EndedAt,
		LastMessage: conv.LastMessagePreview, LastMessageFrom: conv.LastMessageFrom, LastMessageAt: conv.LastMessageAt,
		Wait: waitText(conv, now),
	}
}

// APIList answers GET /api/v1/admin/conversations?endpoint=&state=&since=&from=&to=&q=&before=.
func (h *Conversations) APIList(c *fiber.Ctx) error {
	ctx := c.UserContext()
	now := consoleNow(h.Now)
	f, extra, err := apiListFilters(c, now, map[string][]views.Option{"state": conversationStates})
	if err != nil {
		return err
	}
	search := strings.TrimSpace(c.Query("q"))
	if len(search) > maxSearchLength {
		return &ValidationError{Fields: map[string]string{"q": "At most " + strconv.Itoa(maxSearchLength) + " characters."}}
	}
	endpoints, err := h.Store.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	names := newEndpointNames(endpoints)
	result, err := h.Store.ListConversations(ctx, store.ConversationFilter{EndpointID: f.endpointID, State: extra["state"], Created: f.period, Search: search, Before: f.before})
	if err != nil {
		return err
	}
	out := make([]conversationJSON, len(result.Rows))
	for i, conv := range result.Rows {
		out[i] = newConversationJSON(conv, names, now)
	}
	extra["q"] = search
	return c.JSON(struct {
		Conversations []conversationJSON `json:"conversations"`
		pageJSON
	}{out, newPageJSON("/api/v1/admin/conversations", filterQuery(f, extra), result.Next)})
}

// maxSearchLength bounds the conversations search.
const maxSearchLength = 200

// timelineJSON is one entry of a conversation's timeline, as its page shows it.
type timelineJSON struct {
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`
	Who      string    `json:"who,omitempty"`
	Text     string    `json:"text,omitempty"`
	Delivery string    `json:"delivery,omitempty"`
	Error    string    `json:"error,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	Link     string    `json:"link,omitempty"`
	Failed   bool      `json:"failed,omitempty"`
}

// APIGet answers GET /api/v1/admin/conversations/:id: the conversation, its
// handover attributes and its timeline.
func (h *Conversations) APIGet(c *fiber.Ctx) error {
	ctx := c.UserContext()
	id, err := pathID(c)
	if err != nil {
		return err
	}
	d, err := h.load(ctx, id)
	if err != nil {
		return err
	}
	conv := d.conv
	props := conversationProps(d)
	entries := make([]timelineJSON, len(props.Timeline))
	for i, e := range props.Timeline {
		entries[i] = timelineJSON{At: e.At, Kind: e.Kind, Who: e.Who, Text: e.Text, Delivery: e.Delivery, Error: e.Error, Detail: e.Detail, Link: e.Link, Failed: e.Failed}
	}
	attrs, skills := conv.CustomAttributes, conv.Skills
	if attrs == nil {
		attrs = map[string]string{}
	}
	if skills == nil {
		skills = []string{}
	}
	return c.JSON(struct {
		conversationJSON
		Language          string            `json:"language,omitempty"`
		Skills            []string          `json:"skills"`
		Priority          int               `json:"priority"`
		CustomAttributes  map[string]string `json:"customAttributes"`
		FirstName         string            `json:"firstName,omitempty"`
		LastName          string            `json:"lastName,omitempty"`
		Email             string            `json:"email,omitempty"`
		FirstAgentReplyAt *time.Time        `json:"firstAgentReplyAt,omitempty"`
		Timeline          []timelineJSON    `json:"timeline"`
	}{newConversationJSON(conv, d.names, consoleNow(h.Now)), conv.Language, skills, conv.Priority, attrs,
		conv.FirstName, conv.LastName, conv.Email, conv.FirstAgentMessageAt, entries})
}

// conversationData is a conversation and everything its page shows.
type conversationData struct {
	conv       store.Conversation
	messages   []store.Message
	hooks      []store.Webhook
	calls      []store.APICall
	outbox     []store.OutboxItem
	deliveries []store.BotDelivery
	names      endpointNames
}

// load reads a conversation and everything its page shows.
func (h *Conversations) load(ctx context.Context, id int64) (conversationData, error) {
	var d conversationData
	var err error
	if d.conv, err = h.Store.ConversationByID(ctx, id); err != nil {
		return d, err
	}
	endpoints, err := h.Store.ListEndpoints(ctx)
	if err != nil {
		return d, err
	}
	d.names = newEndpointNames(endpoints)
	if d.messages, err = h.Store.ConversationMessages(ctx, id); err != nil {
		return d, err
	}
	if d.hooks, err = h.Store.WebhooksOf(ctx, id); err != nil {
		return d, err
	}
	if d.calls, err = h.Store.APICallsOf(ctx, id); err != nil {
		return d, err
	}
	if d.outbox, err = h.Store.OutboxOf(ctx, id); err != nil {
		return d, err
	}
	d.deliveries, err = h.Store.BotDeliveriesOf(ctx, id)
	return d, err
}

// webhookJSON is a row of the webhook log.
type webhookJSON struct {
	ID             int64     `json:"id"`
	ReceivedAt     time.Time `json:"receivedAt"`
	EndpointID     *int64    `json:"endpointId"`
	Endpoint       string    `json:"endpoint,omitempty"`
	EventType      string    `json:"eventType,omitempty"`
	Verdict        string    `json:"verdict"`
	VerdictDetail  string    `json:"verdictDetail,omitempty"`
	Status         int       `json:"status"`
	LatencyMS      float64   `json:"latencyMs"`
	Outcome        string    `json:"outcome,omitempty"`
	Processed      bool      `json:"processed"`
	ConversationID *int64    `json:"conversationId"`
	ReplayOf       *int64    `json:"replayOf"`
	ClockSkewMS    int64     `json:"clockSkewMs,omitempty"`
}

func newWebhookJSON(w store.Webhook, names endpointNames) webhookJSON {
	return webhookJSON{ID: w.ID, ReceivedAt: w.ReceivedAt, EndpointID: w.EndpointID, Endpoint: names.namePtr(w.EndpointID), EventType: w.EventType,
		Verdict: w.Verdict, VerdictDetail: w.VerdictDetail, Status: w.Status, LatencyMS: float64(w.LatencyUS) / 1000, Outcome: w.Outcome,
		Processed: w.ProcessedAt != nil, ConversationID: w.ConversationID, ReplayOf: w.ReplayOf, ClockSkewMS: w.ClockSkewMS}
}

// APIList answers GET /api/v1/admin/webhooks?endpoint=&verdict=&since=&from=&to=&before=.
func (h *WebhookLog) APIList(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f, extra, err := apiListFilters(c, consoleNow(h.Now), map[string][]views.Option{"verdict": webhookVerdicts})
	if err != nil {
		return err
	}
	endpoints, err := h.Store.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	names := newEndpointNames(endpoints)
	result, err := h.Store.ListWebhooks(ctx, store.WebhookFilter{EndpointID: f.endpointID, Verdict: extra["verdict"], Received: f.period, Before: f.before})
	if err != nil {
		return err
	}
	out := make([]webhookJSON, len(result.Rows))
	for i, w := range result.Rows {
		out[i] = newWebhookJSON(w, names)
	}
	return c.JSON(struct {
		Webhooks []webhookJSON `json:"webhooks"`
		pageJSON
	}{out, newPageJSON("/api/v1/admin/webhooks", filterQuery(f, extra), result.Next)})
}

// APIGet answers GET /api/v1/admin/webhooks/:id: the row with its headers
// (the signature masked), its body as kept, and its replays.
func (h *WebhookLog) APIGet(c *fiber.Ctx) error {
	w, replays, names, err := h.load(c)
	if err != nil {
		return err
	}
	replayRows := make([]webhookJSON, len(replays))
	for i, r := range replays {
		replayRows[i] = newWebhookJSON(r, names)
	}
	headers := w.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	return c.JSON(struct {
		webhookJSON
		IntegrationID    string            `json:"integrationId,omitempty"`
		GenesysMessageID string            `json:"genesysMessageId,omitempty"`
		Headers          map[string]string `json:"headers"`
		Body             string            `json:"body"`
		BodyBytes        int64             `json:"bodyBytes"`
		BodySHA256       string            `json:"bodySha256,omitempty"`
		BodyTruncated    bool              `json:"bodyTruncated"`
		BodyMasked       bool              `json:"bodyMasked"`
		Replays          []webhookJSON     `json:"replays"`
	}{newWebhookJSON(w, names), w.IntegrationID, w.GenesysMessageID, headers, w.Body, w.BodyBytes, w.BodySHA256, w.Truncated(), w.Masked, replayRows})
}

// load reads the webhook of the path with its replays and the endpoints' names.
func (h *WebhookLog) load(c *fiber.Ctx) (store.Webhook, []store.Webhook, endpointNames, error) {
	ctx := c.UserContext()
	id, err := pathID(c)
	if err != nil {
		return store.Webhook{}, nil, endpointNames{}, err
	}
	w, err := h.Store.WebhookByID(ctx, id)
	if err != nil {
		return store.Webhook{}, nil, endpointNames{}, err
	}
	endpoints, err := h.Store.ListEndpoints(ctx)
	if err != nil {
		return store.Webhook{}, nil, endpointNames{}, err
	}
	replays, err := h.Store.WebhookReplays(ctx, id)
	if err != nil {
		return store.Webhook{}, nil, endpointNames{}, err
	}
	return w, replays, newEndpointNames(endpoints), nil
}

// APIReplay answers POST /api/v1/admin/webhooks/:id/replay: 201 with the
// replay's row (deduplication applies: a webhook already applied is logged
// as a duplicate).
func (h *WebhookLog) APIReplay(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	replay, err := h.Relay.ReplayWebhook(c.UserContext(), id)
	if err != nil {
		return err
	}
	endpoints, err := h.Store.ListEndpoints(c.UserContext())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newWebhookJSON(replay, newEndpointNames(endpoints)))
}

// apiCallJSON is a row of the Genesys call log.
type apiCallJSON struct {
	ID             int64     `json:"id"`
	At             time.Time `json:"at"`
	EndpointID     int64     `json:"endpointId"`
	Endpoint       string    `json:"endpoint,omitempty"`
	Method         string    `json:"method"`
	Path           string    `json:"path"`
	Status         int       `json:"status"` // 0 when no answer came
	LatencyMS      int64     `json:"latencyMs"`
	Attempt        int       `json:"attempt"`
	Error          string    `json:"error,omitempty"`
	OK             bool      `json:"ok"`
	ConversationID *int64    `json:"conversationId"`
}

// APIList answers GET /api/v1/admin/api-calls?endpoint=&status=ok|failed&since=&from=&to=&before=.
func (h *APICalls) APIList(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f, extra, err := apiListFilters(c, consoleNow(h.Now), map[string][]views.Option{"status": {{Value: store.APICallsOK}, {Value: store.APICallsFailed}}})
	if err != nil {
		return err
	}
	endpoints, err := h.Store.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	names := newEndpointNames(endpoints)
	result, err := h.Store.ListAPICalls(ctx, store.APICallFilter{EndpointID: f.endpointID, Status: extra["status"], Created: f.period, Before: f.before})
	if err != nil {
		return err
	}
	out := make([]apiCallJSON, len(result.Rows))
	for i, call := range result.Rows {
		out[i] = apiCallJSON{ID: call.ID, At: call.CreatedAt, EndpointID: call.EndpointID, Endpoint: names.name(call.EndpointID), Method: call.Method, Path: call.Path,
			Status: call.Status, LatencyMS: call.LatencyMS, Attempt: call.Attempt, Error: call.Error,
			OK: call.Error == "" && call.Status >= 200 && call.Status < 400, ConversationID: call.ConversationID}
	}
	return c.JSON(struct {
		Calls []apiCallJSON `json:"apiCalls"`
		pageJSON
	}{out, newPageJSON("/api/v1/admin/api-calls", filterQuery(f, extra), result.Next)})
}

// APIPreflight answers POST /api/v1/admin/endpoints/:id/preflight: runs the
// endpoint's Test connection and answers its result (kept with the others).
func (h *EndpointTools) APIPreflight(c *fiber.Ctx) error {
	e, result, err := h.runPreflight(c)
	if err != nil {
		return err
	}
	checks := result.Results
	if checks == nil {
		checks = []store.PreflightCheck{}
	}
	return c.JSON(struct {
		EndpointID int64                  `json:"endpointId"`
		RanAt      time.Time              `json:"ranAt"`
		Passed     bool                   `json:"passed"`
		Checks     []store.PreflightCheck `json:"checks"`
	}{e.ID, result.RanAt, result.Passed(), checks})
}
