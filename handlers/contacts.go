package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// ContactStore is what exporting a person's data reads.
type ContactStore interface {
	ConversationsOfUser(ctx context.Context, userID string, endpointID int64) ([]store.Conversation, error)
	ConversationByID(ctx context.Context, id int64) (store.Conversation, error)
	ConversationMessages(ctx context.Context, conversationID int64) ([]store.Message, error)
	WebhooksOf(ctx context.Context, conversationID int64) ([]store.Webhook, error)
	APICallsOf(ctx context.Context, conversationID int64) ([]store.APICall, error)
}

// ContactEraser erases a person's data (relay.Relay).
type ContactEraser interface {
	EraseContact(ctx context.Context, e relay.Erasure) (store.Deleted, error)
}

// Contacts serves one person's data, exported and erased (GDPR articles 15
// and 17; docs/privacy.md), to the admin API and the conversation page.
type Contacts struct {
	Store  ContactStore
	Eraser ContactEraser
}

// contactExport is GET /api/v1/admin/contacts/:userId: everything stored
// about one bot user id, oldest conversation first.
type contactExport struct {
	UserID        string                `json:"userId"`
	EndpointID    *int64                `json:"endpointId,omitempty"`
	ExportedAt    time.Time             `json:"exportedAt"`
	Conversations []contactConversation `json:"conversations"`
}

type contactConversation struct {
	ID                    int64             `json:"id"`
	EndpointID            int64             `json:"endpointId"`
	SessionID             string            `json:"sessionId"`
	State                 string            `json:"state"`
	EndReason             string            `json:"endReason,omitempty"`
	Language              string            `json:"language,omitempty"`
	Skills                []string          `json:"skills,omitempty"`
	Priority              int               `json:"priority"`
	CustomAttributes      map[string]string `json:"customAttributes,omitempty"`
	FirstName             string            `json:"firstName,omitempty"`
	LastName              string            `json:"lastName,omitempty"`
	Email                 string            `json:"email,omitempty"`
	GenesysConversationID string            `json:"genesysConversationId,omitempty"`
	AgentName             string            `json:"agentName,omitempty"`
	CreatedAt             time.Time         `json:"createdAt"`
	AgentJoinedAt         *time.Time        `json:"agentJoinedAt,omitempty"`
	EndedAt               *time.Time        `json:"endedAt,omitempty"`
	// Messages are what was said (the user's, the bot's, the agent's texts
	// and the transcript), in order; Timeline is every entry, states,
	// receipts and queue events included, as the conversation page shows it.
	Messages []contactEntry   `json:"messages"`
	Timeline []contactEntry   `json:"timeline"`
	Webhooks []contactWebhook `json:"webhooks"`
	APICalls []contactAPICall `json:"apiCalls"`
}

type contactEntry struct {
	ID               int64             `json:"id"`
	From             string            `json:"from"`
	Kind             string            `json:"kind"`
	Text             string            `json:"text,omitempty"`
	Data             store.MessageData `json:"data"`
	GenesysMessageID string            `json:"genesysMessageId,omitempty"`
	Delivery         string            `json:"delivery,omitempty"`
	CreatedAt        time.Time         `json:"createdAt"`
}

type contactWebhook struct {
	ID         int64     `json:"id"`
	ReceivedAt time.Time `json:"receivedAt"`
	EventType  string    `json:"eventType"`
	Body       string    `json:"body"`
}

type contactAPICall struct {
	ID        int64     `json:"id"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Status    int       `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

// erasureResponse is DELETE /api/v1/admin/contacts/:userId's answer.
type erasureResponse struct {
	UserID  string        `json:"userId"`
	Deleted store.Deleted `json:"deleted"`
}

// APIExport answers GET /api/v1/admin/contacts/:userId[?endpointId=].
func (h *Contacts) APIExport(c *fiber.Ctx) error {
	ctx := c.UserContext()
	userID, endpointID, err := contactParams(c)
	if err != nil {
		return err
	}
	convs, err := h.Store.ConversationsOfUser(ctx, userID, endpointID)
	if err != nil {
		return err
	}
	out := contactExport{UserID: userID, ExportedAt: time.Now().UTC(), Conversations: make([]contactConversation, 0, len(convs))}
	if endpointID != 0 {
		out.EndpointID = &endpointID
	}
	for _, conv := range convs {
		cc, err := h.exportConversation(ctx, conv)
		if err != nil {
			return err
		}
		out.Conversations = append(out.Conversations, cc)
	}
	return c.JSON(out)
}

func (h *Contacts) exportConversation(ctx context.Context, conv store.Conversation) (contactConversation, error) {
	cc := contactConversation{ID: conv.ID, EndpointID: conv.EndpointID, SessionID: conv.SessionID, State: conv.State, EndReason: conv.EndReason,
		Language: conv.Language, Skills: conv.Skills, Priority: conv.Priority, CustomAttributes: conv.CustomAttributes,
		FirstName: conv.FirstName, LastName: conv.LastName, Email: conv.Email, GenesysConversationID: conv.GenesysConversationID,
		AgentName: conv.AgentName, CreatedAt: conv.CreatedAt, AgentJoinedAt: conv.AgentJoinedAt, EndedAt: conv.EndedAt,
		Messages: []contactEntry{}, Timeline: []contactEntry{}, Webhooks: []contactWebhook{}, APICalls: []contactAPICall{}}
	messages, err := h.Store.ConversationMessages(ctx, conv.ID)
	if err != nil {
		return cc, err
	}
	for _, m := range messages {
		e := contactEntry{ID: m.ID, From: m.Direction, Kind: m.Kind, Text: m.Text, Data: m.Data, GenesysMessageID: m.GenesysMessageID,
			Delivery: m.Delivery, CreatedAt: m.CreatedAt}
		cc.Timeline = append(cc.Timeline, e)
		if m.Kind == store.KindText || m.Kind == store.KindTranscript {
			cc.Messages = append(cc.Messages, e)
		}
	}
	hooks, err := h.Store.WebhooksOf(ctx, conv.ID)
	if err != nil {
		return cc, err
	}
	for _, w := range hooks {
		cc.Webhooks = append(cc.Webhooks, contactWebhook{ID: w.ID, ReceivedAt: w.ReceivedAt, EventType: w.EventType, Body: w.Body})
	}
	calls, err := h.Store.APICallsOf(ctx, conv.ID)
	if err != nil {
		return cc, err
	}
	for _, call := range calls {
		cc.APICalls = append(cc.APICalls, contactAPICall{ID: call.ID, Method: call.Method, Path: call.Path, Status: call.Status, CreatedAt: call.CreatedAt})
	}
	return cc, nil
}

// APIErase answers DELETE /api/v1/admin/contacts/:userId[?endpointId=]: 200
// with what was deleted, or 503 erasure_pending while Genesys has not yet
// taken the end of the person's open conversation (nothing erased then).
func (h *Contacts) APIErase(c *fiber.Ctx) error {
	userID, endpointID, err := contactParams(c)
	if err != nil {
		return err
	}
	deleted, err := h.Eraser.EraseContact(c.UserContext(), relay.Erasure{UserID: userID, EndpointID: endpointID, By: apiActor(c)})
	if errors.Is(err, relay.ErrErasurePending) {
		c.Set(fiber.HeaderRetryAfter, "30")
	}
	if err != nil {
		return err
	}
	return c.JSON(erasureResponse{UserID: userID, Deleted: deleted})
}

// EraseFromConversation answers POST /conversations/:id/erase-contact: the
// conversation page's "Erase this person's data", for the user id of that
// conversation at its endpoint (a user id names a person of one bot only).
func (h *Contacts) EraseFromConversation(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	conv, err := h.Store.ConversationByID(c.UserContext(), id)
	if err != nil {
		return err
	}
	by := "console"
	if sess, ok := currentSession(c); ok {
		by = "admin " + sess.Admin.Username
	}
	if _, err := h.Eraser.EraseContact(c.UserContext(), relay.Erasure{UserID: conv.UserID, EndpointID: conv.EndpointID, By: by}); err != nil {
		return err
	}
	return redirect(c, "/conversations?notice=erased")
}

// contactParams reads the user id of the path (percent-decoded: a user id
// may hold any character) and the optional endpointId query.
func contactParams(c *fiber.Ctx) (userID string, endpointID int64, err error) {
	userID, err = url.PathUnescape(c.Params("userId"))
	if err != nil || userID == "" {
		return "", 0, &Refusal{Status: fiber.StatusBadRequest, Code: "invalid_user_id", Message: "The path must end with a percent-encoded userId."}
	}
	if v := c.Query("endpointId"); v != "" {
		endpointID, err = strconv.ParseInt(v, 10, 64)
		if err != nil || endpointID <= 0 {
			return "", 0, &Refusal{Status: fiber.StatusBadRequest, Code: "invalid_endpoint_id", Message: fmt.Sprintf("endpointId %q is not an endpoint id.", v)}
		}
	}
	return userID, endpointID, nil
}
