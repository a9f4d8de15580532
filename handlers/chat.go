package handlers

import (
	"context"
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
	EndpointByToken(ctx context.Context, token string) (store.Endpoint, error)
}

// Chat serves the demo web chat: a page where anyone with an endpoint's URL
// token chats with the built-in bot as an end user, and is handed over to
// Genesys. The page only talks to the public bot API (static/chat.js).
type Chat struct {
	Store     ChatStore
	PublicURL string
}

// Page answers GET /chat/:token; an unknown token is 404.
func (h *Chat) Page(c *fiber.Ctx) error {
	e, err := h.Store.EndpointByToken(c.UserContext(), c.Params("token"))
	if err != nil {
		return err
	}
	rememberEndpoint(c, e)
	// Agents send images from anywhere: the chat may show them (and only them).
	imgSources := "'self' data: https:"
	if !strings.HasPrefix(h.PublicURL, "https://") {
		imgSources += " http:" // a local demo: its images are often plain http
	}
	csp := string(c.Response().Header.Peek(fiber.HeaderContentSecurityPolicy))
	c.Set(fiber.HeaderContentSecurityPolicy, withDirective(csp, "img-src", imgSources))
	c.Set(fiber.HeaderCacheControl, "no-store")
	props := views.ChatProps{
		Token:        e.URLToken,
		SessionID:    "demo-" + secret.NewToken(12),
		EndpointName: e.Name,
		AgentWords:   relay.AgentRequestWords,
		CanHandOver:  e.Provider == store.ProviderGenesysCloudOM,
	}
	return render(c, fiber.StatusOK, views.PublicPage("Demo chat", false, static.ChatJS, views.ChatPage(props)))
}
