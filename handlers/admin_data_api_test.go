package handlers_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/handover-relay/handover/store"
)

// The JSON admin API answers with what the console shows, with its paging,
// and refuses as the endpoints API does.

func TestTheAdminAPIListsConversationsWithTheConsolesPaging(t *testing.T) {
	a := newAPITestApp(t, nil)
	e := a.consoleEndpoint("bot")
	for i := range 60 {
		a.conversation(store.Conversation{EndpointID: e.ID, SessionID: fmt.Sprintf("s%02d", i), UserID: "u", State: store.StateEnded})
	}
	queued := a.conversation(store.Conversation{EndpointID: e.ID, SessionID: "waiting", UserID: "w", State: store.StateQueued})

	if resp, _ := a.api(http.MethodGet, "/api/v1/admin/conversations", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a key: %d, want 401", resp.StatusCode)
	}
	resp, body := a.api(http.MethodGet, "/api/v1/admin/conversations", seededKey, "")
	rows, _ := body["conversations"].([]any)
	if resp.StatusCode != http.StatusOK || len(rows) != store.DefaultPageSize {
		t.Fatalf("first page: %d with %d rows", resp.StatusCode, len(rows))
	}
	first := rows[0].(map[string]any)
	if first["id"] != float64(queued.ID) || first["state"] != store.StateQueued || first["endpoint"] != "bot" || first["sessionId"] != "waiting" {
		t.Fatalf("newest row %v", first)
	}
	next, _ := body["next"].(string)
	if next == "" || body["nextBefore"] == nil {
		t.Fatalf("no next page in %v", body)
	}
	_, body = a.api(http.MethodGet, next, seededKey, "")
	if rows, _ := body["conversations"].([]any); len(rows) != 61-store.DefaultPageSize || body["next"] != nil {
		t.Fatalf("second page: %d rows, next %v", len(rows), body["next"])
	}
	_, body = a.api(http.MethodGet, "/api/v1/admin/conversations?state=queued", seededKey, "")
	if rows, _ := body["conversations"].([]any); len(rows) != 1 {
		t.Fatalf("state=queued: %d rows", len(rows))
	}
	for query, field := range map[string]string{"state=lost": "state", "since=yesterday": "since", "from=4.12.2026": "from", "before=-1": "before", "endpoint=x": "endpoint"} {
		resp, body := a.api(http.MethodGet, "/api/v1/admin/conversations?"+query, seededKey, "")
		fields, _ := body["error"].(map[string]any)["fields"].(map[string]any)
		if resp.StatusCode != http.StatusUnprocessableEntity || fields[field] == nil {
			t.Errorf("%s: %d %v, want 422 naming %s", query, resp.StatusCode, body, field)
		}
	}
}

// handedOverForTheAPI is a handover of "user 1" (handedOver), and an app
// without a console session that holds the seeded admin API key.
func handedOverForTheAPI(t *testing.T) (store.Endpoint, *testApp) {
	t.Helper()
	admin := newTestApp(t, nil)
	admin.signIn()
	e := handedOver(t, admin, "Support bot")
	a := newTestAppOn(t, admin)
	if err := handlersSeedKey(a); err != nil {
		t.Fatal(err)
	}
	return e, a
}

func TestTheAdminAPIShowsAConversationWithItsTimeline(t *testing.T) {
	e, a := handedOverForTheAPI(t)
	_, list := a.api(http.MethodGet, fmt.Sprintf("/api/v1/admin/conversations?endpoint=%d", e.ID), seededKey, "")
	rows, _ := list["conversations"].([]any)
	if len(rows) != 1 {
		t.Fatalf("the endpoint's conversations: %v", list)
	}
	id := rows[0].(map[string]any)["id"]
	resp, conv := a.api(http.MethodGet, fmt.Sprintf("/api/v1/admin/conversations/%v", id), seededKey, "")
	if resp.StatusCode != http.StatusOK || conv["userId"] != "user 1" || conv["language"] != "german" || conv["firstName"] != "Janet" {
		t.Fatalf("conversation: %d %v", resp.StatusCode, conv)
	}
	if attrs, _ := conv["customAttributes"].(map[string]any); attrs["contract"] != "C-4711" {
		t.Fatalf("custom attributes %v", conv["customAttributes"])
	}
	timeline, _ := conv["timeline"].([]any)
	found := false
	for _, entry := range timeline {
		if strings.Contains(fmt.Sprint(entry.(map[string]any)["text"]), "My invoice is wrong") {
			found = true
		}
	}
	if !found {
		t.Fatalf("the timeline lacks the transcript: %v", timeline)
	}
	if resp, body := a.api(http.MethodGet, "/api/v1/admin/conversations/999999", seededKey, ""); resp.StatusCode != http.StatusNotFound || body["error"].(map[string]any)["code"] != "not_found" {
		t.Fatalf("an unknown conversation: %d %v", resp.StatusCode, body)
	}
}

func TestTheAdminAPIListsShowsAndReplaysWebhooks(t *testing.T) {
	a := newAPITestApp(t, nil)
	a.consoleEndpoint("bot")
	// A forged webhook: logged and refused.
	a.request(http.MethodPost, "/handover/genesysCloudOM", strings.NewReader(`{"id":"forged","channel":{"id":"`+consoleIntegration+`-bot"}}`),
		map[string]string{"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"})
	resp, body := a.api(http.MethodGet, "/api/v1/admin/webhooks", seededKey, "")
	rows, _ := body["webhooks"].([]any)
	if resp.StatusCode != http.StatusOK || len(rows) != 1 {
		t.Fatalf("the webhook log: %d %v", resp.StatusCode, body)
	}
	verdict := rows[0].(map[string]any)["verdict"]
	if verdict == store.VerdictValid {
		t.Fatalf("a forged webhook logged as %v", verdict)
	}
	if _, body := a.api(http.MethodGet, "/api/v1/admin/webhooks?verdict="+store.VerdictValid, seededKey, ""); len(body["webhooks"].([]any)) != 0 {
		t.Fatalf("verdict=valid lists the forged webhook: %v", body)
	}
	id := rows[0].(map[string]any)["id"]
	resp, hook := a.api(http.MethodGet, fmt.Sprintf("/api/v1/admin/webhooks/%v", id), seededKey, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(fmt.Sprint(hook["body"]), "forged") || hook["verdict"] != verdict {
		t.Fatalf("webhook: %d %v", resp.StatusCode, hook)
	}
	if _, ok := hook["headers"].(map[string]any); !ok {
		t.Fatalf("no headers in %v", hook)
	}
	resp, replay := a.api(http.MethodPost, fmt.Sprintf("/api/v1/admin/webhooks/%v/replay", id), seededKey, "")
	if resp.StatusCode != http.StatusCreated || replay["replayOf"] != id || replay["verdict"] != verdict {
		t.Fatalf("replay: %d %v", resp.StatusCode, replay)
	}
	if resp, body := a.api(http.MethodGet, "/api/v1/admin/webhooks?verdict=fine", seededKey, ""); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("verdict=fine: %d %v", resp.StatusCode, body)
	}
	resp, body = a.api(http.MethodGet, "/api/v1/admin/api-calls?status=failed", seededKey, "")
	if calls, ok := body["apiCalls"].([]any); resp.StatusCode != http.StatusOK || !ok || len(calls) != 0 {
		t.Fatalf("Genesys calls: %d %v", resp.StatusCode, body)
	}
	if resp, _ := a.api(http.MethodGet, "/api/v1/admin/api-calls?status=slow", seededKey, ""); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status=slow: %d", resp.StatusCode)
	}
}

func TestTheAdminAPIRunsTestConnection(t *testing.T) {
	a := newAPITestApp(t, nil)
	e := a.consoleEndpoint("bot") // no Genesys host: the first check fails at once
	if resp, _ := a.api(http.MethodPost, fmt.Sprintf("/api/v1/admin/endpoints/%d/preflight", e.ID), "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a key: %d", resp.StatusCode)
	}
	resp, body := a.api(http.MethodPost, fmt.Sprintf("/api/v1/admin/endpoints/%d/preflight", e.ID), seededKey, "")
	checks, _ := body["checks"].([]any)
	if resp.StatusCode != http.StatusOK || body["passed"] != false || len(checks) == 0 {
		t.Fatalf("preflight: %d %v", resp.StatusCode, body)
	}
	if resp, _ := a.api(http.MethodPost, "/api/v1/admin/endpoints/999999/preflight", seededKey, ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("an unknown endpoint: %d", resp.StatusCode)
	}
}
