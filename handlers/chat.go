package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/static"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// ChatStore is what the demo web chat needs from the store.
type ChatStore interface {
	EndpointByDemoToken(ctx context.Context, token string) (store.Endpoint, error)
}

// Chat serves the demo web chat: a page where anyone with an endpoint's demo
// link chats with the built-in bot as an end user, and is handed over to
// Genesys. The link is the chat's own credential (the page never holds the
// bot's URL token), and each chat session gets a key from the server, so a
// browser reads and writes only its own session (docs/security.md). The
// chat's API under the link is the bot API's handlers behind Guard.
type Chat struct {
	Store     ChatStore
	PublicURL string
	Limits    *Limits // demo chat sessions per address; nil limits nothing
}

// chatKeyHeader carries a chat session's key on the chat's API calls; an
// EventSource, which cannot send headers, puts it in the key parameter.
const chatKeyHeader = "X-Chat-Key"

// localChatEndpoint is the Locals key of the endpoint Guard found, which the
// bot API's handlers use instead of a URL token.
const localChatEndpoint = "chatEndpoint"

// Page answers GET /chat/:demo with a fresh chat session; an unknown link,
// or one whose demo chat is off, is 404.
func (h *Chat) Page(c *fiber.Ctx) error {
	e, err := h.endpoint(c)
	if err != nil {
		return err
	}
	if err := h.Limits.DemoSession(c); err != nil {
		return err
	}
	// Agents send images from anywhere: the chat may show them (and only them).
	imgSources := "'self' data: https:"
	if !strings.HasPrefix(h.PublicURL, "https://") {
		imgSources += " http:" // a local demo: its images are often plain http
	}
	csp := string(c.Response().Header.Peek(fiber.HeaderContentSecurityPolicy))
	c.Set(fiber.HeaderContentSecurityPolicy, withDirective(csp, "img-src", imgSources))
	c.Set(fiber.HeaderCacheControl, "no-store")
	sessionID := "demo-" + secret.NewToken(12)
	props := views.ChatProps{
		APIBase:      "/chat/" + url.PathEscape(e.DemoToken) + "/api",
		SessionID:    sessionID,
		UserID:       chatUserID(sessionID),
		SessionKey:   chatSessionKey(e, sessionID),
		EndpointName: e.Name,
		AgentWords:   relay.AgentRequestWords,
		CanHandOver:  e.Provider == store.ProviderGenesysCloudOM,
	}
	return render(c, fiber.StatusOK, views.PublicPage("Demo chat", false, static.ChatJS, views.ChatPage(props)))
}

// Guard lets a chat API call through to the bot API's handler when the link
// is open and, if session is set, the call carries the key of the session it
// names (in the path, or as sessionId and userId in the body).
func (h *Chat) Guard(session bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		e, err := h.endpoint(c)
		if err != nil {
			return err
		}
		c.Locals(localChatEndpoint, e)
		if !session {
			return c.Next()
		}
		sessionID := c.Params("session")
		if sessionID == "" {
			var body struct {
				SessionID string `json:"sessionId"`
				UserID    string `json:"userId"`
			}
			// A body that is not JSON is the handler's 400 to give.
			_ = json.Unmarshal(c.Body(), &body)
			if body.UserID != chatUserID(body.SessionID) {
				return botError(fiber.StatusForbidden, "foreign_session", "A demo chat writes as its own user only.")
			}
			sessionID = body.SessionID
		}
		key := c.Get(chatKeyHeader)
		if key == "" {
			key = c.Query("key")
		}
		if sessionID == "" || !hmac.Equal([]byte(key), []byte(chatSessionKey(e, sessionID))) {
			return botError(fiber.StatusForbidden, "foreign_session", "This chat's key does not open that session.")
		}
		return c.Next()
	}
}

// endpoint finds the endpoint of the demo link; 404 when none has it or its
// demo chat is off (the same answer: a revoked link says nothing).
func (h *Chat) endpoint(c *fiber.Ctx) (store.Endpoint, error) {
	e, err := h.Store.EndpointByDemoToken(c.UserContext(), c.Params("demo"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !e.DemoChat) {
		return store.Endpoint{}, fiber.NewError(fiber.StatusNotFound, "This demo chat link is not valid.")
	}
	if err != nil {
		return store.Endpoint{}, err
	}
	rememberEndpoint(c, e)
	return e, nil
}

// chatUserID is the user a demo chat session writes as.
func chatUserID(sessionID string) string {
	return "demo-user-" + strings.TrimPrefix(sessionID, "demo-")
}

// chatSessionKey is what opens one chat session: an HMAC of its id under the
// endpoint's URL token, which only the server knows. Rotating the URL token
// closes every demo chat session.
func chatSessionKey(e store.Endpoint, sessionID string) string {
	mac := hmac.New(sha256.New, []byte(e.URLToken))
	mac.Write([]byte("handover demo chat session\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
