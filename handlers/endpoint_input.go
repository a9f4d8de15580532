package handlers

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"handover/config"
	"handover/genesys"
	"handover/relay"
	"handover/store"
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
}

// Field names, shared by form inputs, error maps and the JSON API.
const (
	fieldName             = "name"
	fieldOrganisation     = "organisation"
	fieldProvider         = "provider"
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
	fieldFlowMessages     = "flowMessages"
)

// minWebhookSecretLength is Genesys's own rule for the signature secret token
// ("longer than 15 characters"); Genesys refuses to save a shorter one.
const minWebhookSecretLength = 16

const maxPriority = 1_000_000

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

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

// apply validates in and, when it is valid, writes it onto e. On failure e is
// left untouched and the error is a *ValidationError naming each bad field.
func (r endpointRules) apply(ctx context.Context, in endpointInput, e *store.Endpoint) error {
	errs := map[string]string{}
	in.Name = strings.TrimSpace(in.Name)
	switch n := utf8.RuneCountInString(in.Name); {
	case n == 0:
		errs[fieldName] = "Enter a name."
	case n > 100:
		errs[fieldName] = "Use at most 100 characters."
	}

	if strings.TrimSpace(in.Organisation) == "" {
		in.Organisation = store.DefaultOrganisation
	}
	org, err := r.Organisations(ctx, in.Organisation)
	switch {
	case errors.Is(err, store.ErrNotFound):
		errs[fieldOrganisation] = fmt.Sprintf("There is no organisation %q. Add it under Settings first.", in.Organisation)
	case err != nil:
		return err
	}

	switch in.Provider {
	case store.ProviderNone:
	case store.ProviderGenesysCloudOM:
		if org.ID != 0 {
			if ok, reason := r.Features.GenesysCloudOMFor(org.Name); !ok {
				errs[fieldProvider] = reason
			}
		}
	default:
		errs[fieldProvider] = fmt.Sprintf("Unknown handover provider %q; use %q or leave it empty.", in.Provider, store.ProviderGenesysCloudOM)
	}
	genesysRequired := in.Provider == store.ProviderGenesysCloudOM

	var host genesys.Host
	if strings.TrimSpace(in.Host) != "" || genesysRequired {
		if host, err = genesys.ParseHost(in.Host, r.AllowInsecureGenesys); err != nil {
			errs[fieldHost] = capitalise(err.Error()) + "."
		}
	}
	in.DeploymentName = strings.TrimSpace(in.DeploymentName)
	requireText(errs, fieldDeploymentName, in.DeploymentName, genesysRequired, 200, "Enter the name of the Open Messaging integration.")
	in.QueueID = strings.TrimSpace(in.QueueID)
	if in.QueueID != "" && !uuidPattern.MatchString(in.QueueID) {
		errs[fieldQueueID] = "A queue id is a UUID such as 3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31 (Admin › Queues › the queue's page address)."
	} else if in.QueueID == "" && genesysRequired {
		errs[fieldQueueID] = "Enter the id of the Genesys queue to hand over to."
	}
	in.QueueID = strings.ToLower(in.QueueID)
	in.ClientID = strings.TrimSpace(in.ClientID)
	requireText(errs, fieldClientID, in.ClientID, genesysRequired, 200, "Enter the OAuth client id.")

	webhookSecret := cmp.Or(in.WebhookSecret, e.WebhookSecret)
	if in.WebhookSecret != "" && utf8.RuneCountInString(in.WebhookSecret) < minWebhookSecretLength {
		errs[fieldWebhookSecret] = "Genesys requires a webhook secret longer than 15 characters."
	} else if webhookSecret == "" && genesysRequired {
		errs[fieldWebhookSecret] = "Enter the webhook secret you set on the Open Messaging integration."
	}
	clientSecret := cmp.Or(in.ClientSecret, e.ClientSecret)
	if clientSecret == "" && genesysRequired {
		errs[fieldClientSecret] = "Enter the OAuth client secret."
	}

	in.Language = strings.TrimSpace(in.Language)
	requireText(errs, fieldLanguage, in.Language, false, 64, "")
	skills := make([]string, 0, len(in.Skills))
	for _, skill := range in.Skills {
		skill = strings.TrimSpace(skill)
		if skill == "" || slices.Contains(skills, skill) {
			continue
		}
		if utf8.RuneCountInString(skill) > 100 {
			errs[fieldSkills] = "Each skill may have at most 100 characters."
		}
		skills = append(skills, skill)
	}
	if in.Priority < -maxPriority || in.Priority > maxPriority {
		errs[fieldPriority] = fmt.Sprintf("Use a whole number between -%d and %d.", maxPriority, maxPriority)
	}
	for key := range in.CustomAttributes {
		if strings.TrimSpace(key) == "" || utf8.RuneCountInString(key) > 100 {
			errs[fieldCustomAttributes] = "Attribute names must be 1 to 100 characters."
		}
	}

	attributeNames := map[string]string{}
	used := map[string]string{}
	for _, a := range relay.RoutingAttributes {
		name := strings.TrimSpace(in.AttributeNames[a.Key])
		if name != "" && name != a.Default {
			attributeNames[a.Key] = name
		}
		if name == "" {
			name = a.Default
		}
		switch {
		case utf8.RuneCountInString(name) > 100:
			errs[fieldAttributeNames] = "Participant data names may have at most 100 characters."
		case used[name] != "":
			errs[fieldAttributeNames] = fmt.Sprintf("%s and %s would both be sent as %q; give each its own name.", used[name], a.Label, name)
		}
		used[name] = a.Label
	}
	for key := range in.AttributeNames {
		if !slices.ContainsFunc(relay.RoutingAttributes, func(a relay.RoutingAttribute) bool { return a.Key == key }) {
			errs[fieldAttributeNames] = fmt.Sprintf("Unknown routing attribute %q.", key)
		}
	}

	copilotBaseURL, err := parseCopilotBaseURL(in.CopilotBaseURL)
	if err != nil {
		errs[fieldCopilotBaseURL] = err.Error()
	}
	flowMessages := cmp.Or(in.FlowMessages, store.FlowMessagesShow)
	if flowMessages != store.FlowMessagesShow && flowMessages != store.FlowMessagesHide {
		errs[fieldFlowMessages] = fmt.Sprintf("Use %q or %q.", store.FlowMessagesShow, store.FlowMessagesHide)
	}

	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	if e.Host != string(host) || e.DeploymentName != in.DeploymentName || e.ClientID != in.ClientID {
		// Another org or integration: what the old settings resolved to no longer holds.
		e.IntegrationID, e.IntegrationError = "", ""
	}
	e.Name = in.Name
	e.OrganisationID = org.ID
	e.Organisation = org
	e.Provider = in.Provider
	e.Host = string(host)
	e.DeploymentName = in.DeploymentName
	e.QueueID = in.QueueID
	e.ClientID = in.ClientID
	if e.WebhookSecret != "" && webhookSecret != e.WebhookSecret && r.SecretGrace > 0 {
		until := r.now().Add(r.SecretGrace)
		e.PreviousWebhookSecret, e.PreviousWebhookSecretUntil = e.WebhookSecret, &until
	}
	e.WebhookSecret = webhookSecret
	e.ClientSecret = clientSecret
	e.SendProfile = in.SendProfile
	e.DefaultLanguage = in.Language
	e.DefaultSkills = skills
	e.DefaultPriority = in.Priority
	e.DefaultCustomAttributes = in.CustomAttributes
	e.RelayTyping = in.RelayTyping
	e.FlowMessages = flowMessages
	e.AttributeNames = attributeNames
	e.CopilotBaseURL = copilotBaseURL
	return nil
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
