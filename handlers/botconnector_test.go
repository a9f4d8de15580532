package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const bcCredential = "handlers-bc-credential-0123"

// The Bot Connector fields of the admin API: the credential is write-only
// and kept when left out; the Handle Utterance URL is <Config URL>/botconnector;
// the answers of the Handle Utterance URL match the OpenAPI document.
func TestTheBotConnectorFieldsKeepTheCredentialSecretAndTheTurnsMatchTheOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	a := newAPITestApp(t, nil)
	resp, created := a.api(http.MethodPost, "/api/v1/admin/endpoints", seededKey,
		`{"name":"BC","type":"genesysBotConnector","botConnectorHeaderName":"X-Key","botConnectorHeaderValue":"`+bcCredential+`"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %v", resp.StatusCode, created)
	}
	raw, _ := json.Marshal(created)
	if strings.Contains(string(raw), bcCredential) || created["botConnectorHeaderValueSet"] != true {
		t.Fatalf("the answer shows the credential, or not that it is set: %s", raw)
	}
	handleURL, _ := created["botConnectorUrl"].(string)
	if handleURL != publicURL+"/"+created["urlToken"].(string)+"/botconnector" {
		t.Fatalf("botConnectorUrl %q", handleURL)
	}
	id := fmt.Sprint(created["id"])
	// A PUT without the value keeps it.
	if resp, out := a.api(http.MethodPut, "/api/v1/admin/endpoints/"+id, seededKey, `{"botUrl":""}`); resp.StatusCode != http.StatusOK || out["botConnectorHeaderValueSet"] != true {
		t.Fatalf("PUT without the value: %d %v", resp.StatusCode, out)
	}
	// Bad input is a clear 422 naming the fields.
	for body, want := range map[string][]string{
		`{"type":"other","botUrl":"ftp://x"}`:                                       {"type", "botUrl"},
		`{"botConnectorHeaderName":"X Key","botConnectorHeaderValue":"short"}`:      {"botConnectorHeaderName", "botConnectorHeaderValue"},
		`{"botConnectorIntegrationId":"not-a-uuid","botUrl":"http://example.com/"}`: {"botConnectorIntegrationId", "botUrl"},
	} {
		resp, out := a.api(http.MethodPut, "/api/v1/admin/endpoints/"+id, seededKey, body)
		fields, _ := out["error"].(map[string]any)["fields"].(map[string]any)
		for _, field := range want {
			if resp.StatusCode != http.StatusUnprocessableEntity || fields[field] == nil {
				t.Errorf("%s: %d %v, want 422 naming %s", body, resp.StatusCode, out, field)
			}
		}
	}

	path := strings.TrimPrefix(handleURL, publicURL)
	for _, tc := range []struct {
		credential, body string
		status           int
	}{
		{bcCredential, `{"botSessionId":"s1","inputMessage":{"type":"Text","text":"hello"},"languageCode":"en-us"}`, http.StatusOK},
		{bcCredential, `{"botSessionId":"s1","inputMessage":{"type":"Text","text":"agent"}}`, http.StatusOK},
		{bcCredential, `{"botSessionId":"s2","inputMessage":{"type":"Audio"}}`, http.StatusBadRequest},
		{"nope", `{"botSessionId":"s3","inputMessage":{"type":"Text","text":"hello"}}`, http.StatusUnauthorized},
	} {
		resp := a.request(http.MethodPost, path, strings.NewReader(tc.body), map[string]string{"Content-Type": "application/json", "X-Key": tc.credential})
		body := readBody(t, resp)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.body, resp.StatusCode, body, tc.status)
		}
		conforms(t, doc, http.MethodPost, "/{token}/botconnector", resp, body)
	}
}

// An endpoint made while its organisation was on the whitelist stops
// answering when the organisation is taken off it (a restart with a new list).
func TestABotConnectorEndpointOfAnOrganisationOffTheWhitelistIsForbidden(t *testing.T) {
	a := newAPITestApp(t, nil)
	resp, created := a.api(http.MethodPost, "/api/v1/admin/endpoints", seededKey,
		`{"name":"BC","type":"genesysBotConnector","botConnectorHeaderName":"X-Key","botConnectorHeaderValue":"`+bcCredential+`"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %v", resp.StatusCode, created)
	}
	cfg := a.cfg
	cfg.Features.BotConnectorWhitelist = []string{"Another Org"}
	b := newTestAppOn(t, &testApp{t: t, store: a.store, cfg: cfg, relay: a.relay})
	path := "/" + created["urlToken"].(string) + "/botconnector"
	resp = b.request(http.MethodPost, path, strings.NewReader(`{"botSessionId":"s1","inputMessage":{"type":"Text","text":"hello"}}`),
		map[string]string{"Content-Type": "application/json", "X-Key": bcCredential})
	if body := readBody(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "FEATURE_USE_GENESYS_BOT_CONNECTOR_ENDPOINT_WHITELIST") {
		t.Fatalf("off the whitelist: %d %s", resp.StatusCode, body)
	}
}
