package sandbox

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/genesys"
)

// The agent desk: a page for a person to play the Genesys agent in the demo
// mode. Its forms carry no CSRF token on purpose: the desk is part of the
// fake Genesys, not of the Handover console, and guards nothing but the
// sandbox's own make-believe conversations.

// defaultAgentName is what the accept form suggests.
const defaultAgentName = "Sandbox Agent"

// customerTypingShown is how long after a customer typing event the desk
// shows "typing…": inbound typing events carry no duration (docs/genesys.md §Inbound).
const customerTypingShown = 5 * time.Second

// Element ids shared by the templates and their hx-target attributes.
const (
	deskListID       = "desk-list"
	deskTranscriptID = "desk-transcript"
)

// deskView is everything the desk page shows.
type deskView struct {
	Base      string // where the sandbox is mounted, e.g. /sandbox/genesys
	Rows      []deskRow
	Selected  *deskConversation
	Error     string
	AgentName string
	Skews     []deskChoice // the webhook clock skews offered, one selected
	Queues    []deskQueue
	CSRF      string // the console's CSRF token for the forms; "" when unguarded
	BotFlows  []botFlowView
}

// deskQueue is one queue with its agents On Queue, which the desk sets.
type deskQueue struct {
	ID, Name      string
	AgentsOnQueue string
	Figures       string // idle, waiting and with an agent, in words
}

// deskChoice is one option of a select.
type deskChoice struct {
	Value, Label string
	Selected     bool
}

// deskSkews are the clock skews the desk offers: webhooks that look old,
// as after retries or a slow clock, and webhooks from the future.
var deskSkews = []struct {
	d     time.Duration
	label string
}{
	{-20 * time.Minute, "20 minutes behind"},
	{-3 * time.Minute, "3 minutes behind"},
	{0, "none"},
	{3 * time.Minute, "3 minutes ahead"},
	{20 * time.Minute, "20 minutes ahead"},
}

// Desk defaults for the structured flow message and the failed receipt.
const (
	deskFlowQuestion   = "Did that answer your question?"
	deskWrapupCode     = "resolved"
	deskFailureMessage = "Message could not be delivered in time"
)

type deskRow struct {
	ID         string
	Customer   string
	State      string
	Queue      string
	Agent      string
	Attributes string
	Started    string
	Selected   bool
}

type deskConversation struct {
	ID             string
	Customer       string
	CustomerID     string
	State          string
	Agent          string
	Offered        string // the agent being offered the conversation, if any
	InWrapup       string // the agent in after-call work, if any
	Queue          string
	OtherQueues    []deskChoice // where the agent can transfer it
	Attributes     []deskAttribute
	Messages       []deskMessage
	CustomerTyping bool
	// LatestCustomerMessage is the newest inbound message, for receipts.
	LatestCustomerMessage *deskMessage
}

type deskAttribute struct{ Key, Value string }

type deskMessage struct {
	ID           string
	FromCustomer bool
	FromFlow     bool
	From         string
	Text         string
	Time         string
	Images       []string
	QuickReplies []string
	Receipt      string
}

func (v deskView) url(parts ...string) string {
	return v.Base + "/desk" + strings.Join(parts, "")
}

func (v deskView) conversationURL(id, action string) string {
	return v.url("/conversations/", url.PathEscape(id), action)
}

func (v deskView) selectURL(id string) string {
	return v.url("?c=", url.QueryEscape(id))
}

func (v deskView) listURL() string {
	if v.Selected == nil {
		return v.url("/list")
	}
	return v.url("/list?c=", url.QueryEscape(v.Selected.ID))
}

func (s *Sandbox) registerDesk(r fiber.Router, guard []fiber.Handler) {
	guarded := func(h fiber.Handler) []fiber.Handler { return append(slices.Clone(guard), h) }
	r.Get("/desk", guarded(s.deskPage)...)
	r.Get("/desk/list", guarded(s.deskList)...)
	r.Get("/desk/conversations/:id/transcript", guarded(s.deskTranscript)...)
	r.Post("/desk/conversations/:id/accept", guarded(s.deskAction(func(id string, c *fiber.Ctx) error {
		return s.Accept(id, formValue(c, "agent"))
	}))...)
	r.Post("/desk/conversations/:id/reply", guarded(s.deskAction(func(id string, c *fiber.Ctx) error {
		_, err := s.AgentSend(id, formValue(c, "text"), formValue(c, "image_url"))
		return err
	}))...)
	r.Post("/desk/conversations/:id/quick-replies", guarded(s.deskAction(func(id string, c *fiber.Ctx) error {
		_, err := s.AgentQuickReplies(id, formValue(c, "text"), strings.Split(formValue(c, "options"), "\n"))
		return err
	}))...)
	r.Post("/desk/conversations/:id/typing", guarded(s.deskAction(func(id string, _ *fiber.Ctx) error {
		return s.AgentTyping(id)
	}))...)
	r.Post("/desk/conversations/:id/end", guarded(s.deskAction(func(id string, _ *fiber.Ctx) error {
		return s.AgentEnd(id)
	}))...)
	r.Post("/desk/conversations/:id/offer", guarded(s.deskAction(func(id string, c *fiber.Ctx) error {
		return s.Offer(id, formValue(c, "agent"))
	}))...)
	r.Post("/desk/conversations/:id/decline", guarded(s.deskAction(func(id string, _ *fiber.Ctx) error {
		return s.DeclineOffer(id)
	}))...)
	r.Post("/desk/conversations/:id/offer-timeout", guarded(s.deskAction(func(id string, _ *fiber.Ctx) error {
		return s.OfferTimeout(id)
	}))...)
	r.Post("/desk/conversations/:id/transfer-agent", guarded(s.deskAction(func(id string, c *fiber.Ctx) error {
		return s.TransferToAgent(id, formValue(c, "agent"))
	}))...)
	r.Post("/desk/conversations/:id/transfer-queue", guarded(s.deskAction(func(id string, c *fiber.Ctx) error {
		return s.TransferToQueue(id, formValue(c, "queue"))
	}))...)
	r.Post("/desk/conversations/:id/wrapup", guarded(s.deskAction(func(id string, c *fiber.Ctx) error {
		return s.FinishWrapup(id, formValue(c, "code"))
	}))...)
	r.Post("/desk/conversations/:id/customer-end", guarded(s.deskAction(func(id string, _ *fiber.Ctx) error {
		return s.CustomerEnd(id)
	}))...)
	r.Post("/desk/conversations/:id/flow-message", guarded(s.deskAction(func(id string, c *fiber.Ctx) error {
		_, err := s.FlowMessage(id, formValue(c, "text"))
		return err
	}))...)
	r.Post("/desk/conversations/:id/flow-buttons", guarded(s.deskAction(func(id string, _ *fiber.Ctx) error {
		_, err := s.FlowStructured(id, deskFlowQuestion, []genesys.Content{
			{ContentType: genesys.ContentTypeQuickReply, QuickReply: &genesys.QuickReply{Text: "Yes", Payload: "Yes", Action: "Message"}},
			{ContentType: genesys.ContentTypeQuickReply, QuickReply: &genesys.QuickReply{Text: "No", Payload: "No", Action: "Message"}},
		})
		return err
	}))...)
	r.Post("/desk/conversations/:id/receipts", guarded(s.deskAction(func(id string, c *fiber.Ctx) error {
		return s.deskReceipts(id, formValue(c, "message"), formValue(c, "sequence"))
	}))...)
	r.Post("/desk/skew", guarded(s.deskSkew)...)
	r.Post("/desk/bot-flows/:id/turn", guarded(s.deskBotFlow)...)
	r.Post("/desk/bot-flows/:id/routing", guarded(s.deskRouteBotFlow)...)
	r.Post("/desk/bot-connector-integrations", guarded(s.deskInstallBotConnector)...)
	r.Post("/desk/queues/:queue/agents", guarded(s.deskAgentsOnQueue)...)
}

// deskReceipts sends one of the desk's receipt sequences for a customer
// message: "read" is Sent → Delivered → Read, "failed" Delivered → Failed.
func (s *Sandbox) deskReceipts(conversationID, messageID, sequence string) error {
	type step struct {
		status  string
		reasons []genesys.Reason
	}
	var steps []step
	switch sequence {
	case "read":
		steps = []step{{status: "Sent"}, {status: "Delivered"}, {status: "Read"}}
	case "failed":
		steps = []step{{status: "Delivered"}, {status: "Failed", reasons: []genesys.Reason{
			{Code: genesys.ReasonMessageExpired, Message: deskFailureMessage},
		}}}
	default:
		return fmt.Errorf("%w: no receipt sequence %q", ErrInvalidReceipt, sequence)
	}
	for i, st := range steps {
		if err := s.SendReceipt(conversationID, messageID, st.status, i == len(steps)-1, st.reasons); err != nil {
			return err
		}
	}
	return nil
}

// deskSkew sets the webhook clock skew and goes back to the page it came from.
func (s *Sandbox) deskSkew(c *fiber.Ctx) error {
	base := mountBase(c)
	selected := formValue(c, "c")
	d, err := time.ParseDuration(formValue(c, "skew"))
	if err != nil || d < -24*time.Hour || d > 24*time.Hour {
		v := s.deskViewFor(c, base, selected)
		v.Error = fmt.Sprintf("Skew %q is not a duration within a day, such as -20m or 3m.", formValue(c, "skew"))
		return render(c, fiber.StatusUnprocessableEntity, deskPage(v))
	}
	s.SkewWebhookClock(d)
	target := base + "/desk"
	if selected != "" {
		target += "?c=" + url.QueryEscape(selected)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// deskAgentsOnQueue sets a queue's agents On Queue and goes back.
func (s *Sandbox) deskAgentsOnQueue(c *fiber.Ctx) error {
	base := mountBase(c)
	selected := formValue(c, "c")
	n, err := strconv.Atoi(strings.TrimSpace(c.FormValue("agents")))
	if err == nil && (n < 0 || n > 1000) {
		err = errors.New("out of range")
	}
	if err == nil {
		err = s.SetAgentsOnQueue(c.Params("queue"), n)
	}
	if err != nil {
		v := s.deskViewFor(c, base, selected)
		v.Error = fmt.Sprintf("Agents On Queue: %q is not a whole number from 0 to 1000, or the queue does not exist.", c.FormValue("agents"))
		return render(c, fiber.StatusUnprocessableEntity, deskPage(v))
	}
	target := base + "/desk"
	if selected != "" {
		target += "?c=" + url.QueryEscape(selected)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// formValue is a form field the sandbox may keep: fiber's values point into
// a buffer the next request reuses, and agent names and texts outlive the
// request in the conversation.
func formValue(c *fiber.Ctx, key string) string {
	return strings.Clone(c.FormValue(key))
}

// mountBase finds the prefix the sandbox is mounted under from the matched
// route, so that links work on a bare app and under /sandbox/genesys alike.
func mountBase(c *fiber.Ctx) string {
	p := c.Route().Path
	if i := strings.LastIndex(p, "/desk"); i >= 0 {
		return p[:i]
	}
	return ""
}

func render(c *fiber.Ctx, status int, component templ.Component) error {
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return component.Render(c.UserContext(), c.Response().BodyWriter())
}

func (s *Sandbox) deskPage(c *fiber.Ctx) error {
	v := s.deskViewFor(c, mountBase(c), c.Query("c"))
	return render(c, fiber.StatusOK, deskPage(v))
}

func (s *Sandbox) deskList(c *fiber.Ctx) error {
	v := s.deskViewFor(c, mountBase(c), c.Query("c"))
	return render(c, fiber.StatusOK, deskList(v))
}

func (s *Sandbox) deskTranscript(c *fiber.Ctx) error {
	v := s.deskViewFor(c, mountBase(c), c.Params("id"))
	if v.Selected == nil {
		return render(c, fiber.StatusNotFound, deskNotFound())
	}
	return render(c, fiber.StatusOK, deskTranscript(v, *v.Selected))
}

// deskAction runs an agent action from a form post; on success it goes back
// to the conversation (303), on failure it shows the page with the error.
func (s *Sandbox) deskAction(action func(id string, c *fiber.Ctx) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := strings.Clone(c.Params("id"))
		base := mountBase(c)
		if err := action(id, c); err != nil {
			v := s.deskViewFor(c, base, id)
			v.Error = deskErrorText(err)
			status := fiber.StatusUnprocessableEntity
			if errors.Is(err, ErrConversationNotFound) {
				status = fiber.StatusNotFound
			}
			return render(c, status, deskPage(v))
		}
		return c.Redirect(base+"/desk?c="+url.QueryEscape(id), fiber.StatusSeeOther)
	}
}

// deskErrorText is the error in words for the person at the desk, without
// the conversation id prefix the API error carries.
func deskErrorText(err error) string {
	for _, known := range []error{
		ErrConversationNotFound, ErrConversationEnded, ErrNoAgent, ErrAlreadyAccepted,
		ErrOfferPending, ErrNoOffer, ErrNoWrapup, ErrUnknownQueue, ErrUnknownMessage,
	} {
		if errors.Is(err, known) {
			return strings.ToUpper(known.Error()[:1]) + known.Error()[1:] + "."
		}
	}
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, ": "); ok {
		msg = after
	}
	return msg
}

func (s *Sandbox) deskViewFor(c *fiber.Ctx, base, selectedID string) deskView {
	v := deskView{Base: base, AgentName: defaultAgentName, BotFlows: s.botFlowViews()}
	if s.cfg.DeskCSRF != nil {
		v.CSRF = s.cfg.DeskCSRF(c)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range deskSkews {
		v.Skews = append(v.Skews, deskChoice{Value: k.d.String(), Label: k.label, Selected: k.d == s.skew})
	}
	for _, q := range s.queues {
		f := s.figuresLocked(q)
		v.Queues = append(v.Queues, deskQueue{ID: q.id, Name: q.name, AgentsOnQueue: strconv.Itoa(q.agentsOnQueue),
			Figures: fmt.Sprintf("%d idle, %d waiting, %d with an agent", f.AgentsIdle, f.Waiting, f.Interacting)})
	}
	// Waiting first, then connected, then ended; newest first within each.
	order := map[string]int{StateWaiting: 0, StateConnected: 1, StateEnded: 2}
	ids := slices.Clone(s.convOrder)
	slices.Reverse(ids)
	slices.SortStableFunc(ids, func(a, b string) int { return order[s.convs[a].State] - order[s.convs[b].State] })
	for _, id := range ids {
		conv := s.convs[id]
		q, _ := s.queueLocked(conv.QueueID)
		row := deskRow{
			ID: conv.ID, Customer: displayName(conv.Customer), State: conv.State, Queue: q.name,
			Attributes: formatAttributes(customerAttributes(conv)), Started: conv.StartTime.Format("15:04:05"),
			Selected: conv.ID == selectedID,
		}
		if agent := latestAgent(conv); agent != nil {
			row.Agent = agent.UserName
		}
		v.Rows = append(v.Rows, row)
	}
	if conv, ok := s.convs[selectedID]; ok {
		v.Selected = s.deskConversationLocked(conv, now)
	}
	return v
}

func (s *Sandbox) deskConversationLocked(conv *Conversation, now time.Time) *deskConversation {
	d := &deskConversation{
		ID: conv.ID, Customer: displayName(conv.Customer), CustomerID: conv.Customer.ID, State: conv.State,
		CustomerTyping: conv.State != StateEnded && !conv.CustomerTypingAt.IsZero() && now.Sub(conv.CustomerTypingAt) < customerTypingShown,
	}
	if agent := latestAgent(conv); agent != nil {
		d.Agent = agent.UserName
	}
	if agent := alertingAgent(conv); agent != nil {
		d.Offered = agent.UserName
	}
	if agent := agentInWrapup(conv); agent != nil {
		d.InWrapup = agent.UserName
	}
	for _, q := range s.queues {
		if q.id == conv.QueueID {
			d.Queue = q.name
		} else {
			d.OtherQueues = append(d.OtherQueues, deskChoice{Value: q.id, Label: q.name})
		}
	}
	attrs := customerAttributes(conv)
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		d.Attributes = append(d.Attributes, deskAttribute{k, attrs[k]})
	}
	for _, m := range conv.Messages {
		dm := deskMessage{
			ID: m.ID, FromCustomer: m.Direction == genesys.DirectionInbound, FromFlow: m.OriginatingEntity == originatingBot,
			From: m.From, Text: m.Text, Time: m.Time.Format("15:04:05"), Receipt: m.ReceiptStatus,
		}
		for _, item := range m.Content {
			if item.Attachment != nil {
				dm.Images = append(dm.Images, item.Attachment.URL)
			}
			if item.QuickReply != nil {
				dm.QuickReplies = append(dm.QuickReplies, item.QuickReply.Text)
			}
		}
		if m.ButtonResponse != nil {
			dm.Text = "Clicked: " + m.ButtonResponse.Text
		}
		d.Messages = append(d.Messages, dm)
	}
	for i := len(d.Messages) - 1; i >= 0; i-- {
		if d.Messages[i].FromCustomer {
			d.LatestCustomerMessage = &d.Messages[i]
			break
		}
	}
	return d
}

func latestAgent(conv *Conversation) *Participant {
	for i := len(conv.Participants) - 1; i >= 0; i-- {
		if conv.Participants[i].Purpose == purposeAgent {
			return &conv.Participants[i]
		}
	}
	return nil
}

func customerAttributes(conv *Conversation) map[string]string {
	if p := findParticipant(conv, func(p *Participant) bool { return p.Purpose == purposeCustomer }); p != nil {
		return p.Attributes
	}
	return nil
}

func formatAttributes(attrs map[string]string) string {
	parts := make([]string, 0, len(attrs))
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		parts = append(parts, k+"="+attrs[k])
	}
	return strings.Join(parts, ", ")
}
