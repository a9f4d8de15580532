package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/handlers"
	"github.com/handover-relay/handover/store"
)

func TestSignInWithTheRightPasswordOpensTheConsole(t *testing.T) {
	a := newTestApp(t, nil)
	resp := a.tryLogin(adminUser, adminPassword)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign in: %d to %q, want 303 to the dashboard", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "handover_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || !session.Secure {
		t.Fatalf("session cookie = %+v; want HttpOnly, SameSite=Lax, Secure (public URL is https)", session)
	}
	doc := a.document(a.get("/endpoints"), http.StatusOK)
	if got := doc.Find(`[data-testid="signed-in-as"]`).Text(); got != adminUser {
		t.Fatalf("signed in as %q", got)
	}
}

func TestSessionCookieIsNotSecureOnPlainHTTP(t *testing.T) {
	a := newTestApp(t, map[string]string{"HANDOVER_PUBLIC_URL": "http://localhost:8080"})
	for _, c := range a.tryLogin(adminUser, adminPassword).Cookies() {
		if c.Name == "handover_session" && c.Secure {
			t.Fatal("Secure cookie on plain http would never be sent back")
		}
	}
}

func TestSignInWithAWrongPasswordIsRefused(t *testing.T) {
	a := newTestApp(t, nil)
	for _, creds := range [][2]string{{adminUser, "wrong"}, {"nobody", adminPassword}} {
		resp := a.tryLogin(creds[0], creds[1])
		doc := a.document(resp, http.StatusUnauthorized)
		if !strings.Contains(doc.Find(`[data-testid="login-error"]`).Text(), "wrong") {
			t.Fatalf("%v: no error shown", creds)
		}
		if _, ok := a.cookies["handover_session"]; ok {
			t.Fatalf("%v: a session cookie was set", creds)
		}
	}
	if resp := a.get("/endpoints"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("console after failed sign-in: %d, want redirect", resp.StatusCode)
	}
	if !strings.Contains(a.logs.String(), "sign-in failed") {
		t.Fatal("failed sign-in not logged")
	}
}

func TestTenFailedSignInsPerMinuteAreThrottled(t *testing.T) {
	a := newTestApp(t, nil)
	for i := 0; i < 10; i++ {
		if resp := a.tryLogin(adminUser, "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp := a.tryLogin(adminUser, adminPassword)
	doc := a.document(resp, http.StatusTooManyRequests)
	if !strings.Contains(doc.Find(`[data-testid="login-error"]`).Text(), "Too many failed sign-in attempts") {
		t.Fatal("throttled sign-in does not say why")
	}
	if _, ok := a.cookies["handover_session"]; ok {
		t.Fatal("throttled sign-in still opened a session")
	}
}

func TestSuccessfulSignInsAreNotThrottled(t *testing.T) {
	a := newTestApp(t, nil)
	for i := 0; i < 12; i++ {
		if resp := a.tryLogin(adminUser, adminPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in %d: %d, want 303", i+1, resp.StatusCode)
		}
		delete(a.cookies, "handover_session")
	}
}

func TestSignInFormWithoutItsCSRFTokenIsRejected(t *testing.T) {
	a := newTestApp(t, nil)
	a.get("/login")
	resp := a.postFormRaw("/login", url.Values{"username": {adminUser}, "password": {adminPassword}, "_csrf": {"forged"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forged login token: %d, want 403", resp.StatusCode)
	}
	if _, ok := a.cookies["handover_session"]; ok {
		t.Fatal("a session was opened")
	}
}

func TestConsolePagesSendVisitorsWithoutSessionToSignIn(t *testing.T) {
	a := newTestApp(t, nil)
	for _, path := range []string{"/", "/endpoints", "/endpoints/new", "/endpoints/1", "/settings", "/apikeys"} {
		resp := a.get(path)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape(path) {
			t.Errorf("GET %s: %d to %q, want 303 to the sign-in page", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp := a.request(http.MethodGet, "/endpoints", nil, map[string]string{"HX-Request": "true"})
	if resp.Header.Get("HX-Redirect") != "/login?next=%2Fendpoints" {
		t.Errorf("htmx request without session: HX-Redirect %q", resp.Header.Get("HX-Redirect"))
	}
	if resp := a.postFormRaw("/endpoints", url.Values{"name": {"x"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("POST without session: %d, want redirect", resp.StatusCode)
	}
}

func TestSignInReturnsToThePageAskedFor(t *testing.T) {
	a := newTestApp(t, nil)
	doc := a.document(a.get("/login?next=%2Fsettings"), http.StatusOK)
	token, _ := doc.Find(`input[name="_csrf"]`).Attr("value")
	next, _ := doc.Find(`input[name="next"]`).Attr("value")
	resp := a.postFormRaw("/login", url.Values{"username": {adminUser}, "password": {adminPassword}, "_csrf": {token}, "next": {next}}, nil)
	if resp.Header.Get("Location") != "/settings" {
		t.Fatalf("redirected to %q, want /settings", resp.Header.Get("Location"))
	}
	a2 := newTestApp(t, nil)
	a2.get("/login")
	resp = a2.postFormRaw("/login", url.Values{"username": {adminUser}, "password": {adminPassword}, "_csrf": {a2.cookies["handover_login_csrf"]}, "next": {"//evil.example.com"}}, nil)
	if resp.Header.Get("Location") != "/" {
		t.Fatalf("off-site next redirected to %q", resp.Header.Get("Location"))
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	cookie := a.cookies["handover_session"]
	if resp := a.postForm("/logout", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	a.cookies["handover_session"] = cookie // a stolen copy of the cookie must not work either
	if resp := a.get("/endpoints"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d, want redirect to sign-in", resp.StatusCode)
	}
}

func TestSessionsSurviveARestart(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	restarted := newTestAppOn(t, a) // same database, new app
	restarted.cookies = a.cookies
	if resp := restarted.get("/endpoints"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after restart: %d, want the console", resp.StatusCode)
	}
}

func TestStateChangesWithoutTheCSRFTokenAreRejected(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	form := validEndpointForm()
	for name, token := range map[string]string{"missing": "", "forged": strings.Repeat("ab", 32)} {
		form.Set("_csrf", token)
		resp := a.postFormRaw("/endpoints", form, nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s token: %d, want 403", name, resp.StatusCode)
		}
		if !strings.Contains(readBody(t, resp), "Reload the page") {
			t.Fatalf("%s token: the page does not say what to do", name)
		}
	}
	if endpoints, _ := a.store.ListEndpoints(context.Background()); len(endpoints) != 0 {
		t.Fatalf("an endpoint was saved without a CSRF token: %+v", endpoints)
	}
	// The header htmx sends is accepted in place of the form field.
	form.Del("_csrf")
	resp := a.postFormRaw("/endpoints", form, map[string]string{"X-CSRF-Token": a.csrf, "HX-Request": "true"})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("HX-Redirect") == "" {
		t.Fatalf("htmx post with header token: %d", resp.StatusCode)
	}
}

func TestEnsureAdminCreatesOnceAndNeverResets(t *testing.T) {
	a := newTestApp(t, nil)
	created, generated, err := handlers.EnsureAdmin(context.Background(), a.store, adminUser, "another password")
	if err != nil || created || generated != "" {
		t.Fatalf("second EnsureAdmin: created=%v generated=%q err=%v", created, generated, err)
	}
	if resp := a.tryLogin(adminUser, adminPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatal("the first password stopped working")
	}
	a.cookies = map[string]string{}
	created, generated, err = handlers.EnsureAdmin(context.Background(), a.store, "ops", "")
	if err != nil || !created || len(generated) < 16 {
		t.Fatalf("generated password %q, created=%v, err=%v", generated, created, err)
	}
	if resp := a.tryLogin("ops", generated); resp.StatusCode != http.StatusSeeOther {
		t.Fatal("the generated password does not sign in")
	}
}

func TestAConsoleSessionUnusedForTheIdleTimeoutSendsTheAdminToSignIn(t *testing.T) {
	now := time.Now().UTC()
	a := newTestAppWith(t, map[string]string{"HANDOVER_SESSION_IDLE_TIMEOUT": "1h"}, store.Options{Now: func() time.Time { return now }})
	a.signIn()
	// Each use within the hour keeps the session alive, past an hour since sign-in.
	for range 3 {
		now = now.Add(50 * time.Minute)
		if resp := a.get("/endpoints"); resp.StatusCode != http.StatusOK {
			t.Fatalf("used after 50 minutes: %d, want the console", resp.StatusCode)
		}
	}
	now = now.Add(61 * time.Minute)
	resp := a.get("/endpoints")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("unused for 61 minutes: %d to %q, want the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
	}
}
