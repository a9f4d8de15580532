package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/handover-relay/handover/handlers"
	"github.com/handover-relay/handover/store"
)

func TestCopilotURLQueryEscapesEveryID(t *testing.T) {
	const token = "0123abcd"
	tests := []struct {
		name, base, userID, sessionID string
		wantPrefix                    string // the URL up to the query
		wantRaw                       []string
	}{
		{"plain", "https://copilot.example.com", "u1", "s1", "https://copilot.example.com/?", []string{"userId=u1&sessionId=s1&URLToken=0123abcd"}},
		{"spaces", "https://copilot.example.com", "Jane Doe", "session one", "https://copilot.example.com/?", []string{"userId=Jane%20Doe", "sessionId=session%20one"}},
		{"ampersand and equals", "https://copilot.example.com", "a&b=c", "x&URLToken=evil", "https://copilot.example.com/?", []string{"userId=a%26b%3Dc", "sessionId=x%26URLToken%3Devil&URLToken=0123abcd"}},
		{"hash and question mark", "https://copilot.example.com/", "#frag?", "s#1", "https://copilot.example.com/?", []string{"userId=%23frag%3F", "sessionId=s%231"}},
		{"unicode", "https://copilot.example.com", "Jürgen 日本", "séance", "https://copilot.example.com/?", []string{"userId=J%C3%BCrgen%20%E6%97%A5%E6%9C%AC", "sessionId=s%C3%A9ance"}},
		{"plus and percent", "https://copilot.example.com", "a+b%20", "100%", "https://copilot.example.com/?", []string{"userId=a%2Bb%2520", "sessionId=100%25"}},
		{"base with a path keeps it", "https://handover.example.com/copilot", "u1", "s1", "https://handover.example.com/copilot?", nil},
		{"no session id", "https://copilot.example.com", "u1", "", "https://copilot.example.com/?", []string{"userId=u1&URLToken=0123abcd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := handlers.CopilotURL(tt.base, tt.userID, tt.sessionID, token)
			if !strings.HasPrefix(got, tt.wantPrefix) {
				t.Fatalf("%s does not start with %s", got, tt.wantPrefix)
			}
			for _, raw := range tt.wantRaw {
				if !strings.Contains(got, raw) {
					t.Errorf("%s lacks %s", got, raw)
				}
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			if u.Fragment != "" {
				t.Errorf("a # leaked into the fragment: %q", u.Fragment)
			}
			q := u.Query()
			if q.Get("userId") != tt.userID || q.Get("sessionId") != tt.sessionID || q.Get("URLToken") != token || len(q["URLToken"]) != 1 {
				t.Fatalf("%s reads back as %v", got, q)
			}
			if tt.sessionID == "" && q.Has("sessionId") {
				t.Errorf("an empty session id is sent: %s", got)
			}
		})
	}
}

func TestCopilotEmbeddingURLKeepsTheScriptPlaceholder(t *testing.T) {
	got := handlers.CopilotEmbeddingURL("https://copilot.example.com", "tok en")
	if got != "https://copilot.example.com/?userId={{userId}}&URLToken=tok%20en" {
		t.Fatalf("embedding URL %s", got)
	}
}

// createEndpoint saves an endpoint through the console form and returns it.
func (a *testApp) createEndpoint(form url.Values) store.Endpoint {
	a.t.Helper()
	resp := a.postForm("/endpoints", form)
	if resp.StatusCode != http.StatusSeeOther {
		a.t.Fatalf("create: %d: %s", resp.StatusCode, readBody(a.t, resp))
	}
	endpoints, err := a.store.ListEndpoints(context.Background())
	if err != nil {
		a.t.Fatal(err)
	}
	for _, e := range endpoints {
		if e.Name == form.Get("name") {
			return e
		}
	}
	a.t.Fatalf("endpoint %q not saved", form.Get("name"))
	return store.Endpoint{}
}

func endpointPath(e store.Endpoint) string { return "/endpoints/" + strconv.FormatInt(e.ID, 10) }

func TestEndpointPageShowsChatCopilotSetupAndPreflightSections(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	form := validEndpointForm()
	form.Set("attributeName.language", "customerLanguage")
	e := a.createEndpoint(form)

	for _, hx := range []bool{false, true} {
		headers := map[string]string{}
		if hx {
			headers["HX-Request"] = "true"
		}
		resp := a.request(http.MethodGet, endpointPath(e), nil, headers)
		doc := a.document(resp, http.StatusOK)
		if hasLayout := doc.Find("html head title").Length() > 0; hasLayout == hx {
			t.Fatalf("HX-Request %v: full layout %v", hx, hasLayout)
		}

		// The demo chat is off for a new endpoint: no link.
		if doc.Find(`[data-testid="open-demo-chat"]`).Length() != 0 || doc.Find(`[data-testid="demo-chat-off"]`).Length() != 1 {
			t.Error("a new endpoint offers a demo chat link")
		}

		embed := doc.Find(`[data-testid="copilot-embedding-url"]`).Text()
		if embed != publicURL+"/copilot?userId={{userId}}&URLToken="+e.CopilotToken {
			t.Errorf("embedding URL %q", embed)
		}
		if doc.Find(`[data-testid="copilot-script-steps"] li`).Length() < 5 {
			t.Error("the script and screen pop steps are missing")
		}
		if doc.Find(`[data-testid="copilot-url-form"] input[name="userId"]`).Length() != 1 {
			t.Error("no user id field for the standalone URL")
		}

		setup := doc.Find(`[data-testid="setup-assistant"]`)
		if got := setup.Find(`[data-testid="setup-webhook-url"]`).Text(); got != publicURL+"/handover/genesysCloudOM" {
			t.Errorf("setup webhook URL %q", got)
		}
		if got := setup.Find(`[data-testid="setup-deployment-name"]`).Text(); got != "bot-relay-prod" {
			t.Errorf("setup deployment name %q", got)
		}
		if got := setup.Find(`[data-testid="setup-queue-id"]`).Text(); got != queueID {
			t.Errorf("setup queue id %q", got)
		}
		if secret := setup.Find(`[data-testid="setup-suggested-secret"]`).Text(); len(secret) <= 15 {
			t.Errorf("suggested secret %q is not longer than 15 characters", secret)
		}
		if strings.Contains(setup.Text(), webhookSecret) || strings.Contains(setup.Text(), clientSecret) {
			t.Error("the setup assistant shows a stored secret")
		}
		attrs := map[string]string{}
		setup.Find(`[data-testid="setup-attribute"]`).Each(func(_ int, s *goquery.Selection) {
			key, _ := s.Attr("data-key")
			attrs[key] = s.Find("code").First().Text()
		})
		for key, want := range map[string]string{"queueId": "queueId", "language": "customerLanguage", "skills": "mySkills", "userId": "userId"} {
			if attrs[key] != want {
				t.Errorf("Get Participant Data %s reads %q, want %q", key, attrs[key], want)
			}
		}
		var perms []string
		setup.Find(`[data-testid="setup-permissions"] code`).Each(func(_ int, s *goquery.Selection) { perms = append(perms, s.Text()) })
		if strings.Join(perms, " ") != strings.Join(handlers.RequiredPermissions, " ") || len(perms) != 9 {
			t.Errorf("permissions %v", perms)
		}
		for _, step := range []string{"configuration", "integration", "queue", "flow", "routing", "events", "oauth"} {
			if setup.Find(`[data-testid="setup-step-`+step+`"]`).Length() != 1 {
				t.Errorf("setup step %s missing", step)
			}
		}

		pre := doc.Find(`[data-testid="preflight"]`)
		if pre.Find(`[data-testid="preflight-never"]`).Length() != 1 {
			t.Error("a fresh endpoint shows a pre-flight result")
		}
		button := pre.Find(`[data-testid="test-connection"]`)
		formSel := button.Closest("form")
		if method, _ := formSel.Attr("method"); method != "post" {
			t.Errorf("Test connection is not a POST form")
		}
		if token, _ := formSel.Find(`input[name="_csrf"]`).Attr("value"); token != a.csrf {
			t.Errorf("Test connection form carries CSRF %q", token)
		}
	}

	// A new endpoint's form has the Copilot field but no tool sections.
	doc := a.document(a.get("/endpoints/new"), http.StatusOK)
	if doc.Find(`input[name="copilotBaseUrl"]`).Length() != 1 || doc.Find(`[data-testid="setup-assistant"]`).Length() != 0 {
		t.Fatal("new endpoint page: wrong sections")
	}
}

func TestStandaloneCopilotURLIsRenderedForTheGivenIDs(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	form := validEndpointForm()
	form.Set("copilotBaseUrl", "https://copilot.example.com")
	e := a.createEndpoint(form)
	if e.CopilotBaseURL != "https://copilot.example.com" {
		t.Fatalf("stored Copilot base %q", e.CopilotBaseURL)
	}
	q := url.Values{"userId": {"Jane & Joe #1"}, "sessionId": {"s 1"}}
	want := handlers.CopilotURL("https://copilot.example.com", "Jane & Joe #1", "s 1", e.CopilotToken)

	resp := a.request(http.MethodGet, endpointPath(e)+"/copilot-url?"+q.Encode(), nil, map[string]string{"HX-Request": "true"})
	doc := a.document(resp, http.StatusOK)
	if doc.Find(`[data-testid="endpoint-form"]`).Length() != 0 {
		t.Fatal("the htmx answer is more than the fragment")
	}
	if got := doc.Find(`[data-testid="copilot-standalone-url"]`).Text(); got != want {
		t.Fatalf("standalone URL %q, want %q", got, want)
	}
	if got, _ := doc.Find(`[data-testid="copy-copilot-standalone-url"]`).Attr("data-copy"); got != "#copilot-standalone-url" {
		t.Fatalf("copy button copies %q", got)
	}

	// Without htmx the form goes to the endpoint page, which shows the same URL.
	resp = a.get(endpointPath(e) + "/copilot-url?" + q.Encode())
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("plain GET: %d", resp.StatusCode)
	}
	doc = a.document(a.get(resp.Header.Get("Location")), http.StatusOK)
	if got := doc.Find(`[data-testid="copilot-standalone-url"]`).Text(); got != want {
		t.Fatalf("page shows %q, want %q", got, want)
	}
	if got := doc.Find(`[data-testid="copilot-embedding-url"]`).Text(); got != "https://copilot.example.com/?userId={{userId}}&URLToken="+e.CopilotToken {
		t.Fatalf("embedding URL %q", got)
	}
}

func TestCopilotBaseURLMustBeHTTPSOrLoopback(t *testing.T) {
	a := newAPITestApp(t, nil)
	a.signIn()
	for _, tt := range []struct {
		value string
		ok    bool
	}{
		{"https://copilot.example.com/app", true},
		{"http://localhost:3000", true},
		{"http://127.0.0.1:3000/x", true},
		{"", true},
		{"http://copilot.example.com", false},
		{"ftp://copilot.example.com", false},
		{"copilot.example.com", false},
		{"https://copilot.example.com/?tenant=1", false},
		{"https://copilot.example.com/#x", false},
	} {
		form := validEndpointForm()
		form.Set("name", "bot "+tt.value)
		form.Set("copilotBaseUrl", tt.value)
		resp := a.postFormRaw("/endpoints", withCSRF(form, a.csrf), map[string]string{"HX-Request": "true"})
		if tt.ok {
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("%q refused: %d", tt.value, resp.StatusCode)
			}
			continue
		}
		doc := a.document(resp, http.StatusUnprocessableEntity)
		if doc.Find(`[data-testid="error-copilotBaseUrl"]`).Length() != 1 {
			t.Errorf("%q: no error next to the field", tt.value)
		}
		if v, _ := doc.Find(`input[name="copilotBaseUrl"]`).Attr("value"); v != tt.value {
			t.Errorf("%q: the form shows %q", tt.value, v)
		}
	}

	// The API field, with the same rule.
	resp, body := a.api(http.MethodPost, "/api/v1/admin/endpoints", seededKey, strings.Replace(apiEndpointBody, `"name":"Support bot"`, `"name":"API bot","copilotBaseUrl":"https://copilot.example.com"`, 1))
	if resp.StatusCode != http.StatusCreated || body["copilotBaseUrl"] != "https://copilot.example.com" {
		t.Fatalf("create with copilotBaseUrl: %d %v", resp.StatusCode, body)
	}
	id := strconv.FormatFloat(body["id"].(float64), 'f', 0, 64)
	resp, body = a.api(http.MethodPut, "/api/v1/admin/endpoints/"+id, seededKey, `{"copilotBaseUrl":"http://copilot.example.com"}`)
	if resp.StatusCode != http.StatusUnprocessableEntity || body["error"].(map[string]any)["fields"].(map[string]any)["copilotBaseUrl"] == nil {
		t.Fatalf("insecure copilotBaseUrl: %d %v", resp.StatusCode, body)
	}
	resp, body = a.api(http.MethodPut, "/api/v1/admin/endpoints/"+id, seededKey, `{"name":"API bot renamed"}`)
	if resp.StatusCode != http.StatusOK || body["copilotBaseUrl"] != "https://copilot.example.com" {
		t.Fatalf("a PUT without the field keeps it: %d %v", resp.StatusCode, body)
	}
}

func TestPreflightRunsShowsFailuresWithFixesAndIsKept(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	form := validEndpointForm()
	form.Set("host", "http://127.0.0.1:1") // nothing listens: the token check fails at once
	e := a.createEndpoint(form)

	// Without the CSRF token nothing runs.
	resp := a.postFormRaw(endpointPath(e)+"/preflight", url.Values{}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", resp.StatusCode)
	}

	resp = a.postFormRaw(endpointPath(e)+"/preflight", withCSRF(url.Values{}, a.csrf), map[string]string{"HX-Request": "true"})
	doc := a.document(resp, http.StatusOK)
	if doc.Find(`[data-testid="endpoint-form"]`).Length() != 0 || doc.Find(`#preflight`).Length() != 1 {
		t.Fatal("htmx gets the pre-flight section alone")
	}
	status := map[string]string{}
	fixes := map[string]string{}
	doc.Find(`[data-testid="preflight-check"]`).Each(func(_ int, s *goquery.Selection) {
		key, _ := s.Attr("data-check")
		status[key], _ = s.Attr("data-status")
		fixes[key] = s.Find(`[data-testid="preflight-fix"]`).Text()
	})
	want := map[string]string{"token": "fail", "deployment": "skip", "webhook_url": "skip", "webhook_secret": "pass", "queue_id": "pass", "queue_topic": "skip", "availability": "skip"}
	for key, st := range want {
		if status[key] != st {
			t.Errorf("check %s: %q, want %q", key, status[key], st)
		}
	}
	if len(status) != len(want) {
		t.Errorf("checks %v", status)
	}
	if !strings.Contains(fixes["token"], "could not reach") || !strings.Contains(fixes["token"], "127.0.0.1:1") {
		t.Errorf("token fix %q", fixes["token"])
	}
	if passed, _ := doc.Find(`[data-testid="preflight-summary"]`).Attr("data-passed"); passed != "false" {
		t.Errorf("summary passed=%q", passed)
	}

	// Kept: the page shows the latest run, and a plain form post comes back to it.
	resp = a.postForm(endpointPath(e)+"/preflight", url.Values{})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != endpointPath(e)+"#preflight" {
		t.Fatalf("plain post: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	latest, err := a.store.LatestPreflightResult(context.Background(), e.ID)
	if err != nil || len(latest.Results) != 7 || latest.Passed() {
		t.Fatalf("kept result %+v, %v", latest, err)
	}
	if n, _ := a.store.PreflightResultCount(context.Background(), e.ID); n != 2 {
		t.Fatalf("%d runs kept, want 2", n)
	}
	doc = a.document(a.get(endpointPath(e)), http.StatusOK)
	if doc.Find(`[data-testid="preflight-check"][data-check="token"][data-status="fail"]`).Length() != 1 {
		t.Fatal("the endpoint page does not show the latest run")
	}
}
