package handlers

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/paths"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// EndpointStore is what the endpoint pages and API need from the store.
type EndpointStore interface {
	ListEndpoints(ctx context.Context) ([]store.Endpoint, error)
	EndpointByID(ctx context.Context, id int64) (store.Endpoint, error)
	CreateEndpoint(ctx context.Context, e *store.Endpoint) error
	UpdateEndpoint(ctx context.Context, e *store.Endpoint) error
	DeleteEndpoint(ctx context.Context, id int64) error
	RotateURLToken(ctx context.Context, id int64, grace time.Duration) (store.Endpoint, error)
	ListOrganisations(ctx context.Context) ([]store.Organisation, error)
	OrganisationByName(ctx context.Context, name string) (store.Organisation, error)
}

// Endpoints serves the endpoint console pages and the endpoint admin API.
type Endpoints struct {
	Store                EndpointStore
	Features             config.Features
	PublicURL            string
	AllowInsecureGenesys bool
	WebhookSecretGrace   time.Duration // how long a replaced webhook secret still verifies
	URLTokenGrace        time.Duration // how long a rotated URL token still opens the bot API
	// Tools renders a saved endpoint's demo chat, Copilot, setup and
	// pre-flight sections; nil leaves them out.
	Tools *EndpointTools
}

// urlTokenBytes is the size of the random token in each Config URL.
const urlTokenBytes = 32

func (h *Endpoints) rules() endpointRules {
	return endpointRules{Organisations: h.Store.OrganisationByName, Features: h.Features, AllowInsecureGenesys: h.AllowInsecureGenesys, SecretGrace: h.WebhookSecretGrace}
}

func (h *Endpoints) configURL(e store.Endpoint) string { return h.PublicURL + "/" + e.URLToken }

// List shows every endpoint.
func (h *Endpoints) List(c *fiber.Ctx) error {
	endpoints, err := h.Store.ListEndpoints(c.UserContext())
	if err != nil {
		return err
	}
	rows := make([]views.EndpointRow, len(endpoints))
	for i, e := range endpoints {
		rows[i] = views.EndpointRow{ID: e.ID, Name: e.Name, Organisation: e.Organisation.Name, Provider: providerName(e.Provider), Host: e.Host, ConfigURL: h.configURL(e)}
	}
	props := views.EndpointsProps{Endpoints: rows, CSRFToken: csrfToken(c), Notice: noticeText(c.Query("notice"))}
	return page(c, fiber.StatusOK, "Endpoints", "endpoints", views.EndpointsPage(props))
}

// New shows an empty endpoint form.
func (h *Endpoints) New(c *fiber.Ctx) error {
	values := views.EndpointFormValues{Organisation: store.DefaultOrganisation, RelayTyping: true, AttributeNames: attributeNameRows(nil),
		Waiting: formValues(store.Endpoint{Waiting: store.DefaultWaiting()}).Waiting, Privacy: formValues(store.Endpoint{Privacy: store.DefaultPrivacy()}).Privacy}
	if ok, _ := h.Features.GenesysCloudOMFor(values.Organisation); ok {
		values.Provider = store.ProviderGenesysCloudOM
	}
	return h.renderForm(c, fiber.StatusOK, store.Endpoint{}, values, nil)
}

// Show shows the form of an existing endpoint.
func (h *Endpoints) Show(c *fiber.Ctx) error {
	e, err := h.endpointFromPath(c)
	if err != nil {
		return err
	}
	return h.renderForm(c, fiber.StatusOK, e, formValues(e), nil)
}

// Create saves a new endpoint from the form.
func (h *Endpoints) Create(c *fiber.Ctx) error {
	e := store.Endpoint{URLToken: secret.NewToken(urlTokenBytes), Waiting: store.DefaultWaiting(), Privacy: store.DefaultPrivacy()}
	return h.save(c, e, func(ctx context.Context, e *store.Endpoint) error { return h.Store.CreateEndpoint(ctx, e) })
}

// Update saves the form of an existing endpoint.
func (h *Endpoints) Update(c *fiber.Ctx) error {
	e, err := h.endpointFromPath(c)
	if err != nil {
		return err
	}
	return h.save(c, e, func(ctx context.Context, e *store.Endpoint) error { return h.Store.UpdateEndpoint(ctx, e) })
}

func (h *Endpoints) save(c *fiber.Ctx, e store.Endpoint, write func(context.Context, *store.Endpoint) error) error {
	values, in, parseErrs := readEndpointForm(c)
	updated := e // e stays as stored, for re-rendering the form
	fields, err := h.validateAndWrite(c.UserContext(), in, parseErrs, &updated, write)
	if err != nil {
		return err
	}
	if len(fields) > 0 {
		return h.renderForm(c, fiber.StatusUnprocessableEntity, e, values, fields)
	}
	if updated.BotWebhookSecret != e.BotWebhookSecret {
		// A new signing secret is shown this once, never again: not kept
		// in any cache either.
		c.Set(fiber.HeaderCacheControl, "no-store")
		return page(c, fiber.StatusOK, "Bot webhook signing secret", "endpoints",
			views.BotWebhookSecretShown(updated.ID, updated.Name, updated.BotWebhookSecret))
	}
	return redirect(c, "/endpoints?notice=saved")
}

// validateAndWrite applies in to e and writes it when every field is valid.
// It returns the field errors (nothing was written), or an unexpected error.
func (h *Endpoints) validateAndWrite(ctx context.Context, in endpointInput, parseErrs map[string]string, e *store.Endpoint, write func(context.Context, *store.Endpoint) error) (map[string]string, error) {
	err := h.rules().apply(ctx, in, e)
	fields, isValidation := validationFields(err)
	if err != nil && !isValidation {
		return nil, err
	}
	for field, msg := range parseErrs {
		fields[field] = msg
	}
	if len(fields) > 0 {
		return fields, nil
	}
	err = conflictAsValidation(write(ctx, e), fieldName, "This organisation already has an endpoint with this name.")
	if fields, isValidation = validationFields(err); isValidation {
		return fields, nil
	}
	return nil, err
}

// Delete removes an endpoint.
func (h *Endpoints) Delete(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteEndpoint(c.UserContext(), id); err != nil {
		return err
	}
	return redirect(c, "/endpoints?notice=deleted")
}

// RotateURLToken answers POST /endpoints/:id/rotate-url-token: a new Config
// URL; the old one works for the grace period.
func (h *Endpoints) RotateURLToken(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := h.Store.RotateURLToken(c.UserContext(), id, h.URLTokenGrace); err != nil {
		return err
	}
	return redirect(c, "/endpoints/"+strconv.FormatInt(id, 10)+"?notice=url-token-rotated")
}

// APIRotateURLToken answers POST /api/v1/admin/endpoints/:id/rotate-url-token.
func (h *Endpoints) APIRotateURLToken(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	e, err := h.Store.RotateURLToken(c.UserContext(), id, h.URLTokenGrace)
	if err != nil {
		return err
	}
	return c.JSON(h.response(e))
}

// ProviderChoice re-renders the provider select for the organisation picked in the form.
func (h *Endpoints) ProviderChoice(c *fiber.Ctx) error {
	return render(c, fiber.StatusOK, views.ProviderSelect(h.providerChoice(c.Query("organisation"), c.Query("provider"), c.Query(fieldEndpointType)), nil))
}

// providerChoice is what the organisation may choose: the handover provider
// (FEATURE_ENABLE_GENESYS_CLOUD_OM…) and the endpoint type
// (FEATURE_USE_GENESYS_BOT_CONNECTOR_ENDPOINT_WHITELIST), with why not.
func (h *Endpoints) providerChoice(organisation, selected, selectedType string) views.ProviderChoice {
	ok, reason := h.Features.GenesysCloudOMFor(organisation)
	if !ok && selected == store.ProviderGenesysCloudOM {
		selected = store.ProviderNone
	}
	botConnectorReason := BotConnectorUnavailable(h.Features, organisation)
	if botConnectorReason != "" && selectedType == store.TypeGenesysBotConnector {
		selectedType = store.TypeBot
	}
	return views.ProviderChoice{Selected: selected, Allowed: ok, Reason: reason, SelectedType: cmp.Or(selectedType, store.TypeBot),
		BotConnectorAllowed: botConnectorReason == "", BotConnectorReason: botConnectorReason}
}

func (h *Endpoints) renderForm(c *fiber.Ctx, status int, e store.Endpoint, values views.EndpointFormValues, errs map[string]string) error {
	orgs, err := h.Store.ListOrganisations(c.UserContext())
	if err != nil {
		return err
	}
	names := make([]string, len(orgs))
	for i, o := range orgs {
		names[i] = o.Name
	}
	props := views.EndpointFormProps{
		ID:                  e.ID,
		Values:              values,
		Errors:              errs,
		Organisations:       names,
		Provider:            h.providerChoice(values.Organisation, values.Provider, values.Type),
		BotHeaderValueSet:   e.BotConnectorHeaderValue != "",
		WebhookSecretSet:    e.WebhookSecret != "",
		ClientSecretSet:     e.ClientSecret != "",
		PreviousSecretUntil: previousSecretUntil(e),
		CSRFToken:           csrfToken(c),
	}
	if e.ID != 0 {
		props.ConfigURL = h.configURL(e)
		props.BotConnectorURL = h.botConnectorURL(e)
		props.Notice = noticeText(c.Query("notice"))
		if until := e.PreviousURLTokenUntilAt(time.Now()); until != nil {
			props.PreviousURLTokenUntil = formatTime(*until)
		}
		props.WebhookURL = h.PublicURL + paths.GenesysWebhook
		props.HostWarning = genesys.Host(e.Host).Warning()
		props.IntegrationID, props.IntegrationError = e.IntegrationID, e.IntegrationError
		if e.ClockSkewAt != nil && e.ClockSkewMS != 0 && time.Since(*e.ClockSkewAt) < 24*time.Hour {
			props.ClockSkew, props.ClockSkewAt = relay.DescribeSkew(time.Duration(e.ClockSkewMS)*time.Millisecond), e.ClockSkewAt.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		if h.Tools != nil {
			if props.Tools, err = h.Tools.sections(c, e); err != nil {
				return err
			}
		}
	}
	if errs != nil && errs[fieldProvider] != "" {
		// Keep the admin's choice visible next to the message explaining it.
		props.Provider.Selected = values.Provider
	}
	if errs != nil && errs[fieldEndpointType] != "" {
		props.Provider.SelectedType = values.Type
	}
	title := "New endpoint"
	if e.ID != 0 {
		title = e.Name
	}
	if status == fiber.StatusUnprocessableEntity && isFragmentRequest(c) {
		return render(c, status, views.EndpointForm(props))
	}
	return page(c, status, title, "endpoints", views.EndpointPage(props))
}

// readEndpointForm reads the posted form: the values to show again, the input
// to validate, and the errors of fields that did not even parse.
func readEndpointForm(c *fiber.Ctx) (views.EndpointFormValues, endpointInput, map[string]string) {
	values := views.EndpointFormValues{
		Name:             c.FormValue(fieldName),
		Organisation:     c.FormValue(fieldOrganisation),
		Provider:         c.FormValue(fieldProvider),
		Type:             c.FormValue(fieldEndpointType),
		BotURL:           c.FormValue(fieldBotURL),
		BotHeaderName:    c.FormValue(fieldBotHeaderName),
		BotIntegrationID: c.FormValue(fieldBotIntegrationID),
		Host:             c.FormValue(fieldHost),
		DeploymentName:   c.FormValue(fieldDeploymentName),
		QueueID:          c.FormValue(fieldQueueID),
		ClientID:         c.FormValue(fieldClientID),
		SendProfile:      c.FormValue("sendProfile") == "true",
		Language:         c.FormValue(fieldLanguage),
		Skills:           c.FormValue(fieldSkills),
		Priority:         c.FormValue(fieldPriority),
		CustomAttributes: c.FormValue(fieldCustomAttributes),
		RelayTyping:      c.FormValue("relayTyping") == "true",
		FlowMessages:     c.FormValue(fieldFlowMessages),
		CopilotBaseURL:   c.FormValue(fieldCopilotBaseURL),
		DemoChat:         c.FormValue(fieldDemoChat) == "true",
		BotWebhookURL:    c.FormValue(fieldBotWebhookURL),
		Waiting: views.WaitingFormValues{
			IfNoAgents: c.FormValue(fieldIfNoAgents), QueueUpdateSeconds: c.FormValue(fieldQueueUpdate),
			QueueTimeoutMinutes: c.FormValue("queueTimeoutMinutes"), InactivityMinutes: c.FormValue("inactivityMinutes"),
		},
	}
	messages := map[string]string{}
	for _, key := range store.MessageKeys {
		messages[key] = c.FormValue("messages." + key)
	}
	values.Waiting.Messages = waitingMessageRows(messages)
	values.Privacy = views.PrivacyFormValues{
		MaskSensitiveLogging: c.FormValue("maskSensitiveLogging") == "true", MaskIPAddress: c.FormValue("maskIpAddress") == "true",
		CollectConversations: c.FormValue("collectConversations") == "true", InputSanitization: c.FormValue("inputSanitization") == "true",
		RetentionDays: c.FormValue(fieldRetentionDays),
	}
	attributeNames := map[string]string{}
	for _, a := range relay.RoutingAttributes {
		attributeNames[a.Key] = c.FormValue("attributeName." + a.Key)
	}
	values.AttributeNames = attributeNameRows(attributeNames)
	in := endpointInput{
		Name: values.Name, Organisation: values.Organisation, Provider: values.Provider,
		Host: values.Host, DeploymentName: values.DeploymentName, QueueID: values.QueueID, ClientID: values.ClientID,
		WebhookSecret: c.FormValue(fieldWebhookSecret), ClientSecret: c.FormValue(fieldClientSecret),
		SendProfile: values.SendProfile, Language: values.Language, Skills: splitSkills(values.Skills), RelayTyping: values.RelayTyping,
		AttributeNames: attributeNames, CopilotBaseURL: values.CopilotBaseURL, FlowMessages: values.FlowMessages,
		DemoChat: values.DemoChat, BotWebhookURL: values.BotWebhookURL, Type: values.Type, BotURL: values.BotURL, BotConnectorHeaderName: values.BotHeaderName,
		BotConnectorHeaderValue: c.FormValue(fieldBotHeaderValue), BotConnectorIntegrationID: values.BotIntegrationID,
	}
	// The JWT secret is write-only: empty keeps it, the checkbox removes it.
	if jwtSecret := c.FormValue(fieldCopilotJWTSecret); jwtSecret != "" {
		in.CopilotJWTSecret = &jwtSecret
	} else if c.FormValue("copilotJwtOff") == "true" {
		off := ""
		in.CopilotJWTSecret = &off
	}
	// The signing secret too: empty keeps it, the checkbox makes a new one.
	if botSecret := strings.TrimSpace(c.FormValue(fieldBotWebhookSecret)); botSecret != "" {
		in.BotWebhookSecret = &botSecret
	} else if c.FormValue("botWebhookNewSecret") == "true" {
		fresh := secret.NewWebhookSecret()
		in.BotWebhookSecret = &fresh
	}
	errs := map[string]string{}
	var err error
	if in.Priority, err = parsePriority(values.Priority); err != nil {
		errs[fieldPriority] = err.Error()
	}
	in.Waiting = store.WaitingSettings{IfNoAgents: values.Waiting.IfNoAgents, Messages: messages}
	in.Privacy = store.PrivacySettings{MaskSensitiveLogging: values.Privacy.MaskSensitiveLogging, MaskIPAddress: values.Privacy.MaskIPAddress,
		DiscardConversationText: !values.Privacy.CollectConversations, KeepInputHTML: !values.Privacy.InputSanitization}
	if days, err := parseWholeNumber(values.Privacy.RetentionDays, 1); err != nil {
		errs[fieldRetentionDays] = err.Error()
	} else {
		in.Privacy.ConversationRetentionDays = days
	}
	for _, n := range []struct {
		field, text string
		unit        int
		into        *int
	}{
		{fieldQueueUpdate, values.Waiting.QueueUpdateSeconds, 1, &in.Waiting.QueueUpdateSeconds},
		{fieldQueueTimeout, values.Waiting.QueueTimeoutMinutes, 60, &in.Waiting.QueueTimeoutSeconds},
		{fieldInactivity, values.Waiting.InactivityMinutes, 60, &in.Waiting.InactivitySeconds},
	} {
		if *n.into, err = parseWholeNumber(n.text, n.unit); err != nil {
			errs[n.field] = err.Error()
		}
	}
	if in.CustomAttributes, err = parseCustomAttributes(values.CustomAttributes); err != nil {
		errs[fieldCustomAttributes] = err.Error()
	}
	return values, in, errs
}

// formValues shows a stored endpoint in the form.
func formValues(e store.Endpoint) views.EndpointFormValues {
	attrs := ""
	if len(e.DefaultCustomAttributes) > 0 {
		b, _ := json.MarshalIndent(e.DefaultCustomAttributes, "", "  ")
		attrs = string(b)
	}
	priority := ""
	if e.DefaultPriority != 0 {
		priority = strconv.Itoa(e.DefaultPriority)
	}
	return views.EndpointFormValues{
		Name: e.Name, Organisation: e.Organisation.Name, Provider: e.Provider, Host: e.Host,
		DeploymentName: e.DeploymentName, QueueID: e.QueueID, ClientID: e.ClientID, SendProfile: e.SendProfile,
		Type: e.Type, BotURL: e.BotURL, BotHeaderName: e.BotConnectorHeaderName, BotIntegrationID: e.BotConnectorIntegrationID,
		Language: e.DefaultLanguage, Skills: strings.Join(e.DefaultSkills, ", "), Priority: priority,
		CustomAttributes: attrs, RelayTyping: e.RelayTyping, AttributeNames: attributeNameRows(e.AttributeNames),
		CopilotBaseURL: e.CopilotBaseURL, FlowMessages: e.FlowMessages, CopilotJWTSet: e.CopilotJWTSecret != "", DemoChat: e.DemoChat,
		BotWebhookURL: e.BotWebhookURL, BotWebhookSecretSet: e.BotWebhookSecret != "",
		Waiting: views.WaitingFormValues{
			IfNoAgents: e.Waiting.IfNoAgents, QueueUpdateSeconds: strconv.Itoa(e.Waiting.QueueUpdateSeconds),
			QueueTimeoutMinutes: strconv.Itoa(e.Waiting.QueueTimeoutSeconds / 60), InactivityMinutes: strconv.Itoa(e.Waiting.InactivitySeconds / 60),
			Messages: waitingMessageRows(e.Waiting.Messages),
		},
		Privacy: views.PrivacyFormValues{
			MaskSensitiveLogging: e.Privacy.MaskSensitiveLogging, MaskIPAddress: e.Privacy.MaskIPAddress,
			CollectConversations: !e.Privacy.DiscardConversationText, InputSanitization: !e.Privacy.KeepInputHTML,
			RetentionDays: strconv.Itoa(e.Privacy.ConversationRetentionDays),
		},
	}
}

// waitingMessageLabels say what each text is, for the form.
var waitingMessageLabels = map[string]string{
	store.MessageAccepted:     "Handover accepted",
	store.MessageStillWaiting: "Still waiting (with each queue update)",
	store.MessageAgentJoined:  "Agent joined",
	store.MessageAgentEnded:   "Agent ended the conversation",
	store.MessageNoAgents:     "No agent available (when handed over anyway)",
	store.MessageQueueTimeout: "Queue timeout",
	store.MessageInactivity:   "Inactivity",
	store.MessageFailed:       "Handover failed",
	store.MessageCustomerLeft: "Customer left (the agent reads it)",
}

// waitingMessageExamples are placeholders for the texts with no default.
var waitingMessageExamples = map[string]string{
	store.MessageAccepted:     "e.g. You are in the queue; the wait is {wait}.",
	store.MessageStillWaiting: "e.g. Still waiting: {waiting} ahead, about {wait}.",
	store.MessageAgentJoined:  "e.g. {agent} has joined.",
	store.MessageNoAgents:     "e.g. Nobody is available right now; please stay in the queue.",
	store.MessageFailed:       "e.g. We could not reach an agent. Please try again later.",
}

// waitingMessageRows lists the texts with what the endpoint set for each.
func waitingMessageRows(values map[string]string) []views.WaitingMessageRow {
	rows := make([]views.WaitingMessageRow, len(store.MessageKeys))
	for i, key := range store.MessageKeys {
		placeholder := relay.DefaultText(key)
		if placeholder == "" {
			placeholder = waitingMessageExamples[key]
		}
		rows[i] = views.WaitingMessageRow{Key: key, Label: waitingMessageLabels[key], Placeholder: placeholder, Value: values[key]}
	}
	return rows
}

// parseWholeNumber reads a whole number of units (1 for seconds, 60 for
// minutes) as seconds; empty is 0.
func parseWholeNumber(text string, unit int) (int, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 0 {
		return 0, errors.New("Enter a whole number, 0 or more.")
	}
	if n > maxTimerSeconds/unit {
		return 0, fmt.Errorf("Use at most %d.", maxTimerSeconds/unit)
	}
	return n * unit, nil
}

// previousSecretUntil says until when a rotated-out webhook secret verifies, if it still does.
func previousSecretUntil(e store.Endpoint) string {
	if len(e.WebhookSecretsAt(time.Now())) < 2 {
		return ""
	}
	return formatTime(*e.PreviousWebhookSecretUntil)
}

// attributeNameRows lists the routing attributes with the names set for them.
func attributeNameRows(names map[string]string) []views.AttributeNameRow {
	rows := make([]views.AttributeNameRow, len(relay.RoutingAttributes))
	for i, a := range relay.RoutingAttributes {
		rows[i] = views.AttributeNameRow{Key: a.Key, Label: a.Label, Default: a.Default, Value: names[a.Key]}
	}
	return rows
}

func (h *Endpoints) endpointFromPath(c *fiber.Ctx) (store.Endpoint, error) {
	id, err := pathID(c)
	if err != nil {
		return store.Endpoint{}, err
	}
	return h.Store.EndpointByID(c.UserContext(), id)
}

// pathID reads the numeric :id route parameter; anything else is not found.
func pathID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("endpoint id %q: %w", c.Params("id"), store.ErrNotFound)
	}
	return id, nil
}

func providerName(provider string) string {
	if provider == store.ProviderGenesysCloudOM {
		return "Genesys Cloud Open Messaging"
	}
	return "None"
}
