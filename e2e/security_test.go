package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handover-relay/handover/app"
	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/logging"
	"github.com/handover-relay/handover/paths"
	"github.com/handover-relay/handover/store"
)

// The console's security, proved over loopback against the real wiring as
// `go run .` starts it (sandbox mounted). The route table is read from the
// fiber app, so a route added later is covered without touching this file:
// it is public only if it is on the allow-list below. Sign-in throttling is
// covered by handlers/auth_test.go (TestTenFailedSignInsPerMinuteAreThrottled).

// Distinctive secrets, to be searched for in everything Handover shows or writes.
const (
	secAdminPassword = "ADMINPW-distinctive-5c1d0e"
	secAPIKey        = "APIKEY-distinctive-0a9e77c3"
	secMetricsToken  = "METRICS-distinctive-4b2f81"
	secWebhookSecret = "WHSECRET-distinctive-7f3a9c11"
	secClientSecret  = "CLSECRET-distinctive-b41e09"
	secQueueID       = "0f1e2d3c-4b5a-4978-8a7b-6c5d4e3f2a1b"
)

// fullServer is Handover started as in production, with its log captured.
type fullServer struct {
	t    *testing.T
	srv  *app.App
	base string
	logs *testkit.SyncBuffer
}

func startFull(t *testing.T) *fullServer { return startFullWith(t, nil) }

// startFullWith is startFull with more environment (feature flags).
func startFullWith(t *testing.T, extra map[string]string) *fullServer {
	t.Helper()
	addr := testkit.FreeAddr(t)
	env := map[string]string{
		"HANDOVER_ADDR": addr, "HANDOVER_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "handover.db"),
		"HANDOVER_ADMIN_PASSWORD": secAdminPassword, "HANDOVER_ADMIN_API_KEY": secAPIKey, "HANDOVER_METRICS_TOKEN": secMetricsToken,
		"HANDOVER_LOG_LEVEL": "debug",
	}
	maps.Copy(env, extra)
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	logger, err := logging.New(logs, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := app.New(ctx, cfg, logger, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("no shutdown within 20 s")
		}
	})
	f := &fullServer{t: t, srv: srv, base: "http://" + addr, logs: logs}
	testkit.WaitFor(t, 10*time.Second, "Handover ready", func() bool {
		resp, err := http.Get(f.base + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return f
}

// route is one method and path template of the route table.
type route struct{ method, template string }

// routeTable lists the app's routes (not its middleware), each once.
func (f *fullServer) routeTable() []route {
	var out []route
	seen := map[route]bool{}
	for _, r := range f.srv.Routes() {
		rt := route{r.Method, r.Path}
		if !seen[rt] {
			seen[rt] = true
			out = append(out, rt)
		}
	}
	if len(out) < 20 {
		f.t.Fatalf("only %d routes in the table: %v", len(out), out)
	}
	return out
}

// isPublic is the allow-list of routes that need no console session.
func isPublic(template string) bool {
	switch template {
	case "/login", "/healthz", "/readyz", "/metrics", "/copilot", "/api/openapi.json":
		return true
	}
	if strings.HasPrefix(template, "/sandbox/genesys/desk") {
		return false // the agent desk and its fault switches are the console's
	}
	for _, prefix := range []string{"/static/", "/handover/genesysCloudOM", "/sandbox/genesys/", "/copilot/", "/chat/", "/:token"} {
		if strings.HasPrefix(template, prefix) {
			return true
		}
	}
	return false
}

func isAPI(template string) bool { return strings.HasPrefix(template, "/api/") }

var routeParam = regexp.MustCompile(`:[A-Za-z0-9_]+\??|\*[0-9]*|\+[0-9]*`)

// fill puts values into a route template's parameters: ids by name where
// given, "1" otherwise.
func fill(template string, ids map[string]string) string {
	return routeParam.ReplaceAllStringFunc(template, func(p string) string {
		if v, ok := ids[strings.Trim(p, ":?")]; ok {
			return v
		}
		return "1"
	})
}

func isStream(template string) bool {
	return strings.HasSuffix(template, "/events") || strings.Contains(template, "/streaming/")
}

func isStateChange(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions && method != http.MethodTrace && method != http.MethodConnect
}

// noRedirects is a client that shows redirects instead of following them.
func noRedirects(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, client *http.Client, method, target string, body string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func TestEveryConsoleRouteSendsVisitorsWithoutASessionToSignIn(t *testing.T) {
	f := startFull(t)
	client := noRedirects(nil)
	console, api := 0, 0
	for _, r := range f.routeTable() {
		if isPublic(r.template) {
			continue
		}
		target := f.base + fill(r.template, nil)
		resp, body := do(t, client, r.method, target, "", nil)
		if isAPI(r.template) {
			api++
			if resp.StatusCode != http.StatusUnauthorized || (r.method != http.MethodHead && !strings.Contains(body, `"code":"unauthorized"`)) {
				t.Errorf("%s %s without an API key: %d %s, want 401", r.method, r.template, resp.StatusCode, body)
			}
			continue
		}
		console++
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("%s %s without a session: %d Location %q, want 303 to /login", r.method, r.template, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	t.Logf("%d console and %d admin API routes checked", console, api)
	if console < 15 || api < 5 {
		t.Fatalf("too few routes classified: %d console, %d API", console, api)
	}
}

func TestEveryConsoleStateChangeWithoutTheCSRFTokenIsForbidden(t *testing.T) {
	f := startFull(t)
	_, client := f.signIn()
	checked := 0
	for _, r := range f.routeTable() {
		if isPublic(r.template) || isAPI(r.template) || !isStateChange(r.method) {
			continue
		}
		target := f.base + fill(r.template, nil)
		for _, variant := range []struct {
			name    string
			body    string
			headers map[string]string
		}{
			{"no token", "name=x", nil},
			{"a wrong token", "name=x&_csrf=" + strings.Repeat("0", 64), map[string]string{"X-CSRF-Token": strings.Repeat("0", 64)}},
			{"an empty token", "name=x&_csrf=", nil},
		} {
			resp, _ := do(t, client, r.method, target, variant.body, variant.headers)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s with %s: %d, want 403", r.method, r.template, variant.name, resp.StatusCode)
			}
		}
		checked++
	}
	if checked < 8 {
		t.Fatalf("only %d state-changing console routes", checked)
	}
	// The session survived (POST /logout without a token did not sign out),
	// and with the token the same kind of request goes through: the 403s
	// were the CSRF check, not something else.
	token := f.csrfToken(client)
	resp, _ := do(t, client, http.MethodPost, f.base+"/settings/organisations", url.Values{"name": {"csrf-check"}, "_csrf": {token}}.Encode(), nil)
	if resp.StatusCode >= 400 {
		t.Fatalf("a state change with the token: %d", resp.StatusCode)
	}
}

// signIn signs in through the form and returns a client that does not follow redirects.
func (f *fullServer) signIn() (http.CookieJar, *http.Client) {
	f.t.Helper()
	jar, _ := cookiejar.New(nil)
	client := noRedirects(jar)
	_, page := do(f.t, client, http.MethodGet, f.base+"/login", "", nil)
	token := regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if token == nil {
		f.t.Fatalf("no CSRF token on the login page")
	}
	resp, _ := do(f.t, client, http.MethodPost, f.base+"/login", url.Values{"username": {"admin"}, "password": {secAdminPassword}, "_csrf": {token[1]}}.Encode(), nil)
	if resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("sign in: %d", resp.StatusCode)
	}
	return jar, client
}

// csrfToken reads the session's CSRF token from a console page.
func (f *fullServer) csrfToken(client *http.Client) string {
	f.t.Helper()
	_, page := do(f.t, client, http.MethodGet, f.base+"/endpoints/new", "", nil)
	m := regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		f.t.Fatalf("no CSRF token on /endpoints/new")
	}
	return m[1]
}

func TestEveryPageCarriesTheSecurityHeaders(t *testing.T) {
	f := startFull(t)
	_, client := f.signIn()
	anonymous := noRedirects(nil)
	e := f.createEndpoint(t)
	ids := map[string]string{"token": e.URLToken, "demo": e.demoToken()}
	checked := 0
	for _, r := range f.routeTable() {
		if r.method != http.MethodGet || isStream(r.template) {
			continue
		}
		c := anonymous
		if !isPublic(r.template) {
			c = client
		}
		path := fill(r.template, ids)
		if r.template == "/copilot" {
			path += "?URLToken=" + e.CopilotToken
		}
		if strings.HasPrefix(r.template, "/static/") {
			path = "/static/app.css"
		}
		resp, _ := do(t, c, http.MethodGet, f.base+path, "", nil)
		checkSecurityHeaders(t, r.template, resp.Header)
		checked++
	}
	t.Logf("%d GET routes checked", checked)
}

// isGenesysOrigin says whether a frame-ancestors source is a Genesys Cloud
// origin: https and a host under one of the regions' domains (or pure.cloud).
func isGenesysOrigin(source string) bool {
	host, ok := strings.CutPrefix(source, "https://")
	if !ok || strings.ContainsAny(host, "/:") {
		return false
	}
	for _, r := range genesys.Regions {
		if host == r.Domain || strings.HasSuffix(host, "."+r.Domain) {
			return true
		}
	}
	return strings.HasSuffix(host, ".pure.cloud")
}

func checkSecurityHeaders(t *testing.T, template string, h http.Header) {
	t.Helper()
	csp := parseCSP(h.Get("Content-Security-Policy"))
	script, ok := csp["script-src"]
	if !ok {
		script = csp["default-src"]
	}
	if len(script) == 0 || slices.Contains(script, "'unsafe-inline'") || slices.Contains(script, "'unsafe-eval'") || slices.Contains(script, "*") {
		t.Errorf("%s: script-src %q, want our own origin only", template, script)
	}
	if template == "/copilot" {
		// Only Genesys Cloud may frame the agents' Copilot workspace.
		if xfo := h.Get("X-Frame-Options"); xfo != "" {
			t.Errorf("/copilot: X-Frame-Options %q stops Genesys framing it", xfo)
		}
		ancestors := csp["frame-ancestors"]
		if len(ancestors) == 0 {
			t.Errorf("/copilot: no frame-ancestors: any site could frame it")
		}
		for _, a := range ancestors {
			if a != "'self'" && !isGenesysOrigin(a) {
				t.Errorf("/copilot: frame-ancestors allows %q, not a Genesys Cloud origin", a)
			}
		}
	} else {
		if h.Get("X-Frame-Options") != "DENY" || !slices.Equal(csp["frame-ancestors"], []string{"'none'"}) {
			t.Errorf("%s: X-Frame-Options %q, frame-ancestors %q; want DENY and 'none'", template, h.Get("X-Frame-Options"), csp["frame-ancestors"])
		}
	}
	if rp := h.Get("Referrer-Policy"); rp == "" || rp == "unsafe-url" || rp == "no-referrer-when-downgrade" {
		t.Errorf("%s: Referrer-Policy %q", template, rp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", template, h.Get("X-Content-Type-Options"))
	}
}

func parseCSP(header string) map[string][]string {
	out := map[string][]string{}
	for _, d := range strings.Split(header, ";") {
		fields := strings.Fields(d)
		if len(fields) > 0 {
			out[fields[0]] = fields[1:]
		}
	}
	return out
}

// createdEndpoint is what the admin API answered for a new endpoint.
type createdEndpoint struct {
	ID           int64  `json:"id"`
	URLToken     string `json:"urlToken"`
	CopilotToken string `json:"copilotToken"`
	DemoChatURL  string `json:"demoChatUrl"`
}

// demoToken is the token in the endpoint's demo chat link.
func (e createdEndpoint) demoToken() string {
	_, token, _ := strings.Cut(e.DemoChatURL, "/chat/")
	return token
}

// createEndpoint creates, through the admin API, an endpoint handing over to
// the mounted sandbox with the distinctive secrets, and sets the sandbox up for it.
func (f *fullServer) createEndpoint(t *testing.T) createdEndpoint {
	t.Helper()
	const clientID, deployment = "security-client", "security-deployment"
	f.srv.Sandbox.AddClient(clientID, secClientSecret)
	f.srv.Sandbox.AddQueue(secQueueID, "Security")
	f.srv.Sandbox.AddIntegration(deployment, f.srv.LocalURL+"/handover/genesysCloudOM", secWebhookSecret)
	body, _ := json.Marshal(map[string]any{
		"name": "Security", "host": f.srv.LocalURL + paths.Sandbox, "deploymentName": deployment, "queueId": secQueueID,
		"webhookSecret": secWebhookSecret, "clientId": clientID, "clientSecret": secClientSecret, "relayTyping": true, "demoChat": true,
	})
	status, answer := f.api(http.MethodPost, "/api/v1/admin/endpoints", body)
	if status != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", status, answer)
	}
	var e createdEndpoint
	if err := json.Unmarshal([]byte(answer), &e); err != nil || e.URLToken == "" || e.CopilotToken == "" || e.demoToken() == "" {
		t.Fatalf("create endpoint answer %s: %v", answer, err)
	}
	return e
}

// api calls the admin API with the seeded key.
func (f *fullServer) api(method, path string, body []byte) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.base+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestNoSecretShowsInAnyPageLogLineOrWebhookLogRow(t *testing.T) {
	f := startFull(t)
	ctx := context.Background()
	var (
		mu    sync.Mutex
		shown []string // every body Handover answered with
	)
	keep := func(what, body string) {
		mu.Lock()
		defer mu.Unlock()
		shown = append(shown, what+"\n"+body)
	}

	// The admin API: create, list, read, and send back what GET returned.
	e := f.createEndpoint(t)
	for _, path := range []string{"/api/v1/admin/endpoints", fmt.Sprintf("/api/v1/admin/endpoints/%d", e.ID)} {
		status, body := f.api(http.MethodGet, path, nil)
		if status != 200 {
			t.Fatalf("GET %s: %d", path, status)
		}
		keep("GET "+path, body)
	}
	_, one := f.api(http.MethodGet, fmt.Sprintf("/api/v1/admin/endpoints/%d", e.ID), nil)
	status, body := f.api(http.MethodPut, fmt.Sprintf("/api/v1/admin/endpoints/%d", e.ID), []byte(one))
	if status != 200 {
		t.Fatalf("PUT back what GET returned: %d %s", status, body)
	}
	keep("PUT", body)
	status, body = f.api(http.MethodPost, "/api/v1/admin/endpoints", []byte(`{"name":"Invalid","host":"mypurecloud.de","deploymentName":"x","queueId":"not-a-uuid","webhookSecret":"`+secWebhookSecret+`","clientId":"c","clientSecret":"`+secClientSecret+`"}`))
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid create: %d %s", status, body)
	}
	keep("POST invalid", body)

	// A handover with the agent's webhooks (signed with the webhook secret;
	// the OAuth token is fetched with the client secret), and a forged one.
	bot := noRedirects(nil)
	for _, call := range []struct{ path, body string }{
		{"/" + e.URLToken + "/handover", `{"userId":"u1","sessionId":"s1","profile":{"firstName":"Jane"}}`},
		{"/" + e.URLToken, `{"userId":"u1","sessionId":"s1","text":"my card number is on the invoice"}`},
	} {
		req, _ := http.NewRequest(http.MethodPost, f.base+call.path, strings.NewReader(call.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := bot.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST %s: %d %s", call.path, resp.StatusCode, data)
		}
		keep("POST "+call.path, string(data))
	}
	var conv store.Conversation
	testkit.WaitFor(t, 10*time.Second, "the Genesys conversation", func() bool {
		c, err := f.srv.Store.LatestConversation(ctx, e.ID, "s1")
		conv = c
		return err == nil && c.GenesysConversationID != ""
	})
	if err := f.srv.Sandbox.Accept(conv.GenesysConversationID, "Agent Smith"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.Sandbox.AgentSend(conv.GenesysConversationID, "How can I help?", ""); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the agent's message", func() bool {
		msgs, _ := f.srv.Store.ConversationMessages(ctx, conv.ID)
		for _, m := range msgs {
			if m.Direction == store.FromAgent {
				return true
			}
		}
		return false
	})
	forged := []byte(`{"id":"forged-1","channel":{"id":"x","to":{"id":"y"}},"type":"Text","text":"x"}`)
	req, _ := http.NewRequest(http.MethodPost, f.base+"/handover/genesysCloudOM", bytes.NewReader(forged))
	req.Header.Set(genesys.SignatureHeader, genesys.Sign("guess-"+secWebhookSecret[:8], forged))
	req.Header.Set("Authorization", "Bearer "+secAPIKey) // a header the log must mask
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}

	// Every console page, signed in, with real ids; and the endpoint form
	// sent with secrets and a mistake, which re-renders what was typed.
	_, client := f.signIn()
	var webhookID int64
	f.srv.Store.ForEachWebhook(ctx, func(w store.Webhook) { webhookID = w.ID })
	idsFor := func(template string) map[string]string {
		switch {
		case strings.HasPrefix(template, "/conversations/"):
			return map[string]string{"id": fmt.Sprint(conv.ID)}
		case strings.HasPrefix(template, "/webhooks/"):
			return map[string]string{"id": fmt.Sprint(webhookID)}
		}
		return map[string]string{"id": fmt.Sprint(e.ID), "token": e.URLToken, "demo": e.demoToken(), "session": "s1"}
	}
	pages := 0
	for _, r := range f.routeTable() {
		if r.method != http.MethodGet || isStream(r.template) || strings.HasPrefix(r.template, paths.Sandbox) {
			continue
		}
		path := fill(r.template, idsFor(r.template))
		if r.template == "/copilot" {
			path += "?URLToken=" + e.CopilotToken + "&sessionId=s1"
		}
		resp, body := do(t, client, http.MethodGet, f.base+path, "", nil)
		if resp.StatusCode >= 500 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		keep("GET "+path, body)
		pages++
	}
	token := f.csrfToken(client)
	form := url.Values{"_csrf": {token}, "name": {"Typed"}, "organisation": {"default"}, "provider": {store.ProviderGenesysCloudOM}, "host": {"mypurecloud.de"},
		"deploymentName": {"d"}, "queueId": {"not-a-uuid"}, "webhookSecret": {secWebhookSecret}, "clientId": {"c"}, "clientSecret": {secClientSecret}}
	for _, path := range []string{"/endpoints", fmt.Sprintf("/endpoints/%d", e.ID)} {
		resp, body := do(t, client, http.MethodPost, f.base+path, form.Encode(), nil)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("POST %s with a mistake: %d, want 422", path, resp.StatusCode)
		}
		keep("POST "+path, body)
	}
	t.Logf("%d console and public pages rendered", pages)

	secrets := map[string]string{"webhook secret": secWebhookSecret, "client secret": secClientSecret, "admin API key": secAPIKey,
		"admin password": secAdminPassword, "metrics token": secMetricsToken}
	for name, value := range secrets {
		for _, body := range shown {
			if strings.Contains(body, value) {
				what, _, _ := strings.Cut(body, "\n")
				t.Errorf("the %s shows in the answer to %s", name, what)
			}
		}
		if strings.Contains(f.logs.String(), value) {
			t.Errorf("the %s is in the log", name)
		}
		f.srv.Store.ForEachWebhook(ctx, func(w store.Webhook) {
			headers, _ := json.Marshal(w.Headers)
			if strings.Contains(string(headers), value) || strings.Contains(w.Body, value) || strings.Contains(w.VerdictDetail, value) {
				t.Errorf("the %s is in webhook log row %d", name, w.ID)
			}
		})
	}
	rows := 0
	f.srv.Store.ForEachWebhook(ctx, func(store.Webhook) { rows++ })
	if rows < 2 || !strings.Contains(f.logs.String(), "webhook rejected") {
		t.Fatalf("the exercise did not reach the webhook: %d rows", rows)
	}
}

func TestCopilotRefusesATokenThatDiffersInItsLastCharacter(t *testing.T) {
	f := startFull(t)
	e := f.createEndpoint(t)
	client := noRedirects(nil)
	get := func(token string) int {
		resp, _ := do(t, client, http.MethodGet, f.base+"/copilot?URLToken="+url.QueryEscape(token), "", nil)
		return resp.StatusCode
	}
	if status := get(e.CopilotToken); status != http.StatusOK {
		t.Fatalf("the right token: %d", status)
	}
	last := e.CopilotToken[len(e.CopilotToken)-1]
	other := byte('0')
	if last == '0' {
		other = '1'
	}
	for name, token := range map[string]string{
		"last character changed": e.CopilotToken[:len(e.CopilotToken)-1] + string(other),
		"last character dropped": e.CopilotToken[:len(e.CopilotToken)-1],
		"one character added":    e.CopilotToken + "0",
		"upper case":             strings.ToUpper(e.CopilotToken),
		"trailing space":         e.CopilotToken + " ",
		"empty":                  "",
	} {
		if status := get(token); status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, status)
		}
	}
}

// docs/security.md names every public route with its credential and limits:
// the route table is the list, so a new public route without its line fails.
func TestEveryPublicRouteIsInTheSecurityDocument(t *testing.T) {
	f := startFull(t)
	doc, err := os.ReadFile("../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, r := range f.routeTable() {
		if !isPublic(r.template) || r.method == http.MethodHead {
			continue
		}
		name := "`" + r.method + " " + r.template + "`"
		if strings.HasPrefix(r.template, paths.Sandbox+"/") {
			// The sandbox's Genesys API is listed once, as Genesys's.
			name = "`" + paths.Sandbox + "/…`"
		}
		if !strings.Contains(string(doc), name) {
			t.Errorf("docs/security.md does not list %s", name)
		}
		checked++
	}
	if checked < 15 {
		t.Fatalf("only %d public routes checked", checked)
	}
}
