package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/handover-relay/handover/handlers"
)

const seededKey = "hov_seeded-key-for-the-api-tests"

func (a *testApp) api(method, path, key, body string) (*http.Response, map[string]any) {
	a.t.Helper()
	headers := map[string]string{"Content-Type": "application/json"}
	if key != "" {
		headers["Authorization"] = "Bearer " + key
	}
	var reader *strings.Reader
	if body != "" {
		reader = strings.NewReader(body)
	} else {
		reader = strings.NewReader("")
	}
	resp := a.request(method, path, reader, headers)
	var out map[string]any
	raw := readBody(a.t, resp)
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			a.t.Fatalf("%s %s: body is not JSON: %s", method, path, raw)
		}
	}
	return resp, out
}

func newAPITestApp(t *testing.T, env map[string]string) *testApp {
	t.Helper()
	a := newTestApp(t, env)
	if err := handlers.SeedAPIKey(context.Background(), a.store, seededKey); err != nil {
		t.Fatal(err)
	}
	return a
}

const apiEndpointBody = `{"name":"Support bot","organisation":"default","host":"login.mypurecloud.de","deploymentName":"bot-relay-prod",
	"queueId":"3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31","webhookSecret":"webhook-secret-0123456789","clientId":"client-id-1",
	"clientSecret":"client-secret-abcdefghijkl","sendProfile":true,"skills":["billing"],"customAttributes":{"tier":"gold"}}`

func TestAdminAPIRefusesRequestsWithoutAValidKey(t *testing.T) {
	a := newAPITestApp(t, nil)
	for name, key := range map[string]string{"no key": "", "unknown key": "hov_not-a-real-key"} {
		resp, body := a.api(http.MethodGet, "/api/v1/admin/endpoints", key, "")
		if resp.StatusCode != http.StatusUnauthorized || body["error"].(map[string]any)["code"] != "unauthorized" {
			t.Fatalf("%s: %d %v", name, resp.StatusCode, body)
		}
	}
	// A signed-in console session is no API key.
	a.signIn()
	if resp, _ := a.api(http.MethodGet, "/api/v1/admin/endpoints", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("session cookie accepted by the API: %d", resp.StatusCode)
	}
}

func TestAdminAPIManagesEndpoints(t *testing.T) {
	a := newAPITestApp(t, nil)
	resp, created := a.api(http.MethodPost, "/api/v1/admin/endpoints", seededKey, apiEndpointBody)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %v", resp.StatusCode, created)
	}
	id := int64(created["id"].(float64))
	token := created["urlToken"].(string)
	if len(token) != 64 || created["configUrl"] != publicURL+"/"+token || created["host"] != "mypurecloud.de" || created["handoverProvider"] != "genesysCloudOM" {
		t.Fatalf("created endpoint = %v", created)
	}
	if resp.Header.Get("Location") == "" {
		t.Fatal("no Location header")
	}
	assertNoSecrets(t, created)

	path := "/api/v1/admin/endpoints/" + jsonInt(id)
	resp, got := a.api(http.MethodGet, path, seededKey, "")
	if resp.StatusCode != http.StatusOK || got["name"] != "Support bot" || got["webhookSecretSet"] != true || got["clientSecretSet"] != true {
		t.Fatalf("get: %d %v", resp.StatusCode, got)
	}
	assertNoSecrets(t, got)

	// PUT changes only what it names; the secrets stay.
	resp, updated := a.api(http.MethodPut, path, seededKey, `{"queueId":"AAAAAAAA-6C1D-4A7E-9F02-5D8C7B6A4E31","priority":3}`)
	if resp.StatusCode != http.StatusOK || updated["queueId"] != "aaaaaaaa-6c1d-4a7e-9f02-5d8c7b6a4e31" || updated["priority"] != float64(3) || updated["deploymentName"] != "bot-relay-prod" {
		t.Fatalf("update: %d %v", resp.StatusCode, updated)
	}
	e := a.onlyEndpoint()
	if e.WebhookSecret != webhookSecret || e.ClientSecret != clientSecret || e.URLToken != token {
		t.Fatalf("update lost secrets or token: %+v", e)
	}

	// What GET returns can be sent back with PUT unchanged.
	getBody, _ := json.Marshal(got)
	if resp, _ := a.api(http.MethodPut, path, seededKey, string(getBody)); resp.StatusCode != http.StatusOK {
		t.Fatalf("round trip GET → PUT: %d", resp.StatusCode)
	}

	resp, list := a.api(http.MethodGet, "/api/v1/admin/endpoints", seededKey, "")
	if resp.StatusCode != http.StatusOK || len(list["endpoints"].([]any)) != 1 {
		t.Fatalf("list: %d %v", resp.StatusCode, list)
	}
	assertNoSecrets(t, list)

	if resp, _ := a.api(http.MethodDelete, path, seededKey, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	resp, missing := a.api(http.MethodGet, path, seededKey, "")
	if resp.StatusCode != http.StatusNotFound || missing["error"].(map[string]any)["code"] != "not_found" {
		t.Fatalf("get after delete: %d %v", resp.StatusCode, missing)
	}
}

func TestAdminAPIValidatesLikeTheForm(t *testing.T) {
	a := newAPITestApp(t, map[string]string{"FEATURE_ENABLE_GENESYS_CLOUD_OM_WHITELIST": "acme"})
	body := strings.Replace(apiEndpointBody, `"queueId":"3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31"`, `"queueId":"q1"`, 1)
	body = strings.Replace(body, `{"tier":"gold"}`, `{"tier":1}`, 1)
	resp, out := a.api(http.MethodPost, "/api/v1/admin/endpoints", seededKey, body)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("invalid endpoint: %d %v", resp.StatusCode, out)
	}
	errBody := out["error"].(map[string]any)
	fields := errBody["fields"].(map[string]any)
	if errBody["code"] != "validation" || errBody["message"] == "" || fields["queueId"] == nil || fields["customAttributes"] == nil || fields["provider"] == nil {
		t.Fatalf("validation error = %v; want queueId, customAttributes and provider (not whitelisted)", errBody)
	}
	if endpoints, _ := a.store.ListEndpoints(context.Background()); len(endpoints) != 0 {
		t.Fatal("an invalid endpoint was saved")
	}
}

func TestAdminAPIRejectsMalformedBodies(t *testing.T) {
	a := newAPITestApp(t, nil)
	for name, body := range map[string]string{
		"not JSON":          `{"name": `,
		"misspelt field":    `{"name":"x","queue_id":"3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31"}`,
		"wrong type":        `{"name":"x","sendProfile":"yes"}`,
		"two objects":       `{"name":"x"}{"name":"y"}`,
		"priority fraction": `{"name":"x","priority":1.5}`,
	} {
		resp, out := a.api(http.MethodPost, "/api/v1/admin/endpoints", seededKey, body)
		if resp.StatusCode != http.StatusBadRequest || out["error"].(map[string]any)["code"] != "bad_request" {
			t.Errorf("%s: %d %v, want 400 bad_request", name, resp.StatusCode, out)
		}
	}
}

func TestAdminAPIRefusalsNameTheJSONFieldInWords(t *testing.T) {
	a := newAPITestApp(t, nil)
	cases := []struct{ name, body, message string }{
		{"a boolean as a word", `{"name":"x","sendProfile":"yes"}`, "sendProfile must be true or false."},
		{"a fraction for priority", `{"name":"x","priority":1.5}`, "priority must be a whole number."},
		{"priority beyond int64", `{"name":"x","priority":1e40}`, "priority must be a whole number; 1e40 is out of range."},
		{"skills as a string", `{"name":"x","skills":"billing"}`, "skills must be a list of strings."},
		{"attribute names as a list", `{"name":"x","attributeNames":["a"]}`, `attributeNames must be an object of "name": "text" strings.`},
		{"a misspelt field", `{"name":"x","queue_id":"q"}`, `Unknown field "queue_id"; check its spelling.`},
		{"NUL in the name", `{"name":"x\u0000"}`, "name contains a NUL character (U+0000)"},
		{"NUL in an attribute name", `{"name":"x","attributeNames":{"queueId":"\u0000"}}`, "attributeNames.queueId contains a NUL character"},
		{"NUL in a custom attribute", `{"name":"x","customAttributes":{"tier":"\u0000"}}`, "customAttributes.tier contains a NUL character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, out := a.api(http.MethodPost, "/api/v1/admin/endpoints", seededKey, c.body)
			errBody, _ := out["error"].(map[string]any)
			msg, _ := errBody["message"].(string)
			if resp.StatusCode != http.StatusBadRequest || errBody["code"] != "bad_request" || !strings.Contains(msg, c.message) {
				t.Fatalf("answer %d %v; want 400 bad_request saying %q", resp.StatusCode, out, c.message)
			}
			for _, w := range goWords {
				if strings.Contains(msg, w) {
					t.Fatalf("the message %q shows Go's %q", msg, w)
				}
			}
		})
	}
	// A priority that fits Go's int but not the rule is the form's 422.
	resp, out := a.api(http.MethodPost, "/api/v1/admin/endpoints", seededKey, `{"name":"x","priority":2147483648}`)
	if fields, _ := out["error"].(map[string]any)["fields"].(map[string]any); resp.StatusCode != http.StatusUnprocessableEntity || fields["priority"] == nil {
		t.Fatalf("priority beyond int32: %d %v; want 422 on priority", resp.StatusCode, out)
	}
	if endpoints, _ := a.store.ListEndpoints(context.Background()); len(endpoints) != 0 {
		t.Fatalf("a refused endpoint was saved: %+v", endpoints)
	}
}

func TestAPIKeysCreatedInTheConsoleWorkUntilRevoked(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	doc := a.document(a.postForm("/apikeys", url.Values{"name": {"pipeline"}}), http.StatusCreated)
	key := strings.TrimSpace(doc.Find(`#new-api-key`).Text())
	if !strings.HasPrefix(key, "hov_") {
		t.Fatalf("new key %q", key)
	}
	if resp, _ := a.api(http.MethodGet, "/api/v1/admin/endpoints", key, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("new key refused: %d", resp.StatusCode)
	}
	list := a.document(a.get("/apikeys"), http.StatusOK)
	if strings.Contains(list.Text(), key) {
		t.Fatal("the key list shows the whole key again")
	}
	action, _ := list.Find(`[data-testid="api-key-row"] form`).Attr("action")
	if resp := a.postForm(action, url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := a.api(http.MethodGet, "/api/v1/admin/endpoints", key, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked key still works: %d", resp.StatusCode)
	}
	doc = a.document(a.postForm("/apikeys", url.Values{"name": {""}}), http.StatusUnprocessableEntity)
	if doc.Find(`[data-testid="error-name"]`).Length() != 1 {
		t.Fatal("a key without a name was not refused")
	}
}

func TestHealthProbes(t *testing.T) {
	a := newTestApp(t, nil)
	if resp := a.get("/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	if resp := a.get("/readyz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %d", resp.StatusCode)
	}
	a.store.Close()
	if resp := a.get("/readyz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the database closed: %d, want 503", resp.StatusCode)
	}
	if resp := a.get("/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz must not depend on the database: %d", resp.StatusCode)
	}
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	a := newTestApp(t, nil)
	resp := a.get("/login")
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP = %q", csp)
	}
	for header, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"} {
		if got := resp.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
}

func assertNoSecrets(t *testing.T, v any) {
	t.Helper()
	raw, _ := json.Marshal(v)
	if strings.Contains(string(raw), webhookSecret) || strings.Contains(string(raw), clientSecret) || strings.Contains(string(raw), `"webhookSecret"`) || strings.Contains(string(raw), `"clientSecret"`) {
		t.Fatalf("API response carries a secret: %s", raw)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestAdminAPIShowsAndRenamesParticipantDataNames(t *testing.T) {
	a := newAPITestApp(t, nil)
	_, created := a.api(http.MethodPost, "/api/v1/admin/endpoints", seededKey, apiEndpointBody)
	names := created["attributeNames"].(map[string]any)
	if names["language"] != "myLanguage" || names["skills"] != "mySkills" || names["queueId"] != "queueId" {
		t.Fatalf("default names %v", names)
	}
	path := "/api/v1/admin/endpoints/" + jsonInt(int64(created["id"].(float64)))
	resp, updated := a.api(http.MethodPut, path, seededKey, `{"attributeNames":{"priority":"routingPriority"}}`)
	if resp.StatusCode != http.StatusOK || updated["attributeNames"].(map[string]any)["priority"] != "routingPriority" || updated["attributeNames"].(map[string]any)["language"] != "myLanguage" {
		t.Fatalf("rename: %d %v", resp.StatusCode, updated["attributeNames"])
	}
	resp, out := a.api(http.MethodPut, path, seededKey, `{"attributeNames":{"colour":"x"}}`)
	if resp.StatusCode != http.StatusUnprocessableEntity || out["error"].(map[string]any)["fields"].(map[string]any)["attributeNames"] == nil {
		t.Fatalf("unknown attribute: %d %v", resp.StatusCode, out)
	}
}

func TestTheAdminAPISetsTheWaitingAndDataProtectionFieldsByTheirNames(t *testing.T) {
	a := newAPITestApp(t, nil)
	resp, created := a.api(http.MethodPost, "/api/v1/admin/endpoints", seededKey, apiEndpointBody)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %v", resp.StatusCode, created)
	}
	// A new endpoint's defaults.
	for field, want := range map[string]any{"ifNoAgents": "queue", "queueUpdateSeconds": float64(60), "queueTimeoutSeconds": float64(0), "inactivitySeconds": float64(0),
		"maskSensitiveLogging": false, "maskIpAddress": false, "collectConversations": true, "inputSanitization": true, "conversationRetentionDays": float64(90)} {
		if created[field] != want {
			t.Errorf("new endpoint %s = %v, want %v", field, created[field], want)
		}
	}
	path := fmt.Sprintf("/api/v1/admin/endpoints/%v", created["id"])
	resp, updated := a.api(http.MethodPut, path, seededKey, `{"ifNoAgents":"refuse","queueTimeoutSeconds":600,"messages":{"accepted":"Queued: {wait}."},
		"collectConversations":false,"inputSanitization":false,"maskIpAddress":true,"conversationRetentionDays":7}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("update: %d %v", resp.StatusCode, updated)
	}
	messages, _ := updated["messages"].(map[string]any)
	if updated["ifNoAgents"] != "refuse" || updated["queueTimeoutSeconds"] != float64(600) || messages["accepted"] != "Queued: {wait}." ||
		updated["collectConversations"] != false || updated["inputSanitization"] != false || updated["maskIpAddress"] != true || updated["conversationRetentionDays"] != float64(7) {
		t.Fatalf("after the update: %v", updated)
	}
	resp, refused := a.api(http.MethodPut, path, seededKey, `{"ifNoAgents":"maybe","queueUpdateSeconds":3,"messages":{"greeting":"hi"}}`)
	fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any)
	if resp.StatusCode != http.StatusUnprocessableEntity || fields["ifNoAgents"] == nil || fields["queueUpdateSeconds"] == nil || fields["messages"] == nil {
		t.Fatalf("bad waiting settings: %d %v", resp.StatusCode, refused)
	}
}
