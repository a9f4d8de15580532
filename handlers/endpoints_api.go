package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
)

// endpointRequest is the body of POST and PUT /api/v1/admin/endpoints. Every
// field is optional: on PUT an absent field keeps its stored value, so a
// script can change one setting without knowing (or resending) the secrets.
type endpointRequest struct {
	Name             *string           `json:"name"`
	Organisation     *string           `json:"organisation"`
	HandoverProvider *string           `json:"handoverProvider"`
	Host             *string           `json:"host"`
	DeploymentName   *string           `json:"deploymentName"`
	QueueID          *string           `json:"queueId"`
	WebhookSecret    *string           `json:"webhookSecret"`
	ClientID         *string           `json:"clientId"`
	ClientSecret     *string           `json:"clientSecret"`
	SendProfile      *bool             `json:"sendProfile"`
	Language         *string           `json:"language"`
	Skills           *[]string         `json:"skills"`
	Priority         *int              `json:"priority"`
	CustomAttributes json.RawMessage   `json:"customAttributes"`
	RelayTyping      *bool             `json:"relayTyping"`
	FlowMessages     *string           `json:"flowMessages"`
	AttributeNames   map[string]string `json:"attributeNames"`
	CopilotBaseURL   *string           `json:"copilotBaseUrl"`
	CopilotJWTSecret *string           `json:"copilotJwtSecret"`
	DemoChat         *bool             `json:"demoChat"`
	BotWebhookURL    *string           `json:"botWebhookUrl"`
	BotWebhookSecret *string           `json:"botWebhookSecret"`

	// The endpoint's bot and type (docs/genesys.md §BotConnector); the
	// credential header's value is write-only.
	Type                      *string `json:"type"`
	BotURL                    *string `json:"botUrl"`
	BotConnectorHeaderName    *string `json:"botConnectorHeaderName"`
	BotConnectorHeaderValue   *string `json:"botConnectorHeaderValue"`
	BotConnectorIntegrationID *string `json:"botConnectorIntegrationId"`

	waitingRequest
	privacyRequest

	// Read-only fields of the response, accepted and ignored so that a body
	// fetched with GET can be sent back with PUT.
	ID               any `json:"id"`
	URLToken         any `json:"urlToken"`
	ConfigURL        any `json:"configUrl"`
	BotConnectorURL  any `json:"botConnectorUrl"`
	BotHeaderSet     any `json:"botConnectorHeaderValueSet"`
	HostWarning      any `json:"hostWarning"`
	WebhookSecretSet any `json:"webhookSecretSet"`
	ClientSecretSet  any `json:"clientSecretSet"`
	CopilotToken     any `json:"copilotToken"`
	CopilotEmbedding any `json:"copilotEmbeddingUrl"`
	CopilotJWTSet    any `json:"copilotJwtSecretSet"`
	DemoChatURL      any `json:"demoChatUrl"`
	PreviousURLUntil any `json:"previousUrlTokenUntil"`
	BotSecretSet     any `json:"botWebhookSecretSet"`
	PreviousBotUntil any `json:"previousBotWebhookSecretUntil"`
	CreatedAt        any `json:"createdAt"`
	UpdatedAt        any `json:"updatedAt"`
}

// endpointResponse is an endpoint as the API shows it: never with its secrets.
type endpointResponse struct {
	ID               int64             `json:"id"`
	Name             string            `json:"name"`
	Organisation     string            `json:"organisation"`
	HandoverProvider string            `json:"handoverProvider"`
	Host             string            `json:"host"`
	HostWarning      string            `json:"hostWarning,omitempty"`
	DeploymentName   string            `json:"deploymentName"`
	QueueID          string            `json:"queueId"`
	ClientID         string            `json:"clientId"`
	WebhookSecretSet bool              `json:"webhookSecretSet"`
	ClientSecretSet  bool              `json:"clientSecretSet"`
	SendProfile      bool              `json:"sendProfile"`
	Language         string            `json:"language"`
	Skills           []string          `json:"skills"`
	Priority         int               `json:"priority"`
	CustomAttributes map[string]string `json:"customAttributes"`
	RelayTyping      bool              `json:"relayTyping"`
	FlowMessages     string            `json:"flowMessages"`
	AttributeNames   map[string]string `json:"attributeNames"`
	CopilotBaseURL   string            `json:"copilotBaseUrl"`
	// The agents' credential, and the URL for a Genesys Script's Web Page
	// component that carries it (docs/security.md).
	CopilotToken        string `json:"copilotToken"`
	CopilotEmbeddingURL string `json:"copilotEmbeddingUrl"`
	CopilotJWTSecretSet bool   `json:"copilotJwtSecretSet"`
	DemoChat            bool   `json:"demoChat"`
	DemoChatURL         string `json:"demoChatUrl,omitempty"`
	// The bot webhook: its URL, whether it has a signing secret, and the
	// secret itself only in the response that made it (shown once).
	BotWebhookURL       string `json:"botWebhookUrl"`
	BotWebhookSecretSet bool   `json:"botWebhookSecretSet"`
	BotWebhookSecret    string `json:"botWebhookSecret,omitempty"`
	// PreviousBotWebhookSecretUntil: a replaced signing secret still signs beside the new one until then.
	PreviousBotWebhookSecretUntil *time.Time `json:"previousBotWebhookSecretUntil,omitempty"`
	waitingJSON
	privacyJSON
	URLToken string `json:"urlToken"`
	// PreviousURLTokenUntil: a rotated token still opens the bot API until then.
	PreviousURLTokenUntil *time.Time `json:"previousUrlTokenUntil,omitempty"`
	ConfigURL             string     `json:"configUrl"`
	CreatedAt             time.Time  `json:"createdAt"`
	UpdatedAt             time.Time  `json:"updatedAt"`

	// The endpoint's bot and type; BotConnectorURL is the Handle Utterance
	// URL, for Bot Connector endpoints.
	Type                       string `json:"type"`
	BotURL                     string `json:"botUrl"`
	BotConnectorURL            string `json:"botConnectorUrl,omitempty"`
	BotConnectorHeaderName     string `json:"botConnectorHeaderName"`
	BotConnectorHeaderValueSet bool   `json:"botConnectorHeaderValueSet"`
	BotConnectorIntegrationID  string `json:"botConnectorIntegrationId"`
}

func (h *Endpoints) response(e store.Endpoint) endpointResponse {
	return endpointResponse{
		ID: e.ID, Name: e.Name, Organisation: e.Organisation.Name, HandoverProvider: e.Provider,
		Host: e.Host, HostWarning: genesys.Host(e.Host).Warning(), DeploymentName: e.DeploymentName,
		QueueID: e.QueueID, ClientID: e.ClientID, WebhookSecretSet: e.WebhookSecret != "", ClientSecretSet: e.ClientSecret != "",
		SendProfile: e.SendProfile, Language: e.DefaultLanguage, Skills: e.DefaultSkills, Priority: e.DefaultPriority,
		CustomAttributes: e.DefaultCustomAttributes, RelayTyping: e.RelayTyping, FlowMessages: e.FlowMessages, AttributeNames: effectiveAttributeNames(e),
		CopilotBaseURL: e.CopilotBaseURL, URLToken: e.URLToken, ConfigURL: h.configURL(e), CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
		PreviousURLTokenUntil: e.PreviousURLTokenUntilAt(time.Now()),
		CopilotToken:          e.CopilotToken, CopilotEmbeddingURL: h.Tools.copilotSection(e, "", "").EmbeddingURL, CopilotJWTSecretSet: e.CopilotJWTSecret != "",
		DemoChat: e.DemoChat, DemoChatURL: h.Tools.demoChatURL(e),
		BotWebhookURL: e.BotWebhookURL, BotWebhookSecretSet: e.BotWebhookSecret != "", PreviousBotWebhookSecretUntil: previousUntil(e.BotWebhookSecretsAt(time.Now()), e.PreviousBotWebhookSecretUntil),
		waitingJSON: waitingJSON{IfNoAgents: e.Waiting.IfNoAgents, QueueUpdateSeconds: e.Waiting.QueueUpdateSeconds,
			QueueTimeoutSeconds: e.Waiting.QueueTimeoutSeconds, InactivitySeconds: e.Waiting.InactivitySeconds, Messages: e.Waiting.Messages},
		privacyJSON: newPrivacyJSON(e.Privacy),
		Type:        e.Type, BotURL: e.BotURL, BotConnectorURL: h.botConnectorURL(e), BotConnectorHeaderName: e.BotConnectorHeaderName,
		BotConnectorHeaderValueSet: e.BotConnectorHeaderValue != "", BotConnectorIntegrationID: e.BotConnectorIntegrationID,
	}
}

// botConnectorURL is the Handle Utterance URL of a Bot Connector endpoint,
// <Config URL>/botconnector; "" for a bot endpoint.
func (h *Endpoints) botConnectorURL(e store.Endpoint) string {
	if e.Type != store.TypeGenesysBotConnector {
		return ""
	}
	return h.configURL(e) + "/botconnector"
}

// privacyJSON is an endpoint's data protection as the API shows it.
type privacyJSON struct {
	MaskSensitiveLogging      bool `json:"maskSensitiveLogging"`
	MaskIPAddress             bool `json:"maskIpAddress"`
	CollectConversations      bool `json:"collectConversations"`
	InputSanitization         bool `json:"inputSanitization"`
	ConversationRetentionDays int  `json:"conversationRetentionDays"`
}

func newPrivacyJSON(p store.PrivacySettings) privacyJSON {
	return privacyJSON{MaskSensitiveLogging: p.MaskSensitiveLogging, MaskIPAddress: p.MaskIPAddress, CollectConversations: !p.DiscardConversationText,
		InputSanitization: !p.KeepInputHTML, ConversationRetentionDays: p.ConversationRetentionDays}
}

// privacyRequest is the data protection of an endpoint request; absent
// fields keep their value.
type privacyRequest struct {
	MaskSensitiveLogging      *bool `json:"maskSensitiveLogging"`
	MaskIPAddress             *bool `json:"maskIpAddress"`
	CollectConversations      *bool `json:"collectConversations"`
	InputSanitization         *bool `json:"inputSanitization"`
	ConversationRetentionDays *int  `json:"conversationRetentionDays"`
}

// merge lays the present fields over p.
func (req privacyRequest) merge(p store.PrivacySettings) store.PrivacySettings {
	if req.MaskSensitiveLogging != nil {
		p.MaskSensitiveLogging = *req.MaskSensitiveLogging
	}
	if req.MaskIPAddress != nil {
		p.MaskIPAddress = *req.MaskIPAddress
	}
	if req.CollectConversations != nil {
		p.DiscardConversationText = !*req.CollectConversations
	}
	if req.InputSanitization != nil {
		p.KeepInputHTML = !*req.InputSanitization
	}
	if req.ConversationRetentionDays != nil {
		p.ConversationRetentionDays = *req.ConversationRetentionDays
	}
	return p
}

// waitingRequest are the waiting settings of an endpoint request; absent
// ones keep their value, and a message set to "" goes back to the default.
type waitingRequest struct {
	IfNoAgents          *string           `json:"ifNoAgents"`
	QueueUpdateSeconds  *int              `json:"queueUpdateSeconds"`
	QueueTimeoutSeconds *int              `json:"queueTimeoutSeconds"`
	InactivitySeconds   *int              `json:"inactivitySeconds"`
	Messages            map[string]string `json:"messages"`
}

// waitingJSON are the waiting settings as the API shows them.
type waitingJSON struct {
	IfNoAgents          string            `json:"ifNoAgents"`
	QueueUpdateSeconds  int               `json:"queueUpdateSeconds"`
	QueueTimeoutSeconds int               `json:"queueTimeoutSeconds"`
	InactivitySeconds   int               `json:"inactivitySeconds"`
	Messages            map[string]string `json:"messages"`
}

// merge lays the present fields over w.
func (req waitingRequest) merge(w store.WaitingSettings) store.WaitingSettings {
	if req.IfNoAgents != nil {
		w.IfNoAgents = *req.IfNoAgents
	}
	for dst, src := range map[*int]*int{&w.QueueUpdateSeconds: req.QueueUpdateSeconds, &w.QueueTimeoutSeconds: req.QueueTimeoutSeconds, &w.InactivitySeconds: req.InactivitySeconds} {
		if src != nil {
			*dst = *src
		}
	}
	messages := maps.Clone(w.Messages)
	if messages == nil {
		messages = map[string]string{}
	}
	maps.Copy(messages, req.Messages)
	w.Messages = messages
	return w
}

// APIList answers GET /api/v1/admin/endpoints.
func (h *Endpoints) APIList(c *fiber.Ctx) error {
	endpoints, err := h.Store.ListEndpoints(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]endpointResponse, len(endpoints))
	for i, e := range endpoints {
		out[i] = h.response(e)
	}
	return c.JSON(fiber.Map{"endpoints": out})
}

// APIGet answers GET /api/v1/admin/endpoints/:id.
func (h *Endpoints) APIGet(c *fiber.Ctx) error {
	e, err := h.endpointFromPath(c)
	if err != nil {
		return err
	}
	return c.JSON(h.response(e))
}

// APICreate answers POST /api/v1/admin/endpoints.
func (h *Endpoints) APICreate(c *fiber.Ctx) error {
	req, err := decodeEndpointRequest(c.Body())
	if err != nil {
		return &Refusal{Status: fiber.StatusBadRequest, Code: "bad_request", Message: err.Error()}
	}
	// A script that sends Genesys settings means the Genesys provider; a
	// Bot Connector endpoint's OAuth client registers its bot and hands
	// nothing over unless the provider is asked for.
	botConnector := req.Type != nil && *req.Type == store.TypeGenesysBotConnector
	if req.HandoverProvider == nil && !botConnector && (req.Host != nil || req.DeploymentName != nil || req.QueueID != nil || req.ClientID != nil) {
		provider := store.ProviderGenesysCloudOM
		req.HandoverProvider = &provider
	}
	e := store.Endpoint{URLToken: secret.NewToken(urlTokenBytes), RelayTyping: true, Waiting: store.DefaultWaiting(), Privacy: store.DefaultPrivacy()}
	if req.BotWebhookSecret == nil {
		// Left out on create: Handover makes the signing secret, so that a
		// script has it (once, in this response) for when it sets the URL.
		e.BotWebhookSecret = secret.NewWebhookSecret()
	}
	if err := h.apiSave(c, req, &e, h.Store.CreateEndpoint); err != nil {
		return err
	}
	created, err := h.Store.EndpointByID(c.UserContext(), e.ID)
	if err != nil {
		return err
	}
	c.Location("/api/v1/admin/endpoints/" + fmt.Sprint(e.ID))
	out := h.response(created)
	out.BotWebhookSecret = created.BotWebhookSecret // made or given now: shown this once
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(out)
}

// APIUpdate answers PUT /api/v1/admin/endpoints/:id.
func (h *Endpoints) APIUpdate(c *fiber.Ctx) error {
	e, err := h.endpointFromPath(c)
	if err != nil {
		return err
	}
	req, err := decodeEndpointRequest(c.Body())
	if err != nil {
		return &Refusal{Status: fiber.StatusBadRequest, Code: "bad_request", Message: err.Error()}
	}
	before := e.BotWebhookSecret
	if err := h.apiSave(c, req, &e, h.Store.UpdateEndpoint); err != nil {
		return err
	}
	updated, err := h.Store.EndpointByID(c.UserContext(), e.ID)
	if err != nil {
		return err
	}
	out := h.response(updated)
	if updated.BotWebhookSecret != before {
		out.BotWebhookSecret = updated.BotWebhookSecret // made or replaced now: shown this once
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	return c.JSON(out)
}

// APIDelete answers DELETE /api/v1/admin/endpoints/:id.
func (h *Endpoints) APIDelete(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteEndpoint(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (h *Endpoints) apiSave(c *fiber.Ctx, req endpointRequest, e *store.Endpoint, write func(context.Context, *store.Endpoint) error) error {
	in := mergeEndpointRequest(req, *e)
	parseErrs := map[string]string{}
	if len(req.CustomAttributes) > 0 && !bytes.Equal(bytes.TrimSpace(req.CustomAttributes), []byte("null")) {
		attrs, err := parseCustomAttributes(string(req.CustomAttributes))
		if err != nil {
			parseErrs[fieldCustomAttributes] = err.Error()
		}
		in.CustomAttributes = attrs
	}
	fields, err := h.validateAndWrite(c.UserContext(), in, parseErrs, e, write)
	if err != nil {
		return err
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	return nil
}

// previousUntil is when a replaced secret stops working, while it still
// does (secrets has it after the current one); nil otherwise.
func previousUntil(secrets []string, until *time.Time) *time.Time {
	if len(secrets) < 2 {
		return nil
	}
	return until
}

// effectiveAttributeNames is every routing attribute with the name it is sent under.
func effectiveAttributeNames(e store.Endpoint) map[string]string {
	out := make(map[string]string, len(relay.RoutingAttributes))
	for _, a := range relay.RoutingAttributes {
		out[a.Key] = relay.AttributeName(e, a.Key)
	}
	return out
}

// mergeEndpointRequest lays the fields present in req over the stored endpoint.
func mergeEndpointRequest(req endpointRequest, e store.Endpoint) endpointInput {
	in := endpointInput{
		Name: e.Name, Organisation: e.Organisation.Name, Provider: e.Provider, Host: e.Host,
		DeploymentName: e.DeploymentName, QueueID: e.QueueID, ClientID: e.ClientID, SendProfile: e.SendProfile,
		Language: e.DefaultLanguage, Skills: e.DefaultSkills, Priority: e.DefaultPriority,
		CustomAttributes: e.DefaultCustomAttributes, RelayTyping: e.RelayTyping, FlowMessages: e.FlowMessages, AttributeNames: maps.Clone(e.AttributeNames),
		CopilotBaseURL: e.CopilotBaseURL, Waiting: req.waitingRequest.merge(e.Waiting), Privacy: req.privacyRequest.merge(e.Privacy),
		CopilotJWTSecret: req.CopilotJWTSecret, DemoChat: e.DemoChat, BotWebhookURL: e.BotWebhookURL, BotWebhookSecret: req.BotWebhookSecret,
		Type: e.Type, BotURL: e.BotURL, BotConnectorHeaderName: e.BotConnectorHeaderName, BotConnectorIntegrationID: e.BotConnectorIntegrationID,
	}
	if req.DemoChat != nil {
		in.DemoChat = *req.DemoChat
	}
	if req.AttributeNames != nil {
		if in.AttributeNames == nil {
			in.AttributeNames = map[string]string{}
		}
		maps.Copy(in.AttributeNames, req.AttributeNames)
	}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&in.Name, req.Name)
	set(&in.Organisation, req.Organisation)
	set(&in.Provider, req.HandoverProvider)
	set(&in.Type, req.Type)
	set(&in.BotURL, req.BotURL)
	set(&in.BotConnectorHeaderName, req.BotConnectorHeaderName)
	set(&in.BotConnectorHeaderValue, req.BotConnectorHeaderValue)
	set(&in.BotConnectorIntegrationID, req.BotConnectorIntegrationID)
	set(&in.Host, req.Host)
	set(&in.DeploymentName, req.DeploymentName)
	set(&in.QueueID, req.QueueID)
	set(&in.ClientID, req.ClientID)
	set(&in.WebhookSecret, req.WebhookSecret)
	set(&in.ClientSecret, req.ClientSecret)
	set(&in.Language, req.Language)
	set(&in.CopilotBaseURL, req.CopilotBaseURL)
	set(&in.FlowMessages, req.FlowMessages)
	set(&in.BotWebhookURL, req.BotWebhookURL)
	if req.SendProfile != nil {
		in.SendProfile = *req.SendProfile
	}
	if req.Skills != nil {
		in.Skills = *req.Skills
	}
	if req.Priority != nil {
		in.Priority = *req.Priority
	}
	if req.RelayTyping != nil {
		in.RelayTyping = *req.RelayTyping
	}
	return in
}

// decodeEndpointRequest reads one JSON object and rejects unknown fields, so a
// misspelt field name is an error rather than a silently ignored setting.
func decodeEndpointRequest(body []byte) (endpointRequest, error) {
	var req endpointRequest
	if problem := decodeObject(body, &req, true); problem != nil {
		return req, errors.New(problem.Message)
	}
	return req, nil
}
