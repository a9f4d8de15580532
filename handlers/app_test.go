package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/gofiber/fiber/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/handlers"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
	"github.com/handover-relay/handover/web"
)

const (
	adminUser     = "admin"
	adminPassword = "correct horse battery staple"
	publicURL     = "https://handover.example.com"
)

// testApp is the real fiber app on a real temporary SQLite database, with a
// cookie jar so a test can act as one browser.
type testApp struct {
	t       *testing.T
	app     *fiber.App
	store   *store.Store
	cfg     config.Config
	cookies map[string]string
	csrf    string // the session's CSRF token, once signed in
	logs    *strings.Builder
	relay   *relay.Relay
}

// newTestApp builds the app from an environment; env entries override the defaults.
func newTestApp(t *testing.T, env map[string]string) *testApp {
	t.Helper()
	return newTestAppWith(t, env, store.Options{})
}

// newTestAppWith is newTestApp on a store opened with opts (a pinned clock).
func newTestAppWith(t *testing.T, env map[string]string, opts store.Options) *testApp {
	t.Helper()
	base := map[string]string{"HANDOVER_PUBLIC_URL": publicURL, "HANDOVER_SECRET_KEY": strings.Repeat("07", 32)}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := config.Load(func(k string) string { return base[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	st := storetest.NewOf(t, store.SQLite, opts)
	// The cheapest bcrypt cost keeps the many sign-ins of these tests fast under -race.
	hash, _ := bcrypt.GenerateFromPassword([]byte(adminPassword), bcrypt.MinCost)
	if _, err := st.CreateAdmin(context.Background(), adminUser, string(hash)); err != nil {
		t.Fatal(err)
	}
	logs := &strings.Builder{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The relay is built but not run: handler tests see what requests store
	// and queue; the end-to-end tests in package main run it.
	// Bot webhooks reach the tests' receivers on loopback.
	rel := relay.New(relay.Config{Store: st, Logger: logger, WebhookStatus: handlers.WebhookStatus,
		BotWebhookClient: genesys.NewHTTPClientWith(genesys.HTTPOptions{AllowPrivate: true})})
	return &testApp{t: t, app: web.New(web.Deps{Config: cfg, Store: st, Logger: logger, Relay: rel}), store: st, cfg: cfg, cookies: map[string]string{}, logs: logs, relay: rel}
}

// request sends one request with the jar's cookies and keeps the cookies it sets.
func (a *testApp) request(method, path string, body io.Reader, headers map[string]string) *http.Response {
	a.t.Helper()
	req := httptest.NewRequest(method, path, body)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	for name, value := range a.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	resp, err := a.app.Test(req, -1)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" || (!c.Expires.IsZero() && c.Expires.Unix() <= 0) {
			delete(a.cookies, c.Name)
		} else {
			a.cookies[c.Name] = c.Value
		}
	}
	a.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (a *testApp) get(path string) *http.Response {
	a.t.Helper()
	return a.request(http.MethodGet, path, nil, nil)
}

// postForm posts a form with the session's CSRF token added.
func (a *testApp) postForm(path string, form url.Values) *http.Response {
	a.t.Helper()
	return a.postFormRaw(path, withCSRF(form, a.csrf), nil)
}

func (a *testApp) postFormRaw(path string, form url.Values, headers map[string]string) *http.Response {
	a.t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range headers {
		h[k] = v
	}
	return a.request(http.MethodPost, path, strings.NewReader(form.Encode()), h)
}

func withCSRF(form url.Values, token string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = v
	}
	out.Set("_csrf", token)
	return out
}

// signIn signs in as the admin through the login form, as a browser would.
func (a *testApp) signIn() {
	a.t.Helper()
	resp := a.tryLogin(adminUser, adminPassword)
	if resp.StatusCode != http.StatusSeeOther {
		a.t.Fatalf("sign in: status %d, want 303", resp.StatusCode)
	}
	doc := a.document(a.get("/endpoints"), http.StatusOK)
	token, ok := doc.Find(`input[name="_csrf"]`).First().Attr("value")
	if !ok || token == "" {
		a.t.Fatal("signed-in page has no CSRF token")
	}
	a.csrf = token
}

// tryLogin fetches the login form (for its CSRF cookie and token) and posts credentials.
func (a *testApp) tryLogin(user, password string) *http.Response {
	a.t.Helper()
	doc := a.document(a.get("/login"), http.StatusOK)
	token, _ := doc.Find(`input[name="_csrf"]`).Attr("value")
	return a.postFormRaw("/login", url.Values{"username": {user}, "password": {password}, "_csrf": {token}}, nil)
}

// document checks the status and parses the HTML body.
func (a *testApp) document(resp *http.Response, wantStatus int) *goquery.Document {
	a.t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		a.t.Fatalf("status %d, want %d; body:\n%s", resp.StatusCode, wantStatus, truncate(string(body)))
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
	if err != nil {
		a.t.Fatal(err)
	}
	return doc
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func truncate(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

// newTestAppOn builds a second app on the same database and configuration, as a
// restart (or another instance) would.
func newTestAppOn(t *testing.T, a *testApp) *testApp {
	t.Helper()
	logs := &strings.Builder{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	return &testApp{t: t, app: web.New(web.Deps{Config: a.cfg, Store: a.store, Logger: logger, Relay: a.relay}), store: a.store, cfg: a.cfg, cookies: map[string]string{}, logs: logs, relay: a.relay}
}
