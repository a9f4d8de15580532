package handlers

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// SettingsStore is what the settings and API key pages need from the store.
type SettingsStore interface {
	ListOrganisations(ctx context.Context) ([]store.Organisation, error)
	CreateOrganisation(ctx context.Context, name string) (store.Organisation, error)
	ListEndpoints(ctx context.Context) ([]store.Endpoint, error)
	ListAPIKeys(ctx context.Context) ([]store.APIKey, error)
	CreateAPIKey(ctx context.Context, name, prefix, keyHash string) (store.APIKey, error)
	RevokeAPIKey(ctx context.Context, id int64) error
}

// Settings serves /settings (feature flags, organisations) and /apikeys.
type Settings struct {
	Store     SettingsStore
	Features  config.Features
	PublicURL string
	Database  string // dialect, for display
}

// Page shows the flags in force and what each organisation may use.
func (h *Settings) Page(c *fiber.Ctx) error {
	return h.render(c, fiber.StatusOK, "", nil, noticeText(c.Query("notice")))
}

// CreateOrganisation adds an organisation from the settings form.
func (h *Settings) CreateOrganisation(c *fiber.Ctx) error {
	name := strings.TrimSpace(c.FormValue("name"))
	errs := map[string]string{}
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		errs["name"] = "Enter a name."
	case n > 100 || strings.Contains(name, ","):
		errs["name"] = "Use at most 100 characters and no commas (feature flag lists are comma-separated)."
	}
	if len(errs) == 0 {
		_, err := h.Store.CreateOrganisation(c.UserContext(), name)
		if fields, ok := validationFields(conflictAsValidation(err, "name", "An organisation with this name exists already.")); ok {
			errs = fields
		} else if err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return h.render(c, fiber.StatusUnprocessableEntity, name, errs, "")
	}
	return redirect(c, "/settings?notice=organisation")
}

func (h *Settings) render(c *fiber.Ctx, status int, newOrg string, errs map[string]string, notice string) error {
	orgs, err := h.Store.ListOrganisations(c.UserContext())
	if err != nil {
		return err
	}
	endpoints, err := h.Store.ListEndpoints(c.UserContext())
	if err != nil {
		return err
	}
	perOrg := map[int64]int{}
	for _, e := range endpoints {
		perOrg[e.OrganisationID]++
	}
	rows := make([]views.OrganisationRow, len(orgs))
	for i, o := range orgs {
		ok, reason := h.Features.GenesysCloudOMFor(o.Name)
		rows[i] = views.OrganisationRow{Name: o.Name, Endpoints: perOrg[o.ID], GenesysCloudOM: ok, GenesysCloudOMReason: reason, BotConnector: h.Features.BotConnectorFor(o.Name)}
	}
	props := views.SettingsProps{
		Flags:         flagRows(h.Features),
		Organisations: rows,
		PublicURL:     h.PublicURL,
		Database:      h.Database,
		NewOrgName:    newOrg,
		Errors:        errs,
		Notice:        notice,
		CSRFToken:     csrfToken(c),
	}
	return page(c, status, "Settings", "settings", views.SettingsPage(props))
}

func flagRows(f config.Features) []views.FlagRow {
	enabled := "false"
	if f.GenesysCloudOM {
		enabled = "true"
	}
	return []views.FlagRow{
		{Name: "FEATURE_ENABLE_GENESYS_CLOUD_OM", Value: enabled, Effect: "Offers the Genesys Cloud Open Messaging handover provider at all."},
		{Name: "FEATURE_ENABLE_GENESYS_CLOUD_OM_WHITELIST", Value: f.GenesysCloudOMWhitelist.String(), Effect: "Organisations that may use Genesys Cloud Open Messaging."},
		{Name: "FEATURE_USE_GENESYS_BOT_CONNECTOR_ENDPOINT_WHITELIST", Value: f.BotConnectorWhitelist.String(), Effect: "Organisations that may use Genesys Bot Connector endpoints."},
	}
}

// APIKeys lists the admin API keys.
func (h *Settings) APIKeys(c *fiber.Ctx) error {
	return h.renderAPIKeys(c, fiber.StatusOK, views.APIKeysProps{})
}

// CreateAPIKey makes a key and shows it once.
func (h *Settings) CreateAPIKey(c *fiber.Ctx) error {
	name := strings.TrimSpace(c.FormValue("name"))
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return h.renderAPIKeys(c, fiber.StatusUnprocessableEntity, views.APIKeysProps{NewName: name, Errors: map[string]string{"name": "Enter a name of at most 100 characters, such as the script that will use the key."}})
	}
	key := "hov_" + secret.NewToken(32)
	if _, err := h.Store.CreateAPIKey(c.UserContext(), name, apiKeyPrefix(key), secret.HashToken(key)); err != nil {
		return err
	}
	// Not a redirect: the key exists only in this response.
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.renderAPIKeys(c, fiber.StatusCreated, views.APIKeysProps{NewKey: key})
}

// RevokeAPIKey stops a key from working.
func (h *Settings) RevokeAPIKey(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.Store.RevokeAPIKey(c.UserContext(), id); err != nil {
		return err
	}
	return redirect(c, "/apikeys")
}

func (h *Settings) renderAPIKeys(c *fiber.Ctx, status int, props views.APIKeysProps) error {
	keys, err := h.Store.ListAPIKeys(c.UserContext())
	if err != nil {
		return err
	}
	for _, k := range keys {
		row := views.APIKeyRow{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Created: formatTime(k.CreatedAt)}
		if k.RevokedAt != nil {
			row.Revoked = formatTime(*k.RevokedAt)
		}
		props.Keys = append(props.Keys, row)
	}
	props.CSRFToken = csrfToken(c)
	return page(c, status, "API keys", "apikeys", views.APIKeysPage(props))
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
