package handlers_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// The bot delivery log through the admin API and the console, against a real
// receiver on loopback; its answers and the event bodies the receiver got
// match the OpenAPI document.

// bodies is a bot webhook receiver that keeps every body it got.
type bodies struct {
	mu  sync.Mutex
	got [][]byte
	ids []string
}

func (b *bodies) serve(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.got, b.ids = append(b.got, body), append(b.ids, r.Header.Get("webhook-id"))
		b.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (b *bodies) all() ([][]byte, []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]byte(nil), b.got...), append([]string(nil), b.ids...)
}

func TestTheBotDeliveryLogThroughTheAdminAPIAndTheConsole(t *testing.T) {
	doc := loadOpenAPI(t)
	e, a := handedOverForTheAPI(t)
	receiver := &bodies{}
	botURL := receiver.serve(t)
	call := conformingCall(t, doc, a)
	endpointPath := fmt.Sprintf("/api/v1/admin/endpoints/%d", e.ID)

	// Setting the URL makes a signing secret, returned in that answer only.
	status, updated := call(http.MethodPut, endpointPath, "/api/v1/admin/endpoints/{id}", seededKey, `{"botWebhookUrl":"`+botURL+`"}`)
	signing, _ := updated["botWebhookSecret"].(string)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(signing, "whsec_"))
	if status != http.StatusOK || !strings.HasPrefix(signing, "whsec_") || err != nil || len(key) < 24 || updated["botWebhookUrl"] != botURL {
		t.Fatalf("setting the bot webhook URL: %d %v", status, updated)
	}
	if _, again := call(http.MethodGet, endpointPath, "/api/v1/admin/endpoints/{id}", seededKey, ""); again["botWebhookSecret"] != nil || again["botWebhookSecretSet"] != true {
		t.Fatalf("the secret is shown again: %v", again)
	}
	if _, same := call(http.MethodPut, endpointPath, "/api/v1/admin/endpoints/{id}", seededKey, `{"language":"french"}`); same["botWebhookSecret"] != nil {
		t.Fatalf("an unrelated change shows the secret: %v", same)
	}
	if status, bad := call(http.MethodPut, endpointPath, "/api/v1/admin/endpoints/{id}", seededKey, `{"botWebhookSecret":"hunter2","botWebhookUrl":"ftp://bot"}`); status != http.StatusUnprocessableEntity ||
		bad["error"].(map[string]any)["fields"].(map[string]any)["botWebhookSecret"] == nil || bad["error"].(map[string]any)["fields"].(map[string]any)["botWebhookUrl"] == nil {
		t.Fatalf("a bad secret and URL: %d %v", status, bad)
	}

	// The session's end is an event for the bot (the relay does not run
	// here, so it waits); fifty test events are sent at once.
	if _, err := a.relay.EndByUser(context.Background(), e, "s&1"); err != nil {
		t.Fatal(err)
	}
	var testIDs []any
	for range 50 {
		status, d := call(http.MethodPost, endpointPath+"/bot-test-event", "/api/v1/admin/endpoints/{id}/bot-test-event", seededKey, "")
		if status != http.StatusCreated || d["status"] != "delivered" || d["responseStatus"] != float64(204) || d["type"] != "test" {
			t.Fatalf("a test event: %d %v", status, d)
		}
		testIDs = append(testIDs, d["id"])
	}
	got, ids := receiver.all()
	if len(got) != 50 {
		t.Fatalf("the bot got %d test events, want 50", len(got))
	}
	// What the bot got is what the document says a bot event is.
	schema := doc.Webhooks["botEvent"].Post.RequestBody.Value.Content.Get("application/json").Schema.Value
	for _, body := range got[:1] {
		var v any
		json.Unmarshal(body, &v)
		if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			t.Fatalf("a test event does not match the document: %v\n%s", err, body)
		}
	}

	// Two pages, newest first: the fifty tests, then the waiting state event.
	status, first := call(http.MethodGet, fmt.Sprintf("/api/v1/admin/bot-deliveries?endpoint=%d", e.ID), "/api/v1/admin/bot-deliveries", seededKey, "")
	rows, _ := first["botDeliveries"].([]any)
	if status != http.StatusOK || len(rows) != 50 || first["nextBefore"] == nil || rows[0].(map[string]any)["id"] != testIDs[49] {
		t.Fatalf("the first page: %d, %d rows, next %v", status, len(rows), first["nextBefore"])
	}
	status, second := call(http.MethodGet, fmt.Sprint(first["next"]), "/api/v1/admin/bot-deliveries", seededKey, "")
	rows, _ = second["botDeliveries"].([]any)
	if status != http.StatusOK || len(rows) != 1 || second["next"] != nil {
		t.Fatalf("the second page: %d %v", status, second)
	}
	pending := rows[0].(map[string]any)
	if pending["type"] != "state" || pending["status"] != "pending" || pending["attempts"] != float64(0) || pending["conversationId"] == nil {
		t.Fatalf("the session's end: %v", pending)
	}
	if _, filtered := call(http.MethodGet, "/api/v1/admin/bot-deliveries?status=pending&type=state", "/api/v1/admin/bot-deliveries", seededKey, ""); len(filtered["botDeliveries"].([]any)) != 1 {
		t.Fatalf("filtered by status and type: %v", filtered)
	}
	status, detail := call(http.MethodGet, fmt.Sprintf("/api/v1/admin/bot-deliveries/%v", pending["id"]), "/api/v1/admin/bot-deliveries/{id}", seededKey, "")
	event, _ := detail["event"].(map[string]any)
	if status != http.StatusOK || event["type"] != "state" || event["userId"] != "user 1" || event["sessionId"] != "s&1" || event["data"].(map[string]any)["state"] != "ended" {
		t.Fatalf("the delivery's event: %d %v", status, detail)
	}
	// Replaying one sent before sends it once more, with its id.
	status, replayed := call(http.MethodPost, fmt.Sprintf("/api/v1/admin/bot-deliveries/%v/replay", testIDs[0]), "/api/v1/admin/bot-deliveries/{id}/replay", seededKey, "")
	got, replayIDs := receiver.all()
	if status != http.StatusOK || replayed["attempts"] != float64(2) || len(got) != 51 || replayIDs[50] != ids[0] {
		t.Fatalf("the replay: %d %v; the bot got %d events, the last %q, want %q", status, replayed, len(got), replayIDs[len(replayIDs)-1], ids[0])
	}
	// Errors as the rest of the API answers them.
	for _, c := range []struct {
		path, template, key string
		want                int
	}{
		{"/api/v1/admin/bot-deliveries", "/api/v1/admin/bot-deliveries", "", http.StatusUnauthorized},
		{"/api/v1/admin/bot-deliveries?status=lost", "/api/v1/admin/bot-deliveries", seededKey, http.StatusUnprocessableEntity},
		{"/api/v1/admin/bot-deliveries/999999", "/api/v1/admin/bot-deliveries/{id}", seededKey, http.StatusNotFound},
	} {
		if status, body := call(http.MethodGet, c.path, c.template, c.key, ""); status != c.want {
			t.Errorf("GET %s: %d %v, want %d", c.path, status, body, c.want)
		}
	}
	if status, _ := call(http.MethodPost, "/api/v1/admin/endpoints/999999/bot-test-event", "/api/v1/admin/endpoints/{id}/bot-test-event", seededKey, ""); status != http.StatusNotFound {
		t.Errorf("a test event of no endpoint: %d", status)
	}

	// The console shows the same rows, and the endpoint page the health.
	a.signIn()
	page := a.document(a.get(fmt.Sprintf("/bot-deliveries?endpoint=%d&status=pending", e.ID)), http.StatusOK)
	if n := page.Find(`[data-testid="bot-delivery-row"]`).Length(); n != 1 || page.Find(`[data-testid="bot-delivery-row"] [data-testid="event-type"]`).Text() != "state" {
		t.Fatalf("the console's log shows %d rows", n)
	}
	one := a.document(a.get(fmt.Sprintf("/bot-deliveries/%v", testIDs[0])), http.StatusOK)
	if one.Find(`[data-testid="status"]`).Text() != "delivered" || !strings.Contains(one.Find(`[data-testid="bot-delivery-body"]`).Text(), `"type": "test"`) {
		t.Fatalf("the delivery page reads %q", one.Find(`[data-testid="bot-delivery-summary"]`).Text())
	}
	endpoint := a.document(a.get(fmt.Sprintf("/endpoints/%d", e.ID)), http.StatusOK)
	if endpoint.Find(`[data-testid="bot-webhook-target"]`).Text() != botURL || endpoint.Find(`[data-testid="bot-webhook-failures"]`).Text() == "" ||
		strings.Contains(endpoint.Find(`[data-testid="bot-webhook-last-success"]`).Text(), "none yet") {
		t.Fatalf("the endpoint page's bot webhook section reads %q", endpoint.Find(`[data-testid="bot-webhook"]`).Text())
	}
	result := a.document(a.postForm(fmt.Sprintf("/endpoints/%d/bot-test-event", e.ID), url.Values{}), http.StatusOK)
	if !strings.Contains(result.Find(`[data-testid="bot-test-result"]`).Text(), "the bot answered 204") {
		t.Fatalf("the console's test event reads %q", result.Text())
	}
}

func TestTheConsoleShowsANewSigningSecretOnce(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	e := a.createEndpoint(validEndpointForm())
	form := validEndpointForm()
	form.Set("botWebhookUrl", "https://bot.example.com/events")
	doc := a.document(a.postForm(fmt.Sprintf("/endpoints/%d", e.ID), form), http.StatusOK)
	shown := doc.Find(`[data-testid="bot-webhook-secret-value"]`).Text()
	if !strings.HasPrefix(shown, "whsec_") {
		t.Fatalf("saving a URL shows %q", doc.Text())
	}
	stored, err := a.store.EndpointByID(context.Background(), e.ID)
	if err != nil || stored.BotWebhookSecret != shown {
		t.Fatalf("the shown secret is not the stored one")
	}
	page := a.get(fmt.Sprintf("/endpoints/%d", e.ID))
	if body := readBody(t, page); strings.Contains(body, shown) {
		t.Fatal("the endpoint page shows the signing secret again")
	}
	// Saved again unchanged: nothing to show, back to the list.
	if resp := a.postForm(fmt.Sprintf("/endpoints/%d", e.ID), form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving again: %d", resp.StatusCode)
	}
	// Asked for a new one: shown once, and the old one signs beside it for the grace period.
	form.Set("botWebhookNewSecret", "true")
	fresh := a.document(a.postForm(fmt.Sprintf("/endpoints/%d", e.ID), form), http.StatusOK).Find(`[data-testid="bot-webhook-secret-value"]`).Text()
	rotated, _ := a.store.EndpointByID(context.Background(), e.ID)
	if fresh == shown || rotated.BotWebhookSecret != fresh || rotated.PreviousBotWebhookSecret != shown {
		t.Fatalf("rotation: fresh %q, stored %q, previous %q", fresh, rotated.BotWebhookSecret, rotated.PreviousBotWebhookSecret)
	}
	if secrets := rotated.BotWebhookSecretsAt(a.store.Now()); len(secrets) != 2 {
		t.Fatalf("during the grace period %d secrets sign, want 2", len(secrets))
	}
}
