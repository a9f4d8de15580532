package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/handover-relay/handover/store"
)

const (
	queueID       = "3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31"
	webhookSecret = "webhook-secret-0123456789"
	clientSecret  = "client-secret-abcdefghijkl"
)

func validEndpointForm() url.Values {
	return url.Values{
		"name":             {"Support bot"},
		"organisation":     {"default"},
		"provider":         {"genesysCloudOM"},
		"host":             {"apps.mypurecloud.de"},
		"deploymentName":   {"bot-relay-prod"},
		"queueId":          {queueID},
		"webhookSecret":    {webhookSecret},
		"clientId":         {"client-id-1"},
		"clientSecret":     {clientSecret},
		"sendProfile":      {"true"},
		"language":         {"english"},
		"skills":           {"billing, german, billing"},
		"priority":         {"5"},
		"customAttributes": {`{"tier": "gold"}`},
		"relayTyping":      {"true"},
		// The form's defaults, as the browser sends them unchanged.
		"queueUpdateSeconds":        {"60"},
		"collectConversations":      {"true"},
		"inputSanitization":         {"true"},
		"conversationRetentionDays": {"90"},
	}
}

func (a *testApp) onlyEndpoint() store.Endpoint {
	a.t.Helper()
	endpoints, err := a.store.ListEndpoints(context.Background())
	if err != nil || len(endpoints) != 1 {
		a.t.Fatalf("endpoints = %d, %v; want exactly one", len(endpoints), err)
	}
	return endpoints[0]
}

func TestCreatingAnEndpointGivesItAConfigURLWithARandomToken(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	resp := a.postForm("/endpoints", validEndpointForm())
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d: %s", resp.StatusCode, readBody(t, resp))
	}
	e := a.onlyEndpoint()
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(e.URLToken) {
		t.Fatalf("URL token %q is not 32 random bytes in hex", e.URLToken)
	}
	want := store.Endpoint{Name: "Support bot", Provider: "genesysCloudOM", Host: "mypurecloud.de", DeploymentName: "bot-relay-prod", QueueID: queueID,
		ClientID: "client-id-1", WebhookSecret: webhookSecret, ClientSecret: clientSecret, SendProfile: true, DefaultLanguage: "english", DefaultPriority: 5, RelayTyping: true}
	if e.Name != want.Name || e.Provider != want.Provider || e.Host != want.Host || e.DeploymentName != want.DeploymentName || e.QueueID != want.QueueID ||
		e.ClientID != want.ClientID || e.WebhookSecret != want.WebhookSecret || e.ClientSecret != want.ClientSecret || !e.SendProfile ||
		e.DefaultLanguage != "english" || e.DefaultPriority != 5 || !e.RelayTyping {
		t.Fatalf("stored endpoint = %+v", e)
	}
	if strings.Join(e.DefaultSkills, ",") != "billing,german" || e.DefaultCustomAttributes["tier"] != "gold" {
		t.Fatalf("skills %v, attributes %v", e.DefaultSkills, e.DefaultCustomAttributes)
	}

	doc := a.document(a.get(resp.Header.Get("Location")), http.StatusOK)
	if got := doc.Find(`[data-testid="config-url"]`).Text(); got != publicURL+"/"+e.URLToken {
		t.Fatalf("listed Config URL %q", got)
	}
	if doc.Find(`[data-testid="notice"]`).Text() != "Endpoint saved." {
		t.Fatal("no confirmation shown after saving")
	}

	a.postForm("/endpoints", withName(validEndpointForm(), "Second bot"))
	endpoints, _ := a.store.ListEndpoints(context.Background())
	if len(endpoints) != 2 || endpoints[0].URLToken == endpoints[1].URLToken {
		t.Fatal("two endpoints share a URL token")
	}
}

func withName(form url.Values, name string) url.Values {
	form.Set("name", name)
	return form
}

func TestEndpointFormValidation(t *testing.T) {
	tests := []struct {
		name, field, value, wantInMessage string
	}{
		{"name missing", "name", "  ", "Enter a name"},
		{"name too long", "name", strings.Repeat("n", 101), "at most 100"},
		{"unknown organisation", "organisation", "nope", `no organisation "nope"`},
		{"unknown provider", "provider", "zendesk", "Unknown handover provider"},
		{"host missing", "host", "", "region domain"},
		{"host not a domain", "host", "purecloud", "not a domain"},
		{"host plain http off loopback", "host", "http://genesys.example.com", "plain http"},
		{"deployment name missing", "deploymentName", "", "integration"},
		{"queue id not a UUID", "queueId", "support-queue", "UUID"},
		{"queue id missing", "queueId", "", "queue"},
		{"webhook secret missing", "webhookSecret", "", "webhook secret"},
		{"webhook secret too short", "webhookSecret", "fifteen-chars!!", "longer than 15"},
		{"client id missing", "clientId", "", "client id"},
		{"client secret missing", "clientSecret", "", "client secret"},
		{"priority not a number", "priority", "high", "whole number"},
		{"priority out of range", "priority", "99999999", "between"},
		{"custom attributes not JSON", "customAttributes", "tier: gold", "JSON object"},
		{"custom attributes not strings", "customAttributes", `{"tier": 3}`, `"tier" must be a string`},
		{"custom attributes an array", "customAttributes", `["gold"]`, "JSON object"},
		{"custom attribute with empty name", "customAttributes", `{"": "x"}`, "1 to 100"},
		{"language too long", "language", strings.Repeat("l", 65), "at most 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t, nil)
			a.signIn()
			form := validEndpointForm()
			form.Set(tt.field, tt.value)
			doc := a.document(a.postForm("/endpoints", form), http.StatusUnprocessableEntity)
			msg := doc.Find(`[data-testid="error-` + tt.field + `"]`).Text()
			if !strings.Contains(msg, tt.wantInMessage) {
				t.Fatalf("error next to %s = %q, want it to mention %q", tt.field, msg, tt.wantInMessage)
			}
			if endpoints, _ := a.store.ListEndpoints(context.Background()); len(endpoints) != 0 {
				t.Fatal("an invalid endpoint was saved")
			}
			// What was typed stays, except secrets, which are never echoed.
			if tt.field != "name" {
				if v, _ := doc.Find(`input[name="name"]`).Attr("value"); v != "Support bot" {
					t.Fatalf("name field lost what was typed: %q", v)
				}
			}
			if v, _ := doc.Find(`input[name="deploymentName"]`).Attr("value"); tt.field != "deploymentName" && v != "bot-relay-prod" {
				t.Fatalf("deployment name lost: %q", v)
			}
			html, _ := doc.Html()
			if strings.Contains(html, webhookSecret) || strings.Contains(html, clientSecret) {
				t.Fatal("a secret was rendered back into the form")
			}
		})
	}
}

func TestEndpointNamesAreUniqueWithinAnOrganisation(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	a.postForm("/endpoints", validEndpointForm())
	doc := a.document(a.postForm("/endpoints", validEndpointForm()), http.StatusUnprocessableEntity)
	if !strings.Contains(doc.Find(`[data-testid="error-name"]`).Text(), "already has an endpoint") {
		t.Fatal("duplicate name not explained next to the name field")
	}
}

func TestAnEndpointWithoutProviderNeedsNoGenesysSettings(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	resp := a.postForm("/endpoints", url.Values{"name": {"Bot only"}, "organisation": {"default"}, "provider": {""}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create without provider: %d: %s", resp.StatusCode, readBody(t, resp))
	}
	if e := a.onlyEndpoint(); e.Provider != store.ProviderNone {
		t.Fatalf("provider = %q", e.Provider)
	}
}

func TestHostIsStoredAsTheRegionDomainAndUnknownDomainsAreWarned(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	form := validEndpointForm()
	form.Set("host", "https://apps.cac1.pure.cloud/")
	a.postForm("/endpoints", form)
	e := a.onlyEndpoint()
	if e.Host != "cac1.pure.cloud" {
		t.Fatalf("stored host %q, want cac1.pure.cloud", e.Host)
	}
	doc := a.document(a.get("/endpoints/"+strconv.FormatInt(e.ID, 10)), http.StatusOK)
	if doc.Find(`[data-testid="host-warning"]`).Length() != 0 {
		t.Fatal("a known region was warned about")
	}

	form.Set("host", "mypurecloud.xx")
	form.Del("webhookSecret")
	form.Del("clientSecret")
	if resp := a.postForm("/endpoints/"+strconv.FormatInt(e.ID, 10), form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving an unknown domain: %d (it is a warning, not an error)", resp.StatusCode)
	}
	doc = a.document(a.get("/endpoints/"+strconv.FormatInt(e.ID, 10)), http.StatusOK)
	warning := doc.Find(`[data-testid="host-warning"]`).Text()
	if !strings.Contains(warning, "not a known Genesys Cloud region") || !strings.Contains(warning, "mypurecloud.de") {
		t.Fatalf("warning = %q; want it to list the known regions", warning)
	}
}

func TestEditingKeepsStoredSecretsAndNeverShowsThem(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	a.postForm("/endpoints", validEndpointForm())
	e := a.onlyEndpoint()
	path := "/endpoints/" + strconv.FormatInt(e.ID, 10)

	resp := a.get(path)
	body := readBody(t, resp)
	if strings.Contains(body, webhookSecret) || strings.Contains(body, clientSecret) {
		t.Fatal("the edit page shows a stored secret")
	}
	if !strings.Contains(body, `data-testid="webhook-secret-set"`) || !strings.Contains(body, `data-testid="client-secret-set"`) {
		t.Fatal(`the edit page does not say the secrets are set`)
	}

	form := validEndpointForm()
	form.Set("webhookSecret", "")
	form.Set("clientSecret", "")
	form.Set("priority", "7")
	if resp := a.postForm(path, form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d: %s", resp.StatusCode, readBody(t, resp))
	}
	e = a.onlyEndpoint()
	if e.WebhookSecret != webhookSecret || e.ClientSecret != clientSecret || e.DefaultPriority != 7 {
		t.Fatalf("after an edit with empty secret fields: %q %q priority %d", e.WebhookSecret, e.ClientSecret, e.DefaultPriority)
	}

	form.Set("webhookSecret", "a-brand-new-webhook-secret")
	a.postForm(path, form)
	if e = a.onlyEndpoint(); e.WebhookSecret != "a-brand-new-webhook-secret" || e.ClientSecret != clientSecret {
		t.Fatalf("after typing a new webhook secret: %q %q", e.WebhookSecret, e.ClientSecret)
	}

	for _, page := range []string{"/endpoints", path, "/settings"} {
		if body := readBody(t, a.get(page)); strings.Contains(body, "a-brand-new-webhook-secret") || strings.Contains(body, clientSecret) {
			t.Fatalf("%s shows a secret", page)
		}
	}
}

func TestDeletingAnEndpoint(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	a.postForm("/endpoints", validEndpointForm())
	e := a.onlyEndpoint()
	path := "/endpoints/" + strconv.FormatInt(e.ID, 10)
	if resp := a.postForm(path+"/delete", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if endpoints, _ := a.store.ListEndpoints(context.Background()); len(endpoints) != 0 {
		t.Fatal("endpoint still there")
	}
	a.document(a.get(path), http.StatusNotFound)
	a.document(a.postForm(path+"/delete", url.Values{}), http.StatusNotFound)
	a.document(a.get("/endpoints/not-a-number"), http.StatusNotFound)
}

func TestHTMXFormSubmissionsGetAFragmentOrARedirect(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	form := validEndpointForm()
	form.Set("queueId", "nope")
	htmx := map[string]string{"HX-Request": "true"}
	resp := a.postFormRaw("/endpoints", withCSRF(form, a.csrf), htmx)
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity || strings.Contains(body, "<html") || !strings.Contains(body, `id="endpoint-form"`) {
		t.Fatalf("htmx with errors: %d, want 422 with the form alone; body %s", resp.StatusCode, truncate(body))
	}
	if resp.Header.Get("Vary") == "" || !strings.Contains(resp.Header.Get("Vary"), "HX-Request") {
		t.Fatal("fragment responses must Vary on HX-Request")
	}
	form.Set("queueId", queueID)
	resp = a.postFormRaw("/endpoints", withCSRF(form, a.csrf), htmx)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("HX-Redirect") != "/endpoints?notice=saved" {
		t.Fatalf("htmx success: %d, HX-Redirect %q", resp.StatusCode, resp.Header.Get("HX-Redirect"))
	}
	// A full page without HX-Request, the fragment with it.
	if body := readBody(t, a.get("/endpoints")); !strings.Contains(body, "<html") {
		t.Fatal("a plain GET did not get the layout")
	}
	if body := readBody(t, a.request(http.MethodGet, "/endpoints", nil, htmx)); strings.Contains(body, "<html") || !strings.Contains(body, `data-testid="endpoints-page"`) {
		t.Fatal("an htmx GET did not get the fragment")
	}
	if body := readBody(t, a.request(http.MethodGet, "/endpoints", nil, map[string]string{"HX-Request": "true", "HX-Boosted": "true"})); !strings.Contains(body, "<html") {
		t.Fatal("a boosted navigation did not get the layout")
	}
}

func TestGenesysProviderIsOfferedOnlyToWhitelistedOrganisations(t *testing.T) {
	a := newTestApp(t, map[string]string{"FEATURE_ENABLE_GENESYS_CLOUD_OM_WHITELIST": "acme, globex"})
	a.signIn()
	if _, err := a.store.CreateOrganisation(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}

	doc := a.document(a.get("/endpoints/new"), http.StatusOK)
	if doc.Find(`select[name="provider"] option[value="genesysCloudOM"]`).Length() != 0 {
		t.Fatal("Genesys offered to the default organisation, which is not whitelisted")
	}
	if why := doc.Find(`[data-testid="provider-unavailable"]`).Text(); !strings.Contains(why, "FEATURE_ENABLE_GENESYS_CLOUD_OM_WHITELIST") {
		t.Fatalf("the form does not explain why: %q", why)
	}
	frag := a.document(a.get("/endpoints/provider?organisation=acme"), http.StatusOK)
	if frag.Find(`option[value="genesysCloudOM"]`).Length() != 1 {
		t.Fatal("Genesys not offered to a whitelisted organisation")
	}

	doc = a.document(a.postForm("/endpoints", validEndpointForm()), http.StatusUnprocessableEntity)
	if !strings.Contains(doc.Find(`[data-testid="error-provider"]`).Text(), "not enabled for organisation") {
		t.Fatal("saving Genesys for a non-whitelisted organisation was not refused with a reason")
	}
	form := validEndpointForm()
	form.Set("organisation", "ACME")
	if resp := a.postForm("/endpoints", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("whitelisted organisation: %d: %s", resp.StatusCode, readBody(t, resp))
	}

	settings := a.document(a.get("/settings"), http.StatusOK)
	if got := settings.Find(`[data-testid="flag-FEATURE_ENABLE_GENESYS_CLOUD_OM_WHITELIST"]`).Text(); got != "acme, globex" {
		t.Fatalf("settings show whitelist %q", got)
	}
}

func TestGenesysProviderSwitchedOffForTheInstallation(t *testing.T) {
	a := newTestApp(t, map[string]string{"FEATURE_ENABLE_GENESYS_CLOUD_OM": "false"})
	a.signIn()
	doc := a.document(a.get("/endpoints/new"), http.StatusOK)
	if doc.Find(`option[value="genesysCloudOM"]`).Length() != 0 {
		t.Fatal("Genesys offered although switched off")
	}
	if !strings.Contains(doc.Find(`[data-testid="provider-unavailable"]`).Text(), "FEATURE_ENABLE_GENESYS_CLOUD_OM=false") {
		t.Fatal("the form does not explain that the provider is switched off")
	}
	settings := a.document(a.get("/settings"), http.StatusOK)
	if settings.Find(`[data-testid="flag-FEATURE_ENABLE_GENESYS_CLOUD_OM"]`).Text() != "false" {
		t.Fatal("settings do not show the flag in force")
	}
	if settings.Find(`[data-testid="organisation-row"] .badge.off`).Length() == 0 {
		t.Fatal("settings do not show the default organisation without Genesys")
	}
}

func TestAddingOrganisations(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	if resp := a.postForm("/settings/organisations", url.Values{"name": {"acme"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add organisation: %d", resp.StatusCode)
	}
	doc := a.document(a.postForm("/settings/organisations", url.Values{"name": {"Acme"}}), http.StatusUnprocessableEntity)
	if !strings.Contains(doc.Find(`[data-testid="error-name"]`).Text(), "exists already") {
		t.Fatal("duplicate organisation not explained")
	}
	doc = a.document(a.get("/endpoints/new"), http.StatusOK)
	if doc.Find(`select[name="organisation"] option[value="acme"]`).Length() != 1 {
		t.Fatal("the new organisation is not offered in the endpoint form")
	}
}

func TestParticipantDataNamesCanBeRenamedButNotShared(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	form := validEndpointForm()
	form.Set("attributeName.language", "customerLanguage")
	if resp := a.postForm("/endpoints", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("rename: %d: %s", resp.StatusCode, readBody(t, resp))
	}
	if e := a.onlyEndpoint(); e.AttributeNames["language"] != "customerLanguage" || len(e.AttributeNames) != 1 {
		t.Fatalf("stored names %v", e.AttributeNames)
	}
	form = withName(validEndpointForm(), "Other")
	form.Set("attributeName.skills", "queueId")
	doc := a.document(a.postForm("/endpoints", form), http.StatusUnprocessableEntity)
	if msg := doc.Find(`[data-testid="error-attributeNames"]`).Text(); !strings.Contains(msg, `"queueId"`) {
		t.Fatalf("a name used twice was not refused: %q", msg)
	}
}

func TestTheDashboardCountsAndLinksToTheLists(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	a.postForm("/endpoints", validEndpointForm())
	e := a.onlyEndpoint()
	ctx := context.Background()
	for i, state := range []string{store.StateQueued, store.StateQueued, store.StateFailed} {
		c := &store.Conversation{EndpointID: e.ID, SessionID: strconv.Itoa(i), UserID: "u", CustomerID: "c" + strconv.Itoa(i), State: state}
		if err := a.store.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	doc := a.document(a.get("/"), http.StatusOK)
	for card, want := range map[string]string{"requested": "3", "queued": "2", "failed": "1", "connected": "0", "first-reply-median": "–"} {
		sel := doc.Find(`[data-testid="card-` + card + `"]`)
		if got := sel.Find(`[data-testid="card-value"]`).Text(); got != want {
			t.Errorf("card %s shows %q, want %q", card, got, want)
		}
	}
	if href, _ := doc.Find(`[data-testid="card-queued"]`).Attr("href"); href != "/conversations?since=24h&state=queued" {
		t.Errorf("queued links to %q", href)
	}
	frag := readBody(t, a.request(http.MethodGet, "/dashboard/cards", nil, map[string]string{"HX-Request": "true"}))
	if strings.Contains(frag, "<html") || !strings.Contains(frag, `data-testid="dashboard-cards"`) {
		t.Fatal("the live fragment is not the cards alone")
	}
}

func TestDataProtectionSettingsThroughTheFormAndTheAPINames(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	form := validEndpointForm()
	form.Set("maskSensitiveLogging", "true")
	form.Del("collectConversations")
	form.Set("conversationRetentionDays", "30")
	if resp := a.postForm("/endpoints", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %s", resp.StatusCode, readBody(t, resp))
	}
	e := a.onlyEndpoint()
	want := store.PrivacySettings{MaskSensitiveLogging: true, DiscardConversationText: true, ConversationRetentionDays: 30}
	if e.Privacy != want {
		t.Fatalf("stored %+v, want %+v", e.Privacy, want)
	}
	form.Set("conversationRetentionDays", "-1")
	doc := a.document(a.postForm(endpointPath(e), form), http.StatusUnprocessableEntity)
	if doc.Find(`[data-testid="error-conversationRetentionDays"]`).Length() != 1 {
		t.Fatal("a negative retention was not refused next to its field")
	}
}
