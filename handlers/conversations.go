package handlers

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// ConversationStore is what the conversation pages need from the store.
type ConversationStore interface {
	ListEndpoints(ctx context.Context) ([]store.Endpoint, error)
	ListConversations(ctx context.Context, f store.ConversationFilter) (store.Page[store.Conversation], error)
	ConversationByID(ctx context.Context, id int64) (store.Conversation, error)
	ConversationMessages(ctx context.Context, conversationID int64) ([]store.Message, error)
	WebhooksOf(ctx context.Context, conversationID int64) ([]store.Webhook, error)
	APICallsOf(ctx context.Context, conversationID int64) ([]store.APICall, error)
	OutboxOf(ctx context.Context, conversationID int64) ([]store.OutboxItem, error)
	BotDeliveriesOf(ctx context.Context, conversationID int64) ([]store.BotDelivery, error)
}

// Conversations serves the live conversation list and each conversation's timeline.
type Conversations struct {
	Store ConversationStore
	Now   func() time.Time // pinned in tests
}

var conversationStates = []views.Option{
	{Value: store.StateQueued, Label: views.StateLabel(store.StateQueued)},
	{Value: store.StateAgentJoined, Label: views.StateLabel(store.StateAgentJoined)},
	{Value: store.StateEnded, Label: views.StateLabel(store.StateEnded)},
	{Value: store.StateFailed, Label: views.StateLabel(store.StateFailed)},
	{Value: store.StateWithBot, Label: views.StateLabel(store.StateWithBot)},
}

// List answers GET /conversations?endpoint=&state=&since=&from=&to=&q=&before=.
func (h *Conversations) List(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f := readListFilters(c, consoleNow(h.Now))
	state := oneOf(c.Query("state"), conversationStates)
	search := strings.TrimSpace(c.Query("q"))
	endpoints, err := h.Store.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	names := newEndpointNames(endpoints)
	result, err := h.Store.ListConversations(ctx, store.ConversationFilter{
		EndpointID: f.endpointID, State: state, Created: f.period, Search: search, Before: f.before,
	})
	if err != nil {
		return err
	}
	rows := make([]views.ConversationRow, len(result.Rows))
	for i, conv := range result.Rows {
		rows[i] = views.ConversationRow{
			ID: conv.ID, Created: conv.CreatedAt, Endpoint: names.name(conv.EndpointID), SessionID: conv.SessionID, UserID: conv.UserID,
			State: conv.State, EndReason: conv.EndReason, Agent: conv.AgentName, GenesysID: conv.GenesysConversationID,
			LastMessage: conv.LastMessagePreview, LastMessageFrom: conv.LastMessageFrom, LastMessageAt: timeOrZero(conv.LastMessageAt),
			CopilotURL: names.copilotURL(conv.EndpointID, conv.UserID, conv.SessionID),
			Wait:       waitText(conv, consoleNow(h.Now)),
		}
	}
	q := f.query()
	if state != "" {
		q.Set("state", state)
	}
	if search != "" {
		q.Set("q", search)
	}
	props := views.ConversationsProps{
		Filters:   views.ConversationFilters{Endpoint: f.endpoint, State: state, Since: f.since, From: f.from, To: f.to, Search: search},
		Endpoints: names.options, States: conversationStates, Periods: periods(f.since), Rows: rows,
		Notice: noticeText(c.Query("notice")),
	}
	props.ListURL, props.Pager = pageLinks("/conversations", q, f.before, result.Next)
	if wantsPart(c, views.ConversationListID) {
		return render(c, fiber.StatusOK, views.ConversationList(props))
	}
	return page(c, fiber.StatusOK, "Conversations", "conversations", views.ConversationsPage(props))
}

// Show answers GET /conversations/:id: the conversation and its timeline.
func (h *Conversations) Show(c *fiber.Ctx) error {
	ctx := c.UserContext()
	id, err := pathID(c)
	if err != nil {
		return err
	}
	d, err := h.load(ctx, id)
	if err != nil {
		return err
	}
	props := conversationProps(d)
	props.Wait = waitText(d.conv, consoleNow(h.Now))
	props.CSRFToken = csrfToken(c)
	if wantsPart(c, views.ConversationDetailID) {
		return render(c, fiber.StatusOK, views.ConversationDetail(props))
	}
	return page(c, fiber.StatusOK, fmt.Sprintf("Conversation #%d", id), "conversations", views.ConversationPage(props))
}

func conversationProps(d conversationData) views.ConversationProps {
	conv, names := d.conv, d.names
	p := views.ConversationProps{
		ID: conv.ID, Endpoint: names.name(conv.EndpointID), SessionID: conv.SessionID, UserID: conv.UserID,
		State: conv.State, EndReason: conv.EndReason, Agent: conv.AgentName, GenesysID: conv.GenesysConversationID,
		Created: conv.CreatedAt, AgentJoined: timeOrZero(conv.AgentJoinedAt), FirstAgentReply: timeOrZero(conv.FirstAgentMessageAt), Ended: timeOrZero(conv.EndedAt),
		Language: conv.Language, Skills: conv.Skills, Priority: conv.Priority,
		FirstName: conv.FirstName, LastName: conv.LastName, Email: conv.Email,
		CopilotURL: names.copilotURL(conv.EndpointID, conv.UserID, conv.SessionID),
		Timeline:   timeline(d),
	}
	for k, v := range conv.CustomAttributes {
		p.CustomAttributes = append(p.CustomAttributes, views.KeyValue{Key: k, Value: v})
	}
	slices.SortFunc(p.CustomAttributes, func(a, b views.KeyValue) int { return cmp.Compare(a.Key, b.Key) })
	return p
}

// timeline merges a conversation's messages, state changes, webhooks,
// Genesys calls and bot deliveries into one list in time order. At the same
// instant the order is messages, then webhooks, then calls, then bot
// deliveries (as they happen: a webhook is applied as a message, a message
// is sent by a call, and an event goes to the bot once it is committed).
func timeline(d conversationData) []views.TimelineEntry {
	messages, hooks, calls := d.messages, d.hooks, d.calls
	pendingByMessage := map[int64]store.OutboxItem{}
	for _, item := range d.outbox {
		if item.MessageID != nil {
			pendingByMessage[*item.MessageID] = item
		}
	}
	entries := make([]views.TimelineEntry, 0, len(messages)+len(hooks)+len(calls))
	for _, m := range messages {
		entries = append(entries, messageEntry(m, pendingByMessage[m.ID]))
	}
	for _, w := range hooks {
		e := views.TimelineEntry{At: w.ReceivedAt, Kind: views.EntryWebhook, Who: "Genesys",
			Text: strings.TrimSpace(w.EventType + " webhook: " + views.OutcomeLabel(w.Outcome, w.ProcessedAt != nil)),
			Link: fmt.Sprintf("/webhooks/%d", w.ID), LinkText: fmt.Sprintf("Webhook #%d", w.ID)}
		if w.Verdict != store.VerdictValid {
			e.Failed, e.Error = true, "signature check: "+w.Verdict+" "+w.VerdictDetail
		}
		if w.ReplayOf != nil {
			e.Detail = fmt.Sprintf("replay of webhook #%d", *w.ReplayOf)
		}
		entries = append(entries, e)
	}
	for _, call := range calls {
		e := views.TimelineEntry{At: call.CreatedAt, Kind: views.EntryAPICall, Who: "Handover",
			Text:   call.Method + " " + call.Path,
			Detail: fmt.Sprintf("HTTP %s in %d ms, attempt %d", statusWord(call.Status), call.LatencyMS, call.Attempt),
			Error:  call.Error}
		e.Failed = call.Error != "" || call.Status < 200 || call.Status > 399
		if e.Failed {
			e.Delivery = "failed"
		} else {
			e.Delivery = "ok"
		}
		entries = append(entries, e)
	}
	for _, bd := range d.deliveries {
		entries = append(entries, botDeliveryEntry(bd))
	}
	slices.SortStableFunc(entries, func(a, b views.TimelineEntry) int { return a.At.Compare(b.At) })
	return entries
}

// botDeliveryEntry is a bot delivery on the timeline: at its event's time,
// with how far it got.
func botDeliveryEntry(d store.BotDelivery) views.TimelineEntry {
	e := views.TimelineEntry{At: d.CreatedAt, Kind: views.EntryBotDelivery, Who: "Handover",
		Text: d.EventType + " event to the bot webhook: " + views.BotDeliveryStatusLabel(d.Status), Delivery: d.Status,
		Link: fmt.Sprintf("/bot-deliveries/%d", d.ID), LinkText: fmt.Sprintf("Bot delivery #%d", d.ID), Failed: d.Status == store.BotDeliveryFailed}
	if d.Attempts > 0 {
		e.Detail = fmt.Sprintf("HTTP %s in %d ms, %d attempts", statusWord(d.ResponseStatus), d.LatencyMS, d.Attempts)
		e.Error = d.LastError
	}
	return e
}

func messageEntry(m store.Message, item store.OutboxItem) views.TimelineEntry {
	e := views.TimelineEntry{At: m.CreatedAt, Kind: views.EntryMessage, Who: m.Direction, Text: m.Text, Delivery: m.Delivery, Error: m.Error}
	switch m.Kind {
	case store.KindTranscript:
		e.Kind = views.EntryTranscript
	case store.KindState:
		e.Kind, e.Delivery = views.EntryState, ""
		e.Text = "now " + views.StateLabel(m.Data.State)
		if m.Data.Reason != "" {
			e.Text += ": " + views.ReasonLabel(m.Data.Reason)
		}
		if m.Data.AgentName != "" {
			e.Detail = "agent " + m.Data.AgentName
		}
	case store.KindTyping:
		e.Text = m.Direction + " is typing"
	case store.KindReceipt:
		e.Kind, e.Who = views.EntryReceipt, "Genesys"
		e.Text = fmt.Sprintf("receipt %s for message #%d", m.Data.ReceiptStatus, m.Data.AboutMessage)
		if m.Data.FinalReceipt {
			e.Text += " (final)"
		}
	case store.KindFlowHidden:
		e.Detail = "Architect flow message, hidden from the user (endpoint setting)"
	case store.KindQueue:
		e.Kind, e.Delivery, e.Who = views.EntryQueue, "", "Genesys"
		if q := m.Data.Queue; q != nil {
			e.Text = fmt.Sprintf("waited %s; %d in the queue; estimated wait %s", time.Duration(q.WaitedSeconds)*time.Second, q.Waiting, estimateText(q.EstimatedWaitSeconds))
		}
	}
	if m.Direction == store.FromFlow && m.Kind == store.KindText {
		e.Detail = "Architect flow message, shown to the user as from the system"
	}
	var details []string
	if e.Kind != views.EntryState && m.Data.AgentName != "" && m.Direction == store.FromAgent {
		details = append(details, "agent "+m.Data.AgentName)
	}
	for _, a := range m.Data.Attachments {
		details = append(details, "attachment "+cmp.Or(a.Filename, a.URL))
	}
	for _, q := range m.Data.QuickReplies {
		details = append(details, "quick reply "+q.Text)
	}
	for _, card := range m.Data.Cards {
		details = append(details, fmt.Sprintf("card %q with %d buttons", card.Title, len(card.Actions)))
	}
	if m.Data.DatePicker != nil {
		details = append(details, fmt.Sprintf("date picker with %d times", len(m.Data.DatePicker.Times)))
	}
	if m.Data.ListPicker != nil {
		details = append(details, fmt.Sprintf("list picker with %d sections", len(m.Data.ListPicker.Sections)))
	}
	if m.Kind == store.KindText && m.Direction == store.FromSystem && m.Data.Reason != "" {
		details = append(details, m.Data.Reason)
	}
	if (m.Kind == store.KindText || m.Kind == store.KindTranscript || m.Kind == store.KindFlowHidden) && m.Text == "" && len(details) == 0 {
		details = append(details, "text not kept: the endpoint does not collect conversations")
	}
	if m.Delivery == store.DeliveryPending && item.ID != 0 && item.Attempts > 0 {
		details = append(details, fmt.Sprintf("%d attempts so far, next at %s", item.Attempts, item.NextAttemptAt.UTC().Format("15:04:05")))
		if e.Error == "" {
			e.Error = item.LastError
		}
	}
	if e.Detail != "" {
		details = append([]string{e.Detail}, details...)
	}
	e.Detail = strings.Join(details, "; ")
	e.Failed = m.Delivery == store.DeliveryFailed
	return e
}

func statusWord(status int) string {
	if status == 0 {
		return "no answer"
	}
	return fmt.Sprint(status)
}

func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// waitText is how long the handover waited for an agent: so far while it
// is queued, until the join once an agent joined; "" for one that ended
// without an agent.
func waitText(c store.Conversation, now time.Time) string {
	switch {
	case c.AgentJoinedAt != nil:
		return "waited " + c.AgentJoinedAt.Sub(c.CreatedAt).Round(time.Second).String()
	case c.State == store.StateQueued:
		return "waiting " + now.Sub(c.CreatedAt).Round(time.Second).String()
	}
	return ""
}

// estimateText says Genesys's estimated wait, or that it gave none.
func estimateText(seconds *int) string {
	if seconds == nil {
		return "unknown"
	}
	return (time.Duration(*seconds) * time.Second).String()
}
