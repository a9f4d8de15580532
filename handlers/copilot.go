package handlers

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// CopilotStore is what the Copilot workspace needs from the store.
type CopilotStore interface {
	EndpointByCopilotToken(ctx context.Context, token string) (store.Endpoint, error)
	LatestConversation(ctx context.Context, endpointID int64, sessionID string) (store.Conversation, error)
	LatestConversationOfUser(ctx context.Context, endpointID int64, userID string) (store.Conversation, error)
	ConversationMessages(ctx context.Context, conversationID int64) ([]store.Message, error)
}

// Copilot serves the agents' Copilot workspace: the user's profile, the
// handover attributes and the bot transcript beside the chat in Genesys
// Cloud. Agents are not Handover admins: the endpoint's Copilot token in the
// address (URLToken, the seed's parameter name) is their credential, and it
// opens nothing else; the bot's URL token does not open the workspace. An
// endpoint with a Copilot JWT secret also wants a signed auth JWT
// (docs/security.md).
type Copilot struct {
	Store  CopilotStore
	Logger *slog.Logger
}

// errCopilotForbidden says nothing about why: not which endpoint, not whether it exists.
var errCopilotForbidden = fiber.NewError(fiber.StatusForbidden, "This Copilot link is not valid.")

// Workspace answers GET /copilot?userId=&sessionId=&URLToken=: the page, or
// for htmx (its own refresh every few seconds) the live part.
func (h *Copilot) Workspace(c *fiber.Ctx) error {
	e, err := h.authorise(c)
	if err != nil {
		return err
	}
	userID, sessionID := strings.Clone(c.Query("userId")), strings.Clone(c.Query("sessionId"))
	props := views.CopilotProps{UserID: userID, SessionID: sessionID, RefreshURL: copilotRefreshURL(c)}
	conv, err := h.conversation(c.UserContext(), e.ID, userID, sessionID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		if err := h.fill(c.UserContext(), &props, conv); err != nil {
			return err
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if isFragmentRequest(c) {
		return render(c, fiber.StatusOK, views.CopilotWorkspace(props))
	}
	return render(c, fiber.StatusOK, views.PublicPage("Copilot", true, "", views.CopilotPage(props)))
}

// authorise finds the endpoint of the Copilot token (the URLToken
// parameter) and compares it in constant time, then checks the auth JWT when
// the endpoint wants one. Anything wrong is the same 403; the log says why.
func (h *Copilot) authorise(c *fiber.Ctx) (store.Endpoint, error) {
	token := c.Query("URLToken")
	if token == "" {
		return store.Endpoint{}, errCopilotForbidden
	}
	e, err := h.Store.EndpointByCopilotToken(c.UserContext(), token)
	if errors.Is(err, store.ErrNotFound) {
		h.refuse(c, "no endpoint has this Copilot token")
		return store.Endpoint{}, errCopilotForbidden
	}
	if err != nil {
		return store.Endpoint{}, err
	}
	rememberEndpoint(c, e)
	if subtle.ConstantTimeCompare([]byte(e.CopilotToken), []byte(token)) != 1 {
		return store.Endpoint{}, errCopilotForbidden
	}
	if e.CopilotJWTSecret != "" {
		if err := verifyCopilotJWT(c.Query("auth"), e.CopilotJWTSecret, c.Query("userId"), c.Query("sessionId")); err != nil {
			h.refuse(c, "auth JWT: "+err.Error())
			return store.Endpoint{}, errCopilotForbidden
		}
	}
	return e, nil
}

// refuse logs why a Copilot request got 403 (the answer says nothing).
func (h *Copilot) refuse(c *fiber.Ctx, why string) {
	if h.Logger != nil {
		h.Logger.WarnContext(c.UserContext(), "Copilot request refused", slog.String("reason", why), slog.String("remote_ip", LoggedClientAddress(c)))
	}
}

// copilotJWTClaims are what a Copilot auth JWT may say besides exp: when it
// names the user or the session, they must be the ones the link asks for.
type copilotJWTClaims struct {
	UserID    string `json:"userId,omitempty"`
	SessionID string `json:"sessionId,omitempty"`
	jwt.RegisteredClaims
}

// verifyCopilotJWT checks an auth JWT as Cognigy's Copilot does: HS256 with
// the endpoint's Copilot secret, exp required and in the future.
func verifyCopilotJWT(raw, secret, userID, sessionID string) error {
	if raw == "" {
		return errors.New("missing")
	}
	var claims copilotJWTClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(), jwt.WithLeeway(5*time.Second))
	if err != nil {
		return err
	}
	if (claims.UserID != "" && claims.UserID != userID) || (claims.SessionID != "" && claims.SessionID != sessionID) {
		return errors.New("made for another user or session")
	}
	return nil
}

// conversation is the session's newest handover when a session id is given
// (and it belongs to the user, when one is given too), else the user's newest.
func (h *Copilot) conversation(ctx context.Context, endpointID int64, userID, sessionID string) (store.Conversation, error) {
	switch {
	case sessionID != "":
		conv, err := h.Store.LatestConversation(ctx, endpointID, sessionID)
		if err == nil && userID != "" && conv.UserID != userID {
			return store.Conversation{}, store.ErrNotFound
		}
		return conv, err
	case userID != "":
		return h.Store.LatestConversationOfUser(ctx, endpointID, userID)
	}
	return store.Conversation{}, store.ErrNotFound
}

func (h *Copilot) fill(ctx context.Context, p *views.CopilotProps, conv store.Conversation) error {
	messages, err := h.Store.ConversationMessages(ctx, conv.ID)
	if err != nil {
		return err
	}
	p.Found, p.Open, p.State, p.AgentName = true, conv.Open(), conv.State, conv.AgentName
	p.UserID, p.SessionID = conv.UserID, conv.SessionID
	p.FirstName, p.LastName, p.Email = conv.FirstName, conv.LastName, conv.Email
	p.Language, p.Skills, p.Priority, p.StartedAt = conv.Language, conv.Skills, conv.Priority, conv.CreatedAt
	names := make([]string, 0, len(conv.CustomAttributes))
	for name := range conv.CustomAttributes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p.Attributes = append(p.Attributes, views.CopilotAttribute{Name: name, Value: conv.CustomAttributes[name]})
	}
	for _, m := range messages {
		line := views.CopilotLine{From: m.Direction, Text: m.Text, Time: m.CreatedAt}
		switch m.Kind {
		case store.KindTranscript:
			p.Transcript = append(p.Transcript, line)
		case store.KindText:
			if line.Text == "" && len(m.Data.Attachments) > 0 {
				line.Text = "(" + m.Data.Attachments[0].URL + ")"
			}
			p.Messages = append(p.Messages, line)
		case store.KindState:
			line.Text = stateText(m.Data.State, m.Data.Reason, m.Data.AgentName)
			p.Messages = append(p.Messages, line)
		}
	}
	return nil
}

func stateText(state, reason, agent string) string {
	switch state {
	case store.StateQueued:
		return "Waiting for an agent."
	case store.StateAgentJoined:
		if agent != "" {
			return agent + " joined."
		}
		return "An agent joined."
	case store.StateEnded:
		return "Ended (" + reason + ")."
	case store.StateFailed:
		return "Failed (" + reason + ")."
	}
	return state
}

// copilotRefreshURL is the request's own address, for the workspace to fetch itself again.
func copilotRefreshURL(c *fiber.Ctx) string {
	q := url.Values{}
	for _, k := range []string{"userId", "sessionId", "URLToken", "auth"} {
		if v := c.Query(k); v != "" {
			q.Set(k, v)
		}
	}
	return "/copilot?" + q.Encode()
}

// GenesysFrameAncestors are the origins allowed to frame the Copilot
// workspace: the Genesys Cloud agent desktop of every known region, and any
// pure.cloud subdomain for regions added later.
func GenesysFrameAncestors() []string {
	origins := make([]string, 0, len(genesys.Regions)+1)
	for _, r := range genesys.Regions {
		origins = append(origins, "https://apps."+r.Domain)
	}
	return append(origins, "https://*.pure.cloud")
}

// FrameableByGenesys lets Genesys Cloud show the response in an iframe (the
// Script's Web Page component): no X-Frame-Options, and the CSP's
// frame-ancestors names the Genesys origins; every other directive of the
// security headers stays as it is.
func FrameableByGenesys(c *fiber.Ctx) error {
	c.Response().Header.Del(fiber.HeaderXFrameOptions)
	csp := string(c.Response().Header.Peek(fiber.HeaderContentSecurityPolicy))
	c.Set(fiber.HeaderContentSecurityPolicy, withDirective(csp, "frame-ancestors", strings.Join(GenesysFrameAncestors(), " ")))
	c.Set("Cross-Origin-Resource-Policy", "cross-origin")
	return c.Next()
}

// withDirective replaces (or adds) one directive of a Content-Security-Policy.
func withDirective(csp, name, value string) string {
	var out []string
	for _, d := range strings.Split(csp, ";") {
		d = strings.TrimSpace(d)
		if d == "" || d == name || strings.HasPrefix(d, name+" ") {
			continue
		}
		out = append(out, d)
	}
	return strings.Join(append(out, name+" "+value), "; ")
}
