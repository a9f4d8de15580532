package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/views"
)

// AccountStore is what an admin's own account page needs from the store.
type AccountStore interface {
	SetAdminPassword(ctx context.Context, adminID int64, passwordHash string) error
	DeleteSessionsOfAdmin(ctx context.Context, adminID int64) (int64, error)
}

// AccountPage shows the signed-in admin's password form and the button that
// signs them out everywhere.
func (a *Auth) AccountPage(c *fiber.Ctx) error {
	notice := ""
	if c.Query("notice") == "password" {
		notice = "Password changed. Other browsers stay signed in until you sign out everywhere."
	}
	return a.renderAccount(c, fiber.StatusOK, nil, notice)
}

// ChangePassword sets a new password once the current one is given.
func (a *Auth) ChangePassword(c *fiber.Ctx) error {
	sess, _ := currentSession(c)
	current, next, confirm := c.FormValue(views.CurrentPasswordField), c.FormValue(views.NewPasswordField), c.FormValue(views.ConfirmPasswordField)
	errs := map[string]string{}
	if bcrypt.CompareHashAndPassword([]byte(sess.Admin.PasswordHash), []byte(current)) != nil {
		errs[views.CurrentPasswordField] = "This is not your current password."
		a.Logger.WarnContext(c.UserContext(), "password change with a wrong current password", slog.String("username", sess.Admin.Username), slog.String("remote_ip", ClientAddress(c)))
	}
	switch err := secret.CheckPassword(next); {
	case err != nil:
		errs[views.NewPasswordField] = capitalise(err.Error()) + "."
	case next == current:
		errs[views.NewPasswordField] = "Choose a password other than the current one."
	}
	if confirm != next {
		errs[views.ConfirmPasswordField] = "This is not the same as the new password."
	}
	if len(errs) > 0 {
		return a.renderAccount(c, fiber.StatusUnprocessableEntity, errs, "")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(next), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash the new password of %q: %w", sess.Admin.Username, err)
	}
	if err := a.Store.SetAdminPassword(c.UserContext(), sess.AdminID, string(hash)); err != nil {
		return err
	}
	a.Logger.InfoContext(c.UserContext(), "password changed", slog.String("username", sess.Admin.Username), slog.String("remote_ip", ClientAddress(c)))
	return redirect(c, "/settings/account?notice=password")
}

// SignOutEverywhere ends every session of the signed-in admin, this one
// included: a cookie left in another browser, or copied, stops working.
func (a *Auth) SignOutEverywhere(c *fiber.Ctx) error {
	sess, _ := currentSession(c)
	n, err := a.Store.DeleteSessionsOfAdmin(c.UserContext(), sess.AdminID)
	if err != nil {
		return err
	}
	a.Logger.InfoContext(c.UserContext(), "signed out everywhere", slog.String("username", sess.Admin.Username), slog.Int64("sessions", n), slog.String("remote_ip", ClientAddress(c)))
	c.Cookie(a.cookie(sessionCookie, "", time.Unix(0, 0)))
	return redirect(c, "/login")
}

func (a *Auth) renderAccount(c *fiber.Ctx, status int, errs map[string]string, notice string) error {
	sess, _ := currentSession(c)
	props := views.AccountProps{Username: sess.Admin.Username, MinPasswordLength: secret.MinPasswordLength, Errors: errs, Notice: notice, CSRFToken: sess.CSRFToken}
	return page(c, status, "Account", "account", views.AccountPage(props))
}
