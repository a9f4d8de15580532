package handlers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/paths"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// ToolsStore is what the endpoint page's tool sections need from the store.
type ToolsStore interface {
	EndpointByID(ctx context.Context, id int64) (store.Endpoint, error)
	LatestPreflightResult(ctx context.Context, endpointID int64) (store.PreflightResult, error)
	BotWebhookHealthOf(ctx context.Context, endpointID int64) (store.BotWebhookHealth, error)
}

// Preflighter runs an endpoint's pre-flight check against Genesys and keeps the result.
type Preflighter interface {
	Preflight(ctx context.Context, e store.Endpoint, webhookURL string) (store.PreflightResult, error)
}

// EndpointTools serves the sections of a saved endpoint's page below its
// form: the demo web chat link, the AI Copilot URLs, the Genesys setup
// assistant and the pre-flight check.
type EndpointTools struct {
	Store     ToolsStore
	Preflight Preflighter
	PublicURL string
}

// RequiredPermissions are the permissions the setup assistant asks for on the
// OAuth client's role: the inbound calls, reading what Handover sent, listing
// integrations, disconnecting the customer, the analytics fallback of end
// detection, and reading the supported content profile that attachments are
// checked against, and the queue's figures for availability and the
// estimated wait (docs/genesys.md §OAuth, §SupportedContent, §Queues).
var RequiredPermissions = []string{
	"conversation:message:receive",
	"conversation:message:create",
	"messaging:integration:view",
	"conversation:message:view",
	"conversation:communication:disconnect",
	"analytics:conversationDetail:view",
	"messaging:supportedContent:view",
	"analytics:queueObservation:view",
	"routing:queue:view",
}

func (h *EndpointTools) webhookURL() string { return h.PublicURL + paths.GenesysWebhook }

// sections builds the tool sections of endpoint e's page.
func (h *EndpointTools) sections(c *fiber.Ctx, e store.Endpoint) (*views.EndpointTools, error) {
	pre, err := h.preflightView(c, e.ID)
	if err != nil {
		return nil, err
	}
	copilot := h.copilotSection(e, c.Query("userId"), c.Query("sessionId"))
	health, err := h.Store.BotWebhookHealthOf(c.UserContext(), e.ID)
	if err != nil {
		return nil, err
	}
	return &views.EndpointTools{
		EndpointID: e.ID,
		ChatURL:    h.demoChatURL(e),
		Copilot:    copilot,
		Setup:      h.setupGuide(e, copilot.EmbeddingURL),
		Preflight:  pre,
		BotWebhook: views.BotWebhookSection{EndpointID: e.ID, URL: e.BotWebhookURL, CSRFToken: csrfToken(c), LastSuccessAt: health.LastSuccessAt,
			LastFailureAt: health.LastFailureAt, FailuresInARow: health.FailuresInARow, LastError: health.LastError, GaveUpAt: health.GaveUpAt},
	}, nil
}

func (h *EndpointTools) preflightView(c *fiber.Ctx, endpointID int64) (views.PreflightView, error) {
	v := views.PreflightView{EndpointID: endpointID, CSRFToken: csrfToken(c)}
	latest, err := h.Store.LatestPreflightResult(c.UserContext(), endpointID)
	if errors.Is(err, store.ErrNotFound) {
		return v, nil
	}
	if err != nil {
		return v, err
	}
	v.Ran, v.RanAt, v.Passed = true, latest.RanAt, latest.Passed()
	for _, r := range latest.Results {
		v.Checks = append(v.Checks, views.PreflightRow{Key: r.Key, Title: r.Title, Status: r.Status, Detail: r.Detail, Fix: r.Fix})
	}
	return v, nil
}

// demoChatURL is the endpoint's demo web chat link, when its demo chat is on.
func (h *EndpointTools) demoChatURL(e store.Endpoint) string {
	if !e.DemoChat || e.DemoToken == "" {
		return ""
	}
	return h.PublicURL + "/chat/" + url.PathEscape(e.DemoToken)
}

// copilotBase is the endpoint's AI Copilot, or Handover's own workspace.
func (h *EndpointTools) copilotBase(e store.Endpoint) (base string, external bool) {
	if e.CopilotBaseURL != "" {
		return e.CopilotBaseURL, true
	}
	return h.PublicURL + "/copilot", false
}

func (h *EndpointTools) copilotSection(e store.Endpoint, userID, sessionID string) views.CopilotSection {
	base, external := h.copilotBase(e)
	userID, sessionID = strings.TrimSpace(userID), strings.TrimSpace(sessionID)
	s := views.CopilotSection{
		EndpointID: e.ID, BaseURL: base, External: external, UserID: userID, SessionID: sessionID,
		EmbeddingURL: CopilotEmbeddingURL(base, e.CopilotToken),
		UserIDName:   relay.AttributeName(e, "userId"),
	}
	if userID != "" {
		s.StandaloneURL = CopilotURL(base, userID, sessionID, e.CopilotToken)
	}
	return s
}

func (h *EndpointTools) setupGuide(e store.Endpoint, embeddingURL string) views.SetupGuide {
	uses := map[string]struct{ variable, use string }{
		"queueId":   {"Flow.queueId", "Transfer to ACD: the queue"},
		"language":  {"Flow.myLanguage", "Transfer to ACD: the language skill"},
		"skills":    {"Flow.mySkills", "Transfer to ACD: the ACD skills (comma-separated)"},
		"userId":    {"Flow.userId", "Set Screen Pop: the Copilot's user"},
		"priority":  {"Flow.myPriority", "Transfer to ACD: the priority (optional)"},
		"sessionId": {"Flow.sessionId", "Optional: the bot's session"},
	}
	g := views.SetupGuide{
		Host: e.Host, DeploymentName: e.DeploymentName, WebhookURL: h.webhookURL(), WebhookSecretSet: e.WebhookSecret != "",
		SuggestedSecret: secret.NewToken(16), QueueID: e.QueueID, RelayTyping: e.RelayTyping,
		Permissions: RequiredPermissions, EmbeddingURL: embeddingURL,
		EventsURL: h.webhookURL() + "/events", HideFlowMessages: e.FlowMessages == store.FlowMessagesHide,
	}
	for _, a := range relay.RoutingAttributes {
		g.Attributes = append(g.Attributes, views.SetupAttribute{Key: a.Key, Label: a.Label, Name: relay.AttributeName(e, a.Key), Variable: uses[a.Key].variable, Use: uses[a.Key].use})
	}
	if e.Type == store.TypeGenesysBotConnector {
		g.BotConnector = &views.BotConnectorGuide{HandleURL: h.PublicURL + "/" + e.URLToken + "/botconnector", HeaderName: e.BotConnectorHeaderName,
			IntegrationID: e.BotConnectorIntegrationID, BotName: relay.BotConnectorBot(e).Name, OpenMessaging: e.Provider == store.ProviderGenesysCloudOM}
	}
	return g
}

// CopilotURL answers GET /endpoints/:id/copilot-url?userId=&sessionId=: the
// standalone Copilot URL of one user, as a fragment. A plain browser request
// goes to the endpoint page with the same query, which shows it too.
func (h *EndpointTools) CopilotURL(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if !isFragmentRequest(c) {
		q := url.Values{"userId": {c.Query("userId")}, "sessionId": {c.Query("sessionId")}}
		return c.Redirect(fmt.Sprintf("/endpoints/%d?%s", id, q.Encode()), fiber.StatusSeeOther)
	}
	e, err := h.Store.EndpointByID(c.UserContext(), id)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.CopilotStandalone(h.copilotSection(e, c.Query("userId"), c.Query("sessionId"))))
}

// RunPreflight answers POST /endpoints/:id/preflight: it runs the checks and
// shows the result (the section for htmx; otherwise back to the page).
func (h *EndpointTools) RunPreflight(c *fiber.Ctx) error {
	e, _, err := h.runPreflight(c)
	if err != nil {
		return err
	}
	id := e.ID
	if !isFragmentRequest(c) {
		return c.Redirect(fmt.Sprintf("/endpoints/%d#%s", id, views.PreflightID), fiber.StatusSeeOther)
	}
	v, err := h.preflightView(c, id)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.PreflightSection(v))
}

// runPreflight runs Test connection for the endpoint of the path; the
// result is kept with the endpoint's others.
func (h *EndpointTools) runPreflight(c *fiber.Ctx) (store.Endpoint, store.PreflightResult, error) {
	id, err := pathID(c)
	if err != nil {
		return store.Endpoint{}, store.PreflightResult{}, err
	}
	e, err := h.Store.EndpointByID(c.UserContext(), id)
	if err != nil {
		return store.Endpoint{}, store.PreflightResult{}, err
	}
	result, err := h.Preflight.Preflight(c.UserContext(), e, h.webhookURL())
	return e, result, err
}

// CopilotURL is the Copilot's address for one user (and session) of an
// endpoint: base?userId=…&sessionId=…&URLToken=…, each value query-escaped
// (spaces as %20, which every decoder reads as a space). A base without a
// path gets "/". An empty sessionId is left out.
func CopilotURL(base, userID, sessionID, urlToken string) string {
	params := []string{"userId=" + queryEscape(userID)}
	if sessionID != "" {
		params = append(params, "sessionId="+queryEscape(sessionID))
	}
	params = append(params, "URLToken="+queryEscape(urlToken))
	return withPath(base) + "?" + strings.Join(params, "&")
}

// CopilotEmbeddingURL is the URL for a Genesys Script's Web Page component:
// {{userId}} is the script's input variable, which Genesys interpolates.
func CopilotEmbeddingURL(base, urlToken string) string {
	return withPath(base) + "?userId={{userId}}&URLToken=" + queryEscape(urlToken)
}

func queryEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

func withPath(base string) string {
	u, err := url.Parse(base)
	if err == nil && u.Host != "" && u.Path == "" {
		return strings.TrimRight(base, "/") + "/"
	}
	return base
}

// parseCopilotBaseURL checks an AI Copilot base URL: https, or http on a
// loopback address; no query or fragment, because the Copilot's parameters
// are appended. "" is allowed (Handover's own workspace).
func parseCopilotBaseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", errors.New("Enter a full https:// URL, for example https://copilot.example.com.")
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return "", errors.New("Use https://; plain http:// is allowed only for localhost and 127.0.0.1.")
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "?") || strings.HasSuffix(raw, "#") {
		return "", errors.New("Leave out the ?query and #fragment: Handover appends userId, sessionId and URLToken itself.")
	}
	if u.User != nil {
		return "", errors.New("Leave out the user name and password.")
	}
	if len(raw) > 500 {
		return "", errors.New("Use at most 500 characters.")
	}
	return raw, nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
