package handlers

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

const (
	sessionCookie   = "handover_session"
	loginCSRFCookie = "handover_login_csrf"
	localSession    = "session"
	localAPIKey     = "apiKey"
	csrfFormField   = "_csrf"
	csrfHeader      = "X-CSRF-Token"
)

// AuthStore is what sign-in needs from the store.
type AuthStore interface {
	AdminByUsername(ctx context.Context, username string) (store.Admin, error)
	CreateSession(ctx context.Context, sess *store.Session) error
	UseSession(ctx context.Context, tokenHash string, idle time.Duration) (store.Session, error)
	DeleteSession(ctx context.Context, tokenHash string) error
	APIKeyByHash(ctx context.Context, keyHash string) (store.APIKey, error)
	AccountStore
}

// Auth signs admins in and out and guards the console and the admin API.
type Auth struct {
	Store           AuthStore
	SecureCookies   bool // behind TLS: cookies carry Secure
	SessionLifetime time.Duration
	// SessionIdleTimeout ends a session unused for this long, before its lifetime.
	SessionIdleTimeout time.Duration
	Logger             *slog.Logger
}

// dummyHash is compared against when the user does not exist, so a wrong
// user name takes as long as a wrong password and reveals nothing.
const dummyHash = "$2a$10$7adlPMLnFDtFeAit63Yl/.XjwXe/kCh4hQnXjc.8KU8kiHOg6hVU2"

// LoginPage shows the sign-in form.
func (a *Auth) LoginPage(c *fiber.Ctx) error {
	if _, ok := a.sessionFromCookie(c); ok {
		return c.Redirect(safeNext(c.Query("next")), fiber.StatusSeeOther)
	}
	return a.renderLogin(c, fiber.StatusOK, views.LoginProps{Next: c.Query("next")})
}

// Login checks the credentials and starts a session.
func (a *Auth) Login(c *fiber.Ctx) error {
	props := views.LoginProps{Username: strings.TrimSpace(c.FormValue("username")), Next: c.FormValue("next")}
	if !tokensEqual(c.Cookies(loginCSRFCookie), c.FormValue(csrfFormField)) {
		props.Error = "The sign-in form expired. Please try again."
		return a.renderLogin(c, fiber.StatusForbidden, props)
	}
	admin, err := a.Store.AdminByUsername(c.UserContext(), props.Username)
	hash := []byte(dummyHash)
	if err == nil {
		hash = []byte(admin.PasswordHash)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(c.FormValue("password"))) != nil || err != nil {
		a.Logger.WarnContext(c.UserContext(), "sign-in failed", slog.String("username", props.Username), slog.String("remote_ip", ClientAddress(c)))
		props.Error = "The user name or password is wrong."
		return a.renderLogin(c, fiber.StatusUnauthorized, props)
	}

	token := secret.NewToken(32)
	sess := store.Session{
		TokenHash: secret.HashToken(token),
		AdminID:   admin.ID,
		CSRFToken: secret.NewToken(32),
		ExpiresAt: time.Now().Add(a.SessionLifetime),
		RemoteIP:  ClientAddress(c),
		UserAgent: truncate(c.Get(fiber.HeaderUserAgent), 255),
	}
	if err := a.Store.CreateSession(c.UserContext(), &sess); err != nil {
		return fmt.Errorf("sign in %q: %w", admin.Username, err)
	}
	c.Cookie(a.cookie(sessionCookie, token, sess.ExpiresAt))
	c.ClearCookie(loginCSRFCookie)
	a.Logger.InfoContext(c.UserContext(), "signed in", slog.String("username", admin.Username), slog.String("remote_ip", ClientAddress(c)))
	return redirect(c, safeNext(props.Next))
}

// Logout ends the current session.
func (a *Auth) Logout(c *fiber.Ctx) error {
	if sess, ok := currentSession(c); ok {
		if err := a.Store.DeleteSession(c.UserContext(), sess.TokenHash); err != nil {
			return err
		}
	}
	c.Cookie(a.cookie(sessionCookie, "", time.Unix(0, 0)))
	return redirect(c, "/login")
}

// LoginThrottled answers the sign-in form once an address has failed too often.
func (a *Auth) LoginThrottled(c *fiber.Ctx) error {
	a.Logger.WarnContext(c.UserContext(), "sign-in throttled", slog.String("remote_ip", ClientAddress(c)))
	return a.renderLogin(c, fiber.StatusTooManyRequests, views.LoginProps{
		Username: c.FormValue("username"),
		Next:     c.FormValue("next"),
		Error:    "Too many failed sign-in attempts from your address. Wait a minute and try again.",
	})
}

// RequireAdmin lets signed-in admins through and sends everyone else to /login.
func (a *Auth) RequireAdmin(c *fiber.Ctx) error {
	sess, ok := a.sessionFromCookie(c)
	if !ok {
		target := "/login"
		if c.Method() == fiber.MethodGet {
			target += "?next=" + url.QueryEscape(c.OriginalURL())
		}
		return redirect(c, target)
	}
	c.Locals(localSession, sess)
	return c.Next()
}

// RequireCSRF rejects a state-changing request that does not carry the
// session's CSRF token (form field _csrf, or the X-CSRF-Token header htmx sends).
func (a *Auth) RequireCSRF(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	sess, ok := currentSession(c)
	token := c.Get(csrfHeader)
	if token == "" {
		token = c.FormValue(csrfFormField)
	}
	if !ok || !tokensEqual(sess.CSRFToken, token) {
		a.Logger.WarnContext(c.UserContext(), "CSRF token missing or wrong", slog.String("path", c.Path()), slog.String("remote_ip", ClientAddress(c)))
		return fiber.NewError(fiber.StatusForbidden, "This form expired or was sent from another site. Reload the page and try again.")
	}
	return c.Next()
}

// RequireAPIKey guards the JSON admin API with "Authorization: Bearer <key>".
func (a *Auth) RequireAPIKey(c *fiber.Ctx) error {
	key, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || strings.TrimSpace(key) == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="handover"`)
		return &Refusal{Status: fiber.StatusUnauthorized, Code: "unauthorized", Message: "Send an admin API key as Authorization: Bearer <key>."}
	}
	apiKey, err := a.Store.APIKeyByHash(c.UserContext(), secret.HashToken(strings.TrimSpace(key)))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="handover", error="invalid_token"`)
			return &Refusal{Status: fiber.StatusUnauthorized, Code: "unauthorized", Message: "The API key is unknown or revoked."}
		}
		return err
	}
	c.Locals(localAPIKey, apiKey)
	return c.Next()
}

// apiActor names the API key of the request, for audit records.
func apiActor(c *fiber.Ctx) string {
	if k, ok := c.Locals(localAPIKey).(store.APIKey); ok {
		return fmt.Sprintf("API key %q (%s…)", k.Name, k.Prefix)
	}
	return "API key"
}

func (a *Auth) renderLogin(c *fiber.Ctx, status int, props views.LoginProps) error {
	// Double-submit cookie: the sign-in form has no session to bind a token to yet.
	token := c.Cookies(loginCSRFCookie)
	if len(token) != 64 {
		token = secret.NewToken(32)
		c.Cookie(a.cookie(loginCSRFCookie, token, time.Now().Add(time.Hour)))
	}
	props.CSRFToken = token
	props.Next = safeNext(props.Next)
	return page(c, status, "Sign in", "", views.LoginPage(props))
}

func (a *Auth) sessionFromCookie(c *fiber.Ctx) (store.Session, bool) {
	token := c.Cookies(sessionCookie)
	if token == "" {
		return store.Session{}, false
	}
	sess, err := a.Store.UseSession(c.UserContext(), secret.HashToken(token), a.SessionIdleTimeout)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			a.Logger.ErrorContext(c.UserContext(), "look up session", slog.Any("error", err))
		}
		return store.Session{}, false
	}
	return sess, true
}

func (a *Auth) cookie(name, value string, expires time.Time) *fiber.Cookie {
	return &fiber.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		Expires:  expires,
		HTTPOnly: true,
		Secure:   a.SecureCookies,
		SameSite: fiber.CookieSameSiteLaxMode,
	}
}

func currentSession(c *fiber.Ctx) (store.Session, bool) {
	sess, ok := c.Locals(localSession).(store.Session)
	return sess, ok
}

// CSRFToken is the signed-in admin's CSRF token, for forms that views
// outside this package render (the sandbox's agent desk).
func CSRFToken(c *fiber.Ctx) string { return csrfToken(c) }

func csrfToken(c *fiber.Ctx) string {
	sess, _ := currentSession(c)
	return sess.CSRFToken
}

func tokensEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// safeNext keeps the post-sign-in redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
