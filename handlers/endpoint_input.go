package handlers

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
)

// endpointInput is an endpoint as an admin submits it, through the console
// form or the JSON API. Both go through validate, so the rules are one.
type endpointInput struct {
	Name             string
	Organisation     string
	Provider         string
	Host             string
	DeploymentName   string
	QueueID          string
	WebhookSecret    string // empty: keep the stored one
	ClientID         string
	ClientSecret     string // empty: keep the stored one
	SendProfile      bool
	Language         string
	Skills           []string
	Priority         int
	CustomAttributes map[string]string
	RelayTyping      bool
	FlowMessages     string // store.FlowMessagesShow or …Hide; "" for show
	AttributeNames   map[string]string
	CopilotBaseURL   string
	CopilotJWTSecret *string // nil: keep the stored one; "": no JWT
	DemoChat         bool
	BotWebhookURL    string
	BotWebhookSecret *string // nil: keep the stored one (one is made when a URL has none)
	Waiting          store.WaitingSettings
	Privacy          store.PrivacySettings

	// The endpoint's bot and type; an empty credential value keeps the stored one.
	Type                      string // store.TypeBot or store.TypeGenesysBotConnector; "" for bot
	BotURL                    string
	BotConnectorHeaderName    string
	BotConnectorHeaderValue   string
	BotConnectorIntegrationID string
}

// minCopilotJWTSecret is the shortest Copilot JWT secret: 256 bits, as
// RFC 7518 §3.2 asks of an HS256 key.
const minCopilotJWTSecret = 32

// Field names, shared by form inputs, error maps and the JSON API.
const (
	fieldName             = "name"
	fieldOrganisation     = "organisation"
	fieldProvider         = "provider"
	fieldEndpointType     = "type"
	fieldBotURL           = "botUrl"
	fieldBotHeaderName    = "botConnectorHeaderName"
	fieldBotHeaderValue   = "botConnectorHeaderValue"
	fieldBotIntegrationID = "botConnectorIntegrationId"
	fieldHost             = "host"
	fieldDeploymentName   = "deploymentName"
	fieldQueueID          = "queueId"
	fieldWebhookSecret    = "webhookSecret"
	fieldClientID         = "clientId"
	fieldClientSecret     = "clientSecret"
	fieldLanguage         = "language"
	fieldSkills           = "skills"
	fieldPriority         = "priority"
	fieldCustomAttributes = "customAttributes"
	fieldAttributeNames   = "attributeNames"
	fieldCopilotBaseURL   = "copilotBaseUrl"
	fieldCopilotJWTSecret = "copilotJwtSecret"
	fieldDemoChat         = "demoChat"
	fieldBotWebhookURL    = "botWebhookUrl"
	fieldBotWebhookSecret = "botWebhookSecret"
	fieldFlowMessages     = "flowMessages"
	fieldIfNoAgents       = "ifNoAgents"
	fieldQueueUpdate      = "queueUpdateSeconds"
	fieldQueueTimeout     = "queueTimeoutSeconds"
	fieldInactivity       = "inactivitySeconds"
	fieldMessages         = "messages"
	fieldRetentionDays    = "conversationRetentionDays"
)

// Bounds of the waiting settings (0 turns each off).
const (
	minQueueUpdateSeconds = 10
	maxTimerSeconds       = 24 * 60 * 60
	minTimeoutSeconds     = 60
	maxMessageRunes       = 1000
	maxRetentionDays      = 3650
)

const maxPriority = 1_000_000

// endpointRules validates endpoint input against the store and the feature flags.
type endpointRules struct {
	Organisations        func(ctx context.Context, name string) (store.Organisation, error)
	Features             config.Features
	AllowInsecureGenesys bool
	// SecretGrace keeps a replaced webhook secret verifying this long, so
	// the admin can change it in Genesys and here without losing webhooks.
	SecretGrace time.Duration
	Now         func() time.Time
}

// apply validates in and, when it is valid, configures e with it: parse
// (trim and default), validate (every field, every error at once), then one
// domain method, store.Endpoint.Configure, changes the endpoint. On failure e
// is left untouched and the error is a *ValidationError naming each bad field.
func (r endpointRules) apply(ctx context.Context, in endpointInput, e *store.Endpoint) error {
	settings, err := r.validate(ctx, normalise(in), e)
	if err != nil {
		return err
	}
	e.Configure(settings, r.SecretGrace, r.now())
	return nil
}

// normalise trims what an admin typed and fills the defaults; it judges nothing.
func normalise(in endpointInput) endpointInput {
	in.Name = strings.TrimSpace(in.Name)
	in.Organisation = cmp.Or(strings.TrimSpace(in.Organisation), store.DefaultOrganisation)
	in.DeploymentName = strings.TrimSpace(in.DeploymentName)
	in.QueueID = strings.TrimSpace(in.QueueID)
	in.ClientID = strings.TrimSpace(in.ClientID)
	in.Type = cmp.Or(strings.TrimSpace(in.Type), store.TypeBot)
	in.BotURL = strings.TrimSpace(in.BotURL)
	in.BotConnectorHeaderName = strings.TrimSpace(in.BotConnectorHeaderName)
	in.BotConnectorIntegrationID = strings.TrimSpace(in.BotConnectorIntegrationID)
	in.Language = strings.TrimSpace(in.Language)
	in.BotWebhookURL = strings.TrimSpace(in.BotWebhookURL)
	in.FlowMessages = cmp.Or(in.FlowMessages, store.FlowMessagesShow)
	in.Waiting.IfNoAgents = cmp.Or(strings.TrimSpace(in.Waiting.IfNoAgents), store.IfNoAgentsQueue)
	messages := map[string]string{}
	for key, text := range in.Waiting.Messages {
		if text = strings.TrimSpace(text); text != "" {
			messages[key] = text
		}
	}
	in.Waiting.Messages = messages
	skills := make([]string, 0, len(in.Skills))
	for _, skill := range in.Skills {
		if skill = strings.TrimSpace(skill); skill != "" && !slices.Contains(skills, skill) {
			skills = append(skills, skill)
		}
	}
	in.Skills = skills
	return in
}

// validate checks normalised input against Genesys's rules, the store and
// the feature flags, and returns the settings to configure e with. e is read
// only for the secrets an admin may leave empty to keep.
func (r endpointRules) validate(ctx context.Context, in endpointInput, e *store.Endpoint) (store.EndpointSettings, error) {
	errs := map[string]string{}
	switch n := utf8.RuneCountInString(in.Name); {
	case n == 0:
		errs[fieldName] = "Enter a name."
	case n > 100:
		errs[fieldName] = "Use at most 100 characters."
	}
	org, err := r.Organisations(ctx, in.Organisation)
	switch {
	case errors.Is(err, store.ErrNotFound):
		errs[fieldOrganisation] = fmt.Sprintf("There is no organisation %q. Add it under Settings first.", in.Organisation)
	case err != nil:
		return store.EndpointSettings{}, err
	}
	r.validateProvider(errs, in.Provider, org)
	botConnector := r.validateBot(errs, in, org, e)
	genesysSettings := r.validateGenesys(errs, in, e)
	validateRouting(errs, in)
	attributeNames := validateAttributeNames(errs, in.AttributeNames)
	copilotBaseURL, err := parseCopilotBaseURL(in.CopilotBaseURL)
	if err != nil {
		errs[fieldCopilotBaseURL] = err.Error()
	}
	if in.CopilotJWTSecret != nil && *in.CopilotJWTSecret != "" && len(*in.CopilotJWTSecret) < minCopilotJWTSecret {
		errs[fieldCopilotJWTSecret] = fmt.Sprintf("Use at least %d characters (HS256 wants a key as long as its hash), or none to turn the JWT off.", minCopilotJWTSecret)
	}
	validateBotWebhook(errs, in)
	if in.FlowMessages != store.FlowMessagesShow && in.FlowMessages != store.FlowMessagesHide {
		errs[fieldFlowMessages] = fmt.Sprintf("Use %q or %q.", store.FlowMessagesShow, store.FlowMessagesHide)
	}
	validateWaiting(errs, in.Waiting)
	if n := in.Privacy.ConversationRetentionDays; n < 0 || n > maxRetentionDays {
		errs[fieldRetentionDays] = fmt.Sprintf("Use 0 (keep) or 1 to %d days.", maxRetentionDays)
	}
	if len(errs) > 0 {
		return store.EndpointSettings{}, &ValidationError{Fields: errs}
	}
	return store.EndpointSettings{
		Name:                    in.Name,
		Organisation:            org,
		Provider:                in.Provider,
		Type:                    in.Type,
		BotURL:                  in.BotURL,
		BotConnector:            botConnector,
		Genesys:                 genesysSettings,
		DefaultLanguage:         in.Language,
		DefaultSkills:           in.Skills,
		DefaultPriority:         in.Priority,
		DefaultCustomAttributes: in.CustomAttributes,
		RelayTyping:             in.RelayTyping,
		FlowMessages:            in.FlowMessages,
		AttributeNames:          attributeNames,
		CopilotBaseURL:          copilotBaseURL,
		CopilotJWTSecret:        in.CopilotJWTSecret,
		DemoChat:                in.DemoChat,
		BotWebhookURL:           in.BotWebhookURL,
		BotWebhookSecret:        in.BotWebhookSecret,
		Waiting:                 in.Waiting,
		Privacy:                 in.Privacy,
	}, nil
}

// validateBotWebhook checks the bot webhook's URL and a signing secret given
// in the Standard Webhooks form.
func validateBotWebhook(errs map[string]string, in endpointInput) {
	if in.BotWebhookURL != "" {
		u, err := url.Parse(in.BotWebhookURL)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			errs[fieldBotWebhookURL] = "Enter the bot's absolute http(s) URL, for example https://bot.example.com/handover-events."
		case u.User != nil:
			errs[fieldBotWebhookURL] = "Leave credentials out of the URL: the bot verifies the signature instead."
		case utf8.RuneCountInString(in.BotWebhookURL) > 2000:
			errs[fieldBotWebhookURL] = "Use at most 2000 characters."
		}
	}
	if in.BotWebhookSecret != nil {
		if err := secret.CheckWebhookSecret(*in.BotWebhookSecret); err != nil {
			errs[fieldBotWebhookSecret] = capitalise(err.Error()) + ", for example whsec_ and the base64 of 32 random bytes; or leave it out and Handover makes one."
		}
	}
}

// validateWaiting checks what the endpoint does for a waiting customer.
func validateWaiting(errs map[string]string, w store.WaitingSettings) {
	if w.IfNoAgents != store.IfNoAgentsQueue && w.IfNoAgents != store.IfNoAgentsRefuse {
		errs[fieldIfNoAgents] = fmt.Sprintf("Use %q or %q.", store.IfNoAgentsQueue, store.IfNoAgentsRefuse)
	}
	if n := w.QueueUpdateSeconds; n != 0 && (n < minQueueUpdateSeconds || n > maxTimerSeconds) {
		errs[fieldQueueUpdate] = fmt.Sprintf("Use 0 (no updates) or %d to %d seconds.", minQueueUpdateSeconds, maxTimerSeconds)
	}
	for field, n := range map[string]int{fieldQueueTimeout: w.QueueTimeoutSeconds, fieldInactivity: w.InactivitySeconds} {
		if n != 0 && (n < minTimeoutSeconds || n > maxTimerSeconds) {
			errs[field] = fmt.Sprintf("Use 0 (off) or 1 to %d minutes.", maxTimerSeconds/60)
		}
	}
	for key, text := range w.Messages {
		switch {
		case !slices.Contains(store.MessageKeys, key):
			errs[fieldMessages] = fmt.Sprintf("Unknown text %q; the texts are %s.", key, strings.Join(store.MessageKeys, ", "))
		case utf8.RuneCountInString(text) > maxMessageRunes:
			errs[fieldMessages+"."+key] = fmt.Sprintf("Use at most %d characters.", maxMessageRunes)
		case strings.ContainsRune(text, 0):
			errs[fieldMessages+"."+key] = "The text contains a NUL character."
		}
	}
}

func (r endpointRules) validateProvider(errs map[string]string, provider string, org store.Organisation) {
	switch provider {
	case store.ProviderNone:
	case store.ProviderGenesysCloudOM:
		if org.ID != 0 {
			if ok, reason := r.Features.GenesysCloudOMFor(org.Name); !ok {
				errs[fieldProvider] = reason
			}
		}
	default:
		errs[fieldProvider] = fmt.Sprintf("Unknown handover provider %q; use %q or leave it empty.", provider, store.ProviderGenesysCloudOM)
	}
}

// minBotConnectorCredential is the shortest credential header value: the
// header is all that stands beside the URL token, so it is a secret of its own.
const minBotConnectorCredential = 16

// BotConnectorUnavailable says why an organisation may not have Genesys Bot
// Connector endpoints, in words an admin can act on; "" when it may.
func BotConnectorUnavailable(f config.Features, organisation string) string {
	if f.BotConnectorFor(organisation) {
		return ""
	}
	return fmt.Sprintf("Genesys Bot Connector endpoints are not enabled for organisation %q: it is not listed in FEATURE_USE_GENESYS_BOT_CONNECTOR_ENDPOINT_WHITELIST (%s).", organisation, f.BotConnectorWhitelist)
}

// validateBot checks the endpoint's type, its Bot URL and, for a Genesys Bot
// Connector endpoint, the credential header (required; an empty value keeps
// e's) and the whitelist.
func (r endpointRules) validateBot(errs map[string]string, in endpointInput, org store.Organisation, e *store.Endpoint) store.BotConnectorSettings {
	if in.BotURL != "" {
		if err := parseBotURL(in.BotURL, r.AllowInsecureGenesys); err != nil {
			errs[fieldBotURL] = err.Error()
		}
	}
	settings := store.BotConnectorSettings{HeaderName: in.BotConnectorHeaderName, HeaderValue: cmp.Or(in.BotConnectorHeaderValue, e.BotConnectorHeaderValue),
		IntegrationID: strings.ToLower(in.BotConnectorIntegrationID)}
	if settings.IntegrationID != "" && !genesys.IsID(settings.IntegrationID) {
		errs[fieldBotIntegrationID] = "The Bot Connector integration id is a UUID (Admin › Integrations › the integration › Details)."
	}
	switch in.Type {
	case store.TypeBot:
		return settings
	case store.TypeGenesysBotConnector:
	default:
		errs[fieldEndpointType] = fmt.Sprintf("Unknown endpoint type %q; use %q or %q.", in.Type, store.TypeBot, store.TypeGenesysBotConnector)
		return settings
	}
	if org.ID != 0 {
		if reason := BotConnectorUnavailable(r.Features, org.Name); reason != "" {
			errs[fieldEndpointType] = reason
		}
	}
	switch {
	case settings.HeaderName == "":
		errs[fieldBotHeaderName] = "Enter the name of the credential header you configure on the Bot Connector integration, for example X-Handover-Key."
	case len(settings.HeaderName) > 100 || !isHeaderToken(settings.HeaderName):
		errs[fieldBotHeaderName] = "A header name is up to 100 letters, digits and - (no spaces or colons)."
	}
	switch {
	case in.BotConnectorHeaderValue != "" && utf8.RuneCountInString(in.BotConnectorHeaderValue) < minBotConnectorCredential:
		errs[fieldBotHeaderValue] = fmt.Sprintf("Use at least %d characters: this value is the credential Genesys proves itself with.", minBotConnectorCredential)
	case settings.HeaderValue == "":
		errs[fieldBotHeaderValue] = "Enter the credential header's value, the one you enter on the Bot Connector integration's Credentials tab."
	case strings.ContainsAny(settings.HeaderValue, "\r\n\x00"):
		errs[fieldBotHeaderValue] = "The value cannot contain line breaks or NUL characters."
	}
	return settings
}

// isHeaderToken tells whether s is an HTTP header name (RFC 9110 token).
func isHeaderToken(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return s != ""
}

// parseBotURL checks a Bot URL: an absolute http(s) URL; plain http only
// for loopback, or anywhere with HANDOVER_ALLOW_INSECURE_GENESYS.
func parseBotURL(raw string, allowInsecure bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return errors.New("Enter a full https:// URL of your bot, for example https://bot.example.com/turn.")
	case u.Scheme == "http" && !allowInsecure && !isLoopbackHost(u.Hostname()):
		return errors.New("Use https://; plain http:// is allowed only for localhost and 127.0.0.1.")
	case u.User != nil:
		return errors.New("Leave out the user name and password.")
	case len(raw) > 500:
		return errors.New("Use at most 500 characters.")
	}
	return nil
}

// validateGenesys checks the Genesys settings, all required when the
// provider is Genesys Cloud Open Messaging. An empty secret keeps e's.
func (r endpointRules) validateGenesys(errs map[string]string, in endpointInput, e *store.Endpoint) store.GenesysSettings {
	required := in.Provider == store.ProviderGenesysCloudOM
	var host genesys.Host
	if strings.TrimSpace(in.Host) != "" || required {
		var err error
		if host, err = genesys.ParseHost(in.Host, r.AllowInsecureGenesys); err != nil {
			errs[fieldHost] = capitalise(err.Error()) + "."
		}
	}
	requireText(errs, fieldDeploymentName, in.DeploymentName, required, 200, "Enter the name of the Open Messaging integration.")
	if in.QueueID != "" && !genesys.IsID(in.QueueID) {
		errs[fieldQueueID] = "A queue id is a UUID such as 3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31 (Admin › Queues › the queue's page address)."
	} else if in.QueueID == "" && required {
		errs[fieldQueueID] = "Enter the id of the Genesys queue to hand over to."
	}
	requireText(errs, fieldClientID, in.ClientID, required, 200, "Enter the OAuth client id.")
	webhookSecret := cmp.Or(in.WebhookSecret, e.WebhookSecret)
	if in.WebhookSecret != "" && utf8.RuneCountInString(in.WebhookSecret) < genesys.MinWebhookSecretRunes {
		errs[fieldWebhookSecret] = "Genesys requires a webhook secret longer than 15 characters."
	} else if webhookSecret == "" && required {
		errs[fieldWebhookSecret] = "Enter the webhook secret you set on the Open Messaging integration."
	}
	clientSecret := cmp.Or(in.ClientSecret, e.ClientSecret)
	if clientSecret == "" && required {
		errs[fieldClientSecret] = "Enter the OAuth client secret."
	}
	return store.GenesysSettings{
		Host:           string(host),
		DeploymentName: in.DeploymentName,
		QueueID:        strings.ToLower(in.QueueID),
		ClientID:       in.ClientID,
		ClientSecret:   clientSecret,
		WebhookSecret:  webhookSecret,
		SendProfile:    in.SendProfile,
	}
}

// validateRouting checks the handover defaults: language, skills, priority
// and custom attributes.
func validateRouting(errs map[string]string, in endpointInput) {
	requireText(errs, fieldLanguage, in.Language, false, 64, "")
	for _, skill := range in.Skills {
		if utf8.RuneCountInString(skill) > 100 {
			errs[fieldSkills] = "Each skill may have at most 100 characters."
		}
	}
	if in.Priority < -maxPriority || in.Priority > maxPriority {
		errs[fieldPriority] = fmt.Sprintf("Use a whole number between -%d and %d.", maxPriority, maxPriority)
	}
	for key := range in.CustomAttributes {
		if strings.TrimSpace(key) == "" || utf8.RuneCountInString(key) > 100 {
			errs[fieldCustomAttributes] = "Attribute names must be 1 to 100 characters."
		}
	}
}

// validateAttributeNames checks the renamed routing participant data and
// returns the names that differ from the defaults: no two attributes may be
// sent under one name.
func validateAttributeNames(errs map[string]string, names map[string]string) map[string]string {
	renamed := map[string]string{}
	used := map[string]string{}
	for _, a := range relay.RoutingAttributes {
		name := strings.TrimSpace(names[a.Key])
		if name != "" && name != a.Default {
			renamed[a.Key] = name
		}
		name = cmp.Or(name, a.Default)
		switch {
		case utf8.RuneCountInString(name) > 100:
			errs[fieldAttributeNames] = "Participant data names may have at most 100 characters."
		case used[name] != "":
			errs[fieldAttributeNames] = fmt.Sprintf("%s and %s would both be sent as %q; give each its own name.", used[name], a.Label, name)
		}
		used[name] = a.Label
	}
	for key := range names {
		if !slices.ContainsFunc(relay.RoutingAttributes, func(a relay.RoutingAttribute) bool { return a.Key == key }) {
			errs[fieldAttributeNames] = fmt.Sprintf("Unknown routing attribute %q.", key)
		}
	}
	return renamed
}

func (r endpointRules) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func requireText(errs map[string]string, field, value string, required bool, max int, missing string) {
	switch {
	case value == "" && required:
		errs[field] = missing
	case utf8.RuneCountInString(value) > max:
		errs[field] = fmt.Sprintf("Use at most %d characters.", max)
	}
}

// parseCustomAttributes reads the custom attributes JSON object; every value
// must be a string because Genesys participant data is string → string.
func parseCustomAttributes(text string) (map[string]string, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return map[string]string{}, nil
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(text), &raw); err != nil || raw == nil {
		return nil, errors.New(`Enter a JSON object of "key": "value" strings, for example {"tier": "gold"}.`)
	}
	attrs := make(map[string]string, len(raw))
	for key, value := range raw {
		s, ok := value.(string)
		if !ok {
			return nil, fmt.Errorf(`The value of %q must be a string in quotes (Genesys participant data holds only strings), for example "%v".`, key, value)
		}
		attrs[key] = s
	}
	return attrs, nil
}

func parsePriority(text string) (int, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		return 0, errors.New("Enter a whole number, for example 5.")
	}
	return n, nil
}

func splitSkills(text string) []string {
	var skills []string
	for _, s := range strings.Split(text, ",") {
		if s = strings.TrimSpace(s); s != "" {
			skills = append(skills, s)
		}
	}
	return skills
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
