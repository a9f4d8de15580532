package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const newPassword = "a much longer new passphrase"

// anotherBrowser is a second cookie jar on the same app.
func (a *testApp) anotherBrowser() *testApp {
	b := *a
	b.cookies, b.csrf = map[string]string{}, ""
	return &b
}

func passwordForm(current, next, confirm string) url.Values {
	return url.Values{"currentPassword": {current}, "newPassword": {next}, "confirmPassword": {confirm}}
}

func TestTheAccountPageIsLinkedAndLabelsItsFields(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	if href, _ := a.document(a.get("/settings"), http.StatusOK).Find(`[data-testid="account-link"]`).Attr("href"); href != "/settings/account" {
		t.Fatalf("the settings page links %q, want /settings/account", href)
	}
	doc := a.document(a.get("/settings/account"), http.StatusOK)
	for _, id := range []string{"current-password", "new-password", "confirm-password"} {
		if doc.Find(`label[for="`+id+`"]`).Length() != 1 || doc.Find(`input#`+id+`[type="password"]`).Length() != 1 {
			t.Errorf("field %s has no label or is not a password input", id)
		}
	}
	if doc.Find(`[data-testid="sign-out-everywhere-form"] input[name="_csrf"]`).Length() != 1 || doc.Find(`[data-testid="change-password"] input[name="_csrf"]`).Length() != 1 {
		t.Fatal("a form of the account page has no CSRF token")
	}
}

func TestAPasswordChangeNeedsTheCurrentPasswordAndTwelveCharacters(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	cases := []struct {
		name  string
		form  url.Values
		field string
		says  string
	}{
		{"a wrong current password", passwordForm("wrong", newPassword, newPassword), "currentPassword", "not your current password"},
		{"a new password of 11 characters", passwordForm(adminPassword, "elevenchars", "elevenchars"), "newPassword", "at least 12 characters"},
		{"a confirmation that differs", passwordForm(adminPassword, newPassword, newPassword+"!"), "confirmPassword", "not the same"},
		{"the current password again", passwordForm(adminPassword, adminPassword, adminPassword), "newPassword", "other than the current one"},
	}
	for _, c := range cases {
		for _, htmx := range []bool{false, true} {
			headers := map[string]string{}
			if htmx {
				headers["HX-Request"] = "true"
			}
			doc := a.document(a.postFormRaw("/settings/account/password", withCSRF(c.form, a.csrf), headers), http.StatusUnprocessableEntity)
			msg := doc.Find(`[data-testid="error-` + c.field + `"]`)
			if !strings.Contains(msg.Text(), c.says) {
				t.Fatalf("%s (htmx %v): error %q next to %s, want %q", c.name, htmx, msg.Text(), c.field, c.says)
			}
			input := doc.Find(`input[name="` + c.field + `"]`)
			if invalid, _ := input.Attr("aria-invalid"); invalid != "true" {
				t.Fatalf("%s: the field is not marked invalid", c.name)
			}
			if describedBy, _ := input.Attr("aria-describedby"); !strings.Contains(describedBy, c.field+"-error") {
				t.Fatalf("%s: the field does not point at its error (aria-describedby %q)", c.name, describedBy)
			}
			if htmx == (doc.Find(`[data-testid="app-header"]`).Length() == 1) {
				t.Fatalf("%s (htmx %v): page or fragment chosen wrongly", c.name, htmx)
			}
		}
	}
	// Without the CSRF token nothing is even checked.
	if resp := a.postFormRaw("/settings/account/password", passwordForm(adminPassword, newPassword, newPassword), nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("without the CSRF token: %d, want 403", resp.StatusCode)
	}
	a.cookies = map[string]string{}
	if resp := a.tryLogin(adminUser, adminPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a refused change still changed the password: sign-in %d", resp.StatusCode)
	}
}

func TestAfterAPasswordChangeOnlyTheNewPasswordSignsIn(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	resp := a.postForm("/settings/account/password", passwordForm(adminPassword, newPassword, newPassword))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/settings/account?notice=password" {
		t.Fatalf("change: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if !strings.Contains(a.document(a.get("/settings/account?notice=password"), http.StatusOK).Find(`[data-testid="notice"]`).Text(), "Password changed") {
		t.Fatal("no notice that the password changed")
	}
	if !strings.Contains(a.logs.String(), "password changed") || strings.Contains(a.logs.String(), newPassword) {
		t.Fatal("the change is not logged, or the password is")
	}
	browser := a.anotherBrowser()
	if resp := browser.tryLogin(adminUser, adminPassword); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the old password: %d, want 401", resp.StatusCode)
	}
	if resp := browser.tryLogin(adminUser, newPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the new password: %d, want 303", resp.StatusCode)
	}
}

func TestSigningOutEverywhereEndsTheSessionsOfOtherBrowsers(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	other := a.anotherBrowser()
	other.signIn()
	mine := a.cookies["handover_session"]

	resp := a.postFormRaw("/settings/account/sign-out-everywhere", withCSRF(url.Values{}, a.csrf), map[string]string{"HX-Request": "true"})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("HX-Redirect") != "/login" {
		t.Fatalf("sign out everywhere: %d to %q", resp.StatusCode, resp.Header.Get("HX-Redirect"))
	}
	if _, ok := a.cookies["handover_session"]; ok {
		t.Fatal("the session cookie was not cleared")
	}
	if resp := other.get("/endpoints"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the other browser's session: %d, want a redirect to sign in", resp.StatusCode)
	}
	a.cookies["handover_session"] = mine
	if resp := a.get("/endpoints"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("this browser's old cookie: %d, want a redirect to sign in", resp.StatusCode)
	}
	if !strings.Contains(a.logs.String(), "signed out everywhere") || !strings.Contains(a.logs.String(), "sessions=2") {
		t.Fatalf("not logged with the number of sessions ended:\n%s", a.logs)
	}
}
