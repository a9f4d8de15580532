package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/handover-relay/handover/openapi"
)

// The OpenAPI document is valid OpenAPI 3.1, and the answers of the bot API
// and the admin API validate against it: the document cannot drift.

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Document)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if doc.OpenAPIMajorMinor() != "3.1" {
		t.Fatalf("openapi.json is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid: %v", err)
	}
	return doc
}

// conforms checks that an answer is one the document describes for the
// operation at template (OpenAPI's {param} form).
func conforms(t *testing.T, doc *openapi3.T, method, template string, resp *http.Response, body string) {
	t.Helper()
	item := doc.Paths.Value(template)
	if item == nil {
		t.Fatalf("openapi.json has no path %s", template)
	}
	op := item.GetOperation(method)
	if op == nil {
		t.Fatalf("openapi.json has no %s %s", method, template)
	}
	described := op.Responses.Status(resp.StatusCode)
	if described == nil || described.Value == nil {
		t.Fatalf("%s %s answered %d, which openapi.json does not describe: %s", method, template, resp.StatusCode, body)
	}
	media := described.Value.Content.Get("application/json")
	if media == nil || media.Schema == nil {
		if body != "" && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s %s %d: a JSON body the document says nothing of", method, template, resp.StatusCode)
		}
		return
	}
	var value any
	if err := json.Unmarshal([]byte(body), &value); err != nil {
		t.Fatalf("%s %s %d: not JSON: %s", method, template, resp.StatusCode, body)
	}
	if err := media.Schema.Value.VisitJSON(value, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("%s %s %d does not match openapi.json: %v\n%s", method, template, resp.StatusCode, err, body)
	}
}

// conformingCall makes calls to a's API (with an admin API key when key is
// set) whose answers must conform to the document at template; each answers
// the status and the JSON body.
func conformingCall(t *testing.T, doc *openapi3.T, a *testApp) func(method, path, template, key, body string) (int, map[string]any) {
	return func(method, path, template, key, body string) (int, map[string]any) {
		t.Helper()
		headers := map[string]string{"Content-Type": "application/json"}
		if key != "" {
			headers["Authorization"] = "Bearer " + key
		}
		resp := a.request(method, path, strings.NewReader(body), headers)
		raw := readBody(t, resp)
		conforms(t, doc, method, template, resp, raw)
		var out map[string]any
		json.Unmarshal([]byte(raw), &out)
		return resp.StatusCode, out
	}
}

func TestTheAnswersOfTheBotAndAdminAPIsMatchTheOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	e, a := handedOverForTheAPI(t)
	conforming := conformingCall(t, doc, a)
	call := func(method, path, template, key, body string) map[string]any {
		t.Helper()
		_, out := conforming(method, path, template, key, body)
		return out
	}
	token := e.URLToken
	call(http.MethodPost, "/"+token, "/{token}", "", `{"userId":"user 1","sessionId":"s&1","text":"hello"}`)
	call(http.MethodPost, "/"+token, "/{token}", "", `{"userId":"u2","sessionId":"bot-only","text":"hello bot"}`)
	call(http.MethodPost, "/"+token, "/{token}", "", `{"userId":"u2","sessionId":7}`)
	call(http.MethodPost, "/"+token+"/handover", "/{token}/handover", "", `{"userId":"u3","sessionId":"s3","transcript":[{"source":"user","text":"hi"}]}`)
	call(http.MethodPost, "/"+token+"/handover", "/{token}/handover", "", `{"userId":"u3","sessionId":"s3","priority":1e9}`)
	call(http.MethodGet, "/"+token+"/availability", "/{token}/availability", "", "")
	call(http.MethodPost, "/"+token+"/sessions/s3/typing", "/{token}/sessions/{session}/typing", "", "")
	call(http.MethodPost, "/"+token+"/sessions/s3/end", "/{token}/sessions/{session}/end", "", "")
	call(http.MethodPost, "/nobody/handover", "/{token}/handover", "", `{"userId":"u","sessionId":"s"}`)

	endpoints := call(http.MethodGet, "/api/v1/admin/endpoints", "/api/v1/admin/endpoints", seededKey, "")
	call(http.MethodGet, "/api/v1/admin/endpoints", "/api/v1/admin/endpoints", "", "")
	created := call(http.MethodPost, "/api/v1/admin/endpoints", "/api/v1/admin/endpoints", seededKey, apiEndpointBody)
	call(http.MethodPost, "/api/v1/admin/endpoints", "/api/v1/admin/endpoints", seededKey, `{"name":""}`)
	id := fmt.Sprint(created["id"])
	call(http.MethodGet, "/api/v1/admin/endpoints/"+id, "/api/v1/admin/endpoints/{id}", seededKey, "")
	call(http.MethodPut, "/api/v1/admin/endpoints/"+id, "/api/v1/admin/endpoints/{id}", seededKey, `{"demoChat":true}`)
	call(http.MethodPost, "/api/v1/admin/endpoints/"+id+"/rotate-url-token", "/api/v1/admin/endpoints/{id}/rotate-url-token", seededKey, "")
	call(http.MethodGet, "/api/v1/admin/endpoints/999999", "/api/v1/admin/endpoints/{id}", seededKey, "")
	conversations := call(http.MethodGet, "/api/v1/admin/conversations", "/api/v1/admin/conversations", seededKey, "")
	call(http.MethodGet, "/api/v1/admin/conversations?state=lost", "/api/v1/admin/conversations", seededKey, "")
	rows, _ := conversations["conversations"].([]any)
	if len(rows) == 0 {
		t.Fatalf("no conversations: %v", conversations)
	}
	call(http.MethodGet, fmt.Sprintf("/api/v1/admin/conversations/%v", rows[0].(map[string]any)["id"]), "/api/v1/admin/conversations/{id}", seededKey, "")
	call(http.MethodGet, "/api/v1/admin/webhooks", "/api/v1/admin/webhooks", seededKey, "")
	call(http.MethodGet, "/api/v1/admin/webhooks/999999", "/api/v1/admin/webhooks/{id}", seededKey, "")
	call(http.MethodGet, "/api/v1/admin/api-calls", "/api/v1/admin/api-calls", seededKey, "")
	call(http.MethodGet, "/api/v1/admin/instances", "/api/v1/admin/instances", seededKey, "")
	call(http.MethodGet, "/api/v1/admin/contacts/user%201", "/api/v1/admin/contacts/{userId}", seededKey, "")
	if list, _ := endpoints["endpoints"].([]any); len(list) == 0 {
		t.Fatal("no endpoints listed")
	}
	if resp := a.get("/api/openapi.json"); resp.StatusCode != http.StatusOK || readBody(t, resp) != string(openapi.Document) {
		t.Fatalf("/api/openapi.json: %d", resp.StatusCode)
	}
}
