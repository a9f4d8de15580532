package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/golang-jwt/jwt/v5"

	"github.com/handover-relay/handover/handlers"
	"github.com/handover-relay/handover/store"
)

// One credential per audience (docs/security.md): the bot's URL token, the
// agents' Copilot token, and the demo chat's link with a key per session.

const copilotSecret = "copilot-jwt-secret-of-at-least-32-chars"

func signedCopilotJWT(t *testing.T, secret string, method jwt.SigningMethod, claims jwt.MapClaims) string {
	t.Helper()
	raw, err := jwt.NewWithClaims(method, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestACopilotAuthJWTIsRequiredWhenTheEndpointSetsASecret(t *testing.T) {
	admin := newTestApp(t, nil)
	admin.signIn()
	e := handedOver(t, admin, "Support bot")
	form := url.Values{"copilotJwtSecret": {"too short"}}
	for k, v := range validEndpointForm() {
		if k != "name" {
			form[k] = v
		}
	}
	form.Set("name", "Support bot")
	if resp := admin.postForm(endpointPath(e), form); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a 9-character JWT secret: %d, want 422", resp.StatusCode)
	}
	form.Set("copilotJwtSecret", copilotSecret)
	if resp := admin.postForm(endpointPath(e), form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save the JWT secret: %d %s", resp.StatusCode, readBody(t, resp))
	}
	e, _ = admin.store.EndpointByID(context.Background(), e.ID)
	if e.CopilotJWTSecret != copilotSecret {
		t.Fatal("the JWT secret was not kept")
	}
	agent := newTestAppOn(t, admin)
	future, past := time.Now().Add(time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
	withAuth := func(auth string) string {
		return copilotPath("user 1", "s&1", e.CopilotToken) + "&auth=" + url.QueryEscape(auth)
	}
	for name, c := range map[string]struct {
		path string
		want int
	}{
		"no JWT":                  {copilotPath("user 1", "s&1", e.CopilotToken), http.StatusForbidden},
		"expired":                 {withAuth(signedCopilotJWT(t, copilotSecret, jwt.SigningMethodHS256, jwt.MapClaims{"exp": past})), http.StatusForbidden},
		"without exp":             {withAuth(signedCopilotJWT(t, copilotSecret, jwt.SigningMethodHS256, jwt.MapClaims{"userId": "user 1"})), http.StatusForbidden},
		"signed with another key": {withAuth(signedCopilotJWT(t, strings.Repeat("x", 40), jwt.SigningMethodHS256, jwt.MapClaims{"exp": future})), http.StatusForbidden},
		"HS512, not HS256":        {withAuth(signedCopilotJWT(t, copilotSecret, jwt.SigningMethodHS512, jwt.MapClaims{"exp": future})), http.StatusForbidden},
		"for another user":        {withAuth(signedCopilotJWT(t, copilotSecret, jwt.SigningMethodHS256, jwt.MapClaims{"exp": future, "userId": "user 2"})), http.StatusForbidden},
		"valid":                   {withAuth(signedCopilotJWT(t, copilotSecret, jwt.SigningMethodHS256, jwt.MapClaims{"exp": future, "userId": "user 1"})), http.StatusOK},
	} {
		resp := agent.get(c.path)
		body := readBody(t, resp)
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, c.want)
		}
		if c.want == http.StatusForbidden && strings.Contains(body, "Janet") {
			t.Errorf("%s: the 403 shows the handover", name)
		}
	}
	if !strings.Contains(agent.logs.String(), "Copilot request refused") {
		t.Error("refused Copilot requests are not logged")
	}
}

func TestTheCopilotTokenAndTheDemoLinkDoNotOpenTheBotAPI(t *testing.T) {
	admin, e := demoChatEndpoint(t)
	bot := newTestAppOn(t, admin)
	for name, token := range map[string]string{"Copilot token": e.CopilotToken, "demo link": e.DemoToken} {
		resp := bot.request(http.MethodPost, "/"+token, strings.NewReader(`{"userId":"u","sessionId":"s","text":"hi"}`), map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the bot API with the %s: %d, want 404", name, resp.StatusCode)
		}
	}
	if resp := bot.request(http.MethodPost, "/"+e.URLToken, strings.NewReader(`{"userId":"u","sessionId":"s","text":"hi"}`), map[string]string{"Content-Type": "application/json"}); resp.StatusCode != http.StatusOK {
		t.Errorf("the bot API with the URL token: %d, want 200 (the demo bot answers)", resp.StatusCode)
	}
}

// demoChatEndpoint is a signed-in admin's new endpoint with its demo chat on.
func demoChatEndpoint(t *testing.T) (*testApp, store.Endpoint) {
	t.Helper()
	admin := newTestApp(t, nil)
	admin.signIn()
	form := validEndpointForm()
	form.Set("demoChat", "true")
	return admin, admin.createEndpoint(form)
}

// chatSession is one demo chat page's session.
type chatSession struct{ api, sessionID, userID, key string }

func openChat(t *testing.T, a *testApp, demoToken string) chatSession {
	t.Helper()
	doc := a.document(a.get("/chat/"+demoToken), http.StatusOK)
	page := doc.Find(`[data-testid="chat-page"]`)
	attr := func(s *goquery.Selection, name string) string { v, _ := s.Attr(name); return v }
	return chatSession{api: attr(page, "data-api"), sessionID: attr(page, "data-session-id"), userID: attr(page, "data-user-id"), key: attr(page, "data-session-key")}
}

func (c chatSession) post(a *testApp, path, key, body string) *http.Response {
	return a.request(http.MethodPost, c.api+path, strings.NewReader(body), map[string]string{"Content-Type": "application/json", "X-Chat-Key": key})
}

func TestOneDemoChatSessionCannotReadOrWriteAnother(t *testing.T) {
	admin, e := demoChatEndpoint(t)
	visitor := newTestAppOn(t, admin)
	mine, theirs := openChat(t, visitor, e.DemoToken), openChat(t, visitor, e.DemoToken)
	if mine.sessionID == theirs.sessionID || mine.key == theirs.key {
		t.Fatal("two chat pages got the same session")
	}
	message := func(c chatSession) string {
		return `{"userId":"` + c.userID + `","sessionId":"` + c.sessionID + `","text":"hello"}`
	}
	if resp := mine.post(visitor, "", mine.key, message(mine)); resp.StatusCode != http.StatusOK {
		t.Fatalf("my message with my key: %d %s", resp.StatusCode, readBody(t, resp))
	}
	for name, resp := range map[string]*http.Response{
		"their session with my key": mine.post(visitor, "", mine.key, message(theirs)),
		"my session with no key":    mine.post(visitor, "", "", message(mine)),
		"their handover":            mine.post(visitor, "/handover", mine.key, `{"userId":"`+theirs.userID+`","sessionId":"`+theirs.sessionID+`"}`),
		"another user id":           mine.post(visitor, "", mine.key, `{"userId":"somebody","sessionId":"`+mine.sessionID+`","text":"x"}`),
		"their end":                 mine.post(visitor, "/sessions/"+theirs.sessionID+"/end", mine.key, ""),
		"their typing":              mine.post(visitor, "/sessions/"+theirs.sessionID+"/typing", mine.key, ""),
		"their events":              visitor.get(mine.api + "/sessions/" + theirs.sessionID + "/events?key=" + url.QueryEscape(mine.key)),
	} {
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}

	// Turned off, the link is dead; on again, it is a new one.
	toggle := func(on bool) store.Endpoint {
		f := validEndpointForm()
		if on {
			f.Set("demoChat", "true")
		}
		if resp := admin.postForm(endpointPath(e), f); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("save: %d", resp.StatusCode)
		}
		saved, _ := admin.store.EndpointByID(context.Background(), e.ID)
		return saved
	}
	toggle(false)
	if resp := visitor.get("/chat/" + e.DemoToken); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a demo chat turned off: %d, want 404", resp.StatusCode)
	}
	if resp := mine.post(visitor, "", mine.key, message(mine)); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a message through a demo chat turned off: %d, want 404", resp.StatusCode)
	}
	again := toggle(true)
	if again.DemoToken == e.DemoToken {
		t.Fatal("turned on again, the demo chat kept its old link")
	}
	if resp := visitor.get("/chat/" + e.DemoToken); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the revoked link: %d, want 404", resp.StatusCode)
	}
	if resp := visitor.get("/chat/" + again.DemoToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("the new link: %d, want 200", resp.StatusCode)
	}
}

func TestARotatedURLTokenOpensTheBotAPIUntilItsGraceEnds(t *testing.T) {
	now := time.Now()
	a := newTestAppWith(t, map[string]string{"HANDOVER_URL_TOKEN_GRACE": "1h"}, store.Options{Now: func() time.Time { return now }})
	if err := handlersSeedKey(a); err != nil {
		t.Fatal(err)
	}
	resp, created := a.api(http.MethodPost, "/api/v1/admin/endpoints", seededKey, apiEndpointBody)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %v", resp.StatusCode, created)
	}
	old := created["urlToken"].(string)
	id := fmt.Sprint(created["id"])
	if resp, _ := a.api(http.MethodPost, "/api/v1/admin/endpoints/"+id+"/rotate-url-token", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("rotate without a key: %d, want 401", resp.StatusCode)
	}
	resp, rotated := a.api(http.MethodPost, "/api/v1/admin/endpoints/"+id+"/rotate-url-token", seededKey, "")
	if resp.StatusCode != http.StatusOK || rotated["urlToken"] == old || rotated["previousUrlTokenUntil"] == nil {
		t.Fatalf("rotate: %d %v", resp.StatusCode, rotated)
	}
	availability := func(token string) int {
		return a.request(http.MethodGet, "/"+token+"/availability", nil, nil).StatusCode
	}
	if got := availability(rotated["urlToken"].(string)); got != http.StatusOK {
		t.Fatalf("the new token: %d", got)
	}
	if got := availability(old); got != http.StatusOK {
		t.Fatalf("the old token within its grace: %d, want 200", got)
	}
	now = now.Add(time.Hour + time.Second)
	if got := availability(old); got != http.StatusNotFound {
		t.Fatalf("the old token after its grace: %d, want 404", got)
	}
}

func handlersSeedKey(a *testApp) error {
	return handlers.SeedAPIKey(context.Background(), a.store, seededKey)
}
