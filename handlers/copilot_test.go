package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// handedOver creates an endpoint (as the signed-in admin) and a handover of
// user "user 1" in session "s&1" with a profile, attributes and a transcript.
func handedOver(t *testing.T, a *testApp, name string) store.Endpoint {
	t.Helper()
	form := validEndpointForm()
	form.Set("name", name)
	e := a.createEndpoint(form)
	ctx := context.Background()
	// Known integration: the relay needs no Genesys to accept the handover.
	if err := a.store.SetEndpointIntegration(ctx, e.ID, "integration-1", ""); err != nil {
		t.Fatal(err)
	}
	e, _ = a.store.EndpointByID(ctx, e.ID)
	priority := 7
	_, err := a.relay.StartHandover(ctx, e, relay.HandoverRequest{
		UserID: "user 1", SessionID: "s&1", Profile: relay.Profile{FirstName: "Janet", LastName: "Doeberg"},
		Language: "german", Skills: []string{"billing", "vip"}, Priority: &priority, CustomAttributes: map[string]string{"contract": "C-4711"},
		Transcript: []relay.TranscriptEntry{{Source: "user", Text: "My invoice is wrong", Time: time.Date(2025, 1, 15, 10, 21, 33, 0, time.UTC)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func copilotPath(userID, sessionID, token string) string {
	q := url.Values{}
	if userID != "" {
		q.Set("userId", userID)
	}
	if sessionID != "" {
		q.Set("sessionId", sessionID)
	}
	if token != "" {
		q.Set("URLToken", token)
	}
	return "/copilot?" + q.Encode()
}

func TestCopilotWorkspaceShowsTheHandoverWithTheRightTokenAndNoConsoleSession(t *testing.T) {
	admin := newTestApp(t, nil)
	admin.signIn()
	e := handedOver(t, admin, "Support bot")
	agent := newTestAppOn(t, admin) // a browser without a console session

	for _, path := range []string{copilotPath("user 1", "s&1", e.CopilotToken), copilotPath("user 1", "", e.CopilotToken), copilotPath("", "s&1", e.CopilotToken)} {
		resp := agent.get(path)
		doc := agent.document(resp, http.StatusOK)
		checks := map[string]string{
			"copilot-first-name": "Janet", "copilot-last-name": "Doeberg", "copilot-language": "german",
			"copilot-skills": "billing, vip", "copilot-priority": "7", "copilot-user-id": "user 1", "copilot-session-id": "s&1",
		}
		for testid, want := range checks {
			if got := strings.TrimSpace(doc.Find(`[data-testid="` + testid + `"]`).Text()); got != want {
				t.Errorf("%s: %s = %q, want %q", path, testid, got, want)
			}
		}
		if got := doc.Find(`[data-testid="copilot-custom-attribute"][data-name="contract"] td`).Text(); got != "C-4711" {
			t.Errorf("%s: custom attribute contract = %q", path, got)
		}
		if got := doc.Find(`[data-testid="copilot-custom-attribute"][data-name="tier"] td`).Text(); got != "gold" {
			t.Errorf("%s: the endpoint's default attribute tier = %q", path, got)
		}
		transcript := doc.Find(`[data-testid="copilot-transcript-part"]`).Text()
		if !strings.Contains(transcript, "User: My invoice is wrong") || !strings.Contains(transcript, "2025-01-15 10:21:33 UTC") {
			t.Errorf("%s: transcript %q", path, transcript)
		}
		if doc.Find(`[data-testid="app-header"]`).Length() != 0 {
			t.Errorf("%s: the workspace shows the console navigation", path)
		}
		live := doc.Find(`[data-testid="copilot-workspace"]`)
		if trigger, _ := live.Attr("hx-trigger"); trigger != "every 2s" {
			t.Errorf("%s: the workspace refreshes on %q", path, trigger)
		}
		if src, _ := live.Attr("hx-get"); !strings.HasPrefix(src, "/copilot?") || !strings.Contains(src, url.QueryEscape(e.CopilotToken)) {
			t.Errorf("%s: refreshes from %q", path, src)
		}
	}

	// The refresh gets the live part alone, with what happened since.
	if _, err := agent.relay.SendUserMessage(context.Background(), e, relay.UserMessage{UserID: "user 1", SessionID: "s&1", Text: "Are you there?"}); err != nil {
		t.Fatal(err)
	}
	resp := agent.request(http.MethodGet, copilotPath("user 1", "s&1", e.CopilotToken), nil, map[string]string{"HX-Request": "true"})
	doc := agent.document(resp, http.StatusOK)
	if doc.Find("title").Length() != 0 || doc.Find(`[data-testid="copilot-workspace"]`).Length() != 1 {
		t.Fatal("the refresh is not the fragment")
	}
	if got := doc.Find(`[data-testid="copilot-message"][data-from="user"]`).Text(); !strings.Contains(got, "Are you there?") {
		t.Fatalf("the user's new message is missing: %q", got)
	}
}

func TestCopilotWorkspaceRefusesAWrongOrMissingTokenAndShowsNothing(t *testing.T) {
	admin := newTestApp(t, nil)
	admin.signIn()
	e := handedOver(t, admin, "Secret Support Endpoint")
	other := admin.createEndpoint(withName(validEndpointForm(), "Other bot"))
	agent := newTestAppOn(t, admin)

	secrets := []string{"Secret Support Endpoint", "Janet", "Doeberg", "german", "C-4711", "My invoice is wrong", "billing", e.URLToken}
	for name, path := range map[string]string{
		"missing token":       copilotPath("user 1", "s&1", ""),
		"wrong token":         copilotPath("user 1", "s&1", strings.Repeat("0", len(e.CopilotToken))),
		"token one char off":  copilotPath("user 1", "s&1", e.CopilotToken[:len(e.CopilotToken)-1]+"x"),
		"the bot's URL token": copilotPath("user 1", "s&1", e.URLToken),
		"empty token":         "/copilot?userId=user+1&sessionId=s%261&URLToken=",
		"nothing":             "/copilot",
		"token with a suffix": copilotPath("user 1", "s&1", e.CopilotToken+"0"),
	} {
		for _, hx := range []bool{false, true} {
			headers := map[string]string{}
			if hx {
				headers["HX-Request"] = "true"
			}
			resp := agent.request(http.MethodGet, path, nil, headers)
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s (htmx %v): %d", name, hx, resp.StatusCode)
			}
			for _, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("%s (htmx %v): the 403 shows %q", name, hx, s)
				}
			}
		}
	}

	// Another endpoint's token opens that endpoint's workspace, which has no
	// handover of this user.
	doc := agent.document(agent.get(copilotPath("user 1", "s&1", other.CopilotToken)), http.StatusOK)
	if doc.Find(`[data-testid="copilot-no-handover"]`).Length() != 1 || strings.Contains(doc.Text(), "Janet") {
		t.Fatal("another endpoint's token shows this endpoint's handover")
	}
}

func TestOnlyTheCopilotWorkspaceMayBeFramedAndOnlyByGenesys(t *testing.T) {
	admin := newTestApp(t, nil)
	admin.signIn()
	e := handedOver(t, admin, "Support bot")
	agent := newTestAppOn(t, admin)

	for _, path := range []string{copilotPath("user 1", "s&1", e.CopilotToken), copilotPath("user 1", "s&1", "wrong")} {
		resp := agent.get(path)
		if xfo := resp.Header.Get("X-Frame-Options"); xfo != "" {
			t.Errorf("%s: X-Frame-Options %q", path, xfo)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"https://apps.mypurecloud.com", "https://apps.mypurecloud.de", "https://apps.cac1.pure.cloud", "https://apps.mypurecloud.com.au", "https://*.pure.cloud", "script-src 'self'", "style-src 'self'", "default-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "frame-ancestors 'none'") || strings.Count(csp, "frame-ancestors") != 1 || !strings.Contains(csp, "frame-ancestors https://apps.") {
			t.Errorf("%s: frame-ancestors in %q", path, csp)
		}
		if strings.Contains(csp, "*;") || strings.Contains(csp, "frame-ancestors *") {
			t.Errorf("%s: any origin may frame: %q", path, csp)
		}
	}

	// Every other page keeps refusing to be framed.
	for _, path := range []string{"/login", "/endpoints", "/chat/" + e.DemoToken} {
		resp := admin.get(path)
		if xfo := resp.Header.Get("X-Frame-Options"); xfo != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", path, xfo)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "pure.cloud") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
}

func TestDemoChatPageRendersForAValidTokenOnly(t *testing.T) {
	admin := newTestApp(t, nil)
	admin.signIn()
	form := validEndpointForm()
	form.Set("demoChat", "true")
	e := admin.createEndpoint(form)
	visitor := newTestAppOn(t, admin)

	resp := visitor.get("/chat/" + e.DemoToken)
	csp := resp.Header.Get("Content-Security-Policy")
	raw := readBody(t, resp)
	if resp.StatusCode != http.StatusOK || strings.Contains(raw, e.URLToken) {
		t.Fatalf("demo chat page: %d, or it holds the bot's URL token", resp.StatusCode)
	}
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(raw))
	page := doc.Find(`[data-testid="chat-page"]`)
	if api, _ := page.Attr("data-api"); api != "/chat/"+e.DemoToken+"/api" {
		t.Fatalf("data-api %q", api)
	}
	if key, _ := page.Attr("data-session-key"); len(key) < 40 {
		t.Fatalf("session key %q", key)
	}
	sid, _ := page.Attr("data-session-id")
	if len(sid) < 20 {
		t.Fatalf("session id %q is not random enough", sid)
	}
	again := visitor.document(visitor.get("/chat/"+e.DemoToken), http.StatusOK)
	if sid2, _ := again.Find(`[data-testid="chat-page"]`).Attr("data-session-id"); sid2 == sid {
		t.Fatal("two visits got the same session id")
	}
	if words, _ := page.Attr("data-agent-words"); words != relay.AgentRequestWords {
		t.Fatalf("agent words %q", words)
	}
	for _, id := range []string{"chat-transcript", "chat-input", "chat-send", "chat-talk-to-human", "chat-typing", "chat-leave", "chat-state"} {
		if doc.Find(`[data-testid="`+id+`"]`).Length() != 1 {
			t.Errorf("no %s", id)
		}
	}
	scripts := doc.Find("script")
	if scripts.Length() == 0 {
		t.Fatal("no chat script")
	}
	scriptOK := false
	scripts.Each(func(_ int, s *goquery.Selection) {
		src, ok := s.Attr("src")
		if !ok || strings.TrimSpace(s.Text()) != "" {
			t.Errorf("an inline script: %q", s.Text())
		}
		scriptOK = scriptOK || src == "/static/chat.js"
	})
	if !scriptOK {
		t.Fatal("the page does not load /static/chat.js")
	}
	if !strings.Contains(csp, "img-src 'self' data: https:") || !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("chat CSP %q", csp)
	}
	if js := visitor.get("/static/chat.js"); js.StatusCode != http.StatusOK || !strings.Contains(readBody(t, js), "EventSource") {
		t.Fatal("/static/chat.js is not served")
	}

	for _, path := range []string{"/chat/" + strings.Repeat("f", 64), "/chat/nope"} {
		resp := visitor.get(path)
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusNotFound || strings.Contains(body, e.Name) {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
}
