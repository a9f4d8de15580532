// Package handlers serves the console pages, the JSON admin API and the
// health checks. Handlers return errors; ErrorHandler turns them into pages or
// JSON in one place.
package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// LocalSandboxDesk is the c.Locals key under which the web layer puts the
// sandbox agent desk's address, when the sandbox runs.
const LocalSandboxDesk = "sandboxDesk"

// LocalSandboxExposed is the c.Locals key that says the sandbox runs outside
// development (HANDOVER_SANDBOX=true with a public URL): every console page
// says so.
const LocalSandboxExposed = "sandboxExposed"

// ValidationError carries a message per field. It is answered with 422.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for field, msg := range e.Fields {
		parts = append(parts, field+": "+msg)
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

// isFragmentRequest decides between a fragment and a full page: htmx asking
// for part of a page gets the part; a boosted navigation, a history restore or
// a plain browser request gets the whole layout.
func isFragmentRequest(c *fiber.Ctx) bool {
	return c.Get("HX-Request") == "true" && c.Get("HX-Boosted") != "true" && c.Get("HX-History-Restore-Request") != "true"
}

// render writes a component as the HTML response.
func render(c *fiber.Ctx, status int, component templ.Component) error {
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Vary("HX-Request")
	return component.Render(c.UserContext(), c.Response().BodyWriter())
}

// page renders content inside the console layout, or alone for an htmx fragment request.
func page(c *fiber.Ctx, status int, title, active string, content templ.Component) error {
	if isFragmentRequest(c) {
		return render(c, status, content)
	}
	layout := views.Layout{Title: title, Active: active}
	layout.SandboxDesk, _ = c.Locals(LocalSandboxDesk).(string)
	layout.SandboxExposed, _ = c.Locals(LocalSandboxExposed).(bool)
	if sess, ok := currentSession(c); ok {
		layout.Username = sess.Admin.Username
		layout.CSRFToken = sess.CSRFToken
	}
	return render(c, status, views.Page(layout, content))
}

// redirect sends the browser to url after a successful form: htmx follows
// HX-Redirect, a plain form follows 303 See Other.
func redirect(c *fiber.Ctx, url string) error {
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", url)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(url, fiber.StatusSeeOther)
}

// apiError is the JSON error shape of every API route.
type apiError struct {
	Error apiErrorBody `json:"error"`
	// Availability says why a handover was refused for want of agents.
	Availability *availabilityJSON `json:"availability,omitempty"`
}

type apiErrorBody struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// jsonError writes the JSON error shape; only ErrorHandler calls it.
func jsonError(c *fiber.Ctx, status int, code, message string, fields map[string]string) error {
	return writeAPIError(c, status, apiError{Error: apiErrorBody{Code: code, Message: message, Fields: fields}})
}

func writeAPIError(c *fiber.Ctx, status int, body apiError) error {
	c.Vary("HX-Request")
	return c.Status(status).JSON(body)
}

// Refusal is a request a handler refuses with a status and a code of its
// own (a bot or API client's mistake). Like every error of the bot API, the
// webhook and the admin API it is answered as JSON.
type Refusal struct {
	Status  int
	Code    string
	Message string
}

func (e *Refusal) Error() string { return e.Message }

// WebhookRefused is a webhook logged with a verdict other than valid.
type WebhookRefused struct {
	Verdict string // store.Verdict…
	Detail  string
}

func (e *WebhookRefused) Error() string { return "webhook refused: " + e.Verdict + ": " + e.Detail }

// relayStatus is how each kind of request the relay refuses is answered.
var relayStatus = []struct {
	kind   error
	status int
}{
	{relay.ErrInvalidInput, fiber.StatusBadRequest},
	{relay.ErrAlreadyInHandover, fiber.StatusConflict},
	{relay.ErrNoProvider, fiber.StatusConflict},
	{relay.ErrTooLong, fiber.StatusRequestEntityTooLarge},
	{relay.ErrGenesysSettings, fiber.StatusUnprocessableEntity},
	{relay.ErrNoAgents, fiber.StatusConflict},
	{relay.ErrErasurePending, fiber.StatusServiceUnavailable},
	{relay.ErrBotFailed, fiber.StatusBadGateway},
}

// WebhookStatus is how a webhook of each verdict is answered: 200 for one
// that is correctly signed (valid, or stale and not applied: Genesys counts
// any other answer as a failed delivery), 400 for a body that is no webhook,
// 413 and 408 for one refused unread, and 401 for a signature that does not
// verify.
func WebhookStatus(verdict string) int {
	switch verdict {
	case store.VerdictValid, store.VerdictStale:
		return fiber.StatusOK
	case store.VerdictMalformed:
		return fiber.StatusBadRequest
	case store.VerdictTooLarge:
		return fiber.StatusRequestEntityTooLarge
	case store.VerdictTimeout:
		return fiber.StatusRequestTimeout
	}
	return fiber.StatusUnauthorized
}

// ErrorHandler is the one place where an error becomes a response, for
// pages, fragments and JSON alike: the relay's refusals by their kind
// (relayStatus), a refused webhook by its verdict (WebhookStatus), a
// handler's Refusal by its status, 404 for store.ErrNotFound, 422 for
// validation, fiber's own status for *fiber.Error, and 500 with the request
// id for everything else (logged, never shown).
func ErrorHandler(logger *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		requestID, _ := c.Locals("requestid").(string)
		status, code, title, message := fiber.StatusInternalServerError, "internal", "Something went wrong",
			"Handover could not complete this request. The error has been logged."
		var (
			fiberErr   *fiber.Error
			validation *ValidationError
			refused    *relay.Error
			refusal    *Refusal
			webhook    *WebhookRefused
		)
		switch {
		case errors.As(err, &refusal):
			return jsonError(c, refusal.Status, refusal.Code, refusal.Message, nil)
		case errors.As(err, &webhook):
			return jsonError(c, WebhookStatus(webhook.Verdict), webhook.Verdict, webhook.Detail, nil)
		case errors.As(err, &refused):
			status := fiber.StatusBadRequest
			for _, k := range relayStatus {
				if errors.Is(refused, k.kind) {
					status = k.status
					break
				}
			}
			body := apiError{Error: apiErrorBody{Code: refused.Code, Message: refused.Message}}
			if refused.Availability != nil {
				a := newAvailabilityJSON(*refused.Availability)
				body.Availability = &a
			}
			return writeAPIError(c, status, body)
		case errors.Is(err, relay.ErrNotInHandover):
			return jsonError(c, fiber.StatusConflict, "not_in_handover", "This session is not in handover.", nil)
		case errors.Is(err, relay.ErrReplayTruncated):
			status, code, title, message = fiber.StatusConflict, "not_replayable", "Cannot replay",
				fmt.Sprintf("The log kept only the first %d KB of this webhook's body, so its signature cannot be verified again and it cannot be replayed.", relay.MaxRefusedBody>>10)
		case errors.Is(err, relay.ErrReplayMasked):
			status, code, title, message = fiber.StatusConflict, "not_replayable", "Cannot replay",
				"The endpoint masks sensitive logging, so the log keeps this webhook's body masked: it is no longer what Genesys signed and cannot be replayed."
		case errors.Is(err, store.ErrNotFound):
			status, code, title, message = fiber.StatusNotFound, "not_found", "Not found", "There is nothing at this address. It may have been deleted."
		case errors.As(err, &validation):
			status, code, title, message = fiber.StatusUnprocessableEntity, "validation", "Invalid input", "Some fields are not valid."
		case errors.As(err, &fiberErr):
			status, code, title, message = fiberErr.Code, "http_"+fmt.Sprint(fiberErr.Code), statusTitle(fiberErr.Code), fiberErr.Message
		}
		if status >= 500 {
			logger.ErrorContext(c.UserContext(), "request failed", slog.String("request_id", requestID),
				slog.String("method", c.Method()), slog.String("path", LoggedPath(c)), slog.Any("error", err))
		}
		if wantsJSON(c) {
			var fields map[string]string
			if validation != nil {
				fields = validation.Fields
			}
			if status >= 500 && requestID != "" {
				message += " Request id: " + requestID + "."
			}
			return jsonError(c, status, code, message, fields)
		}
		props := views.ErrorProps{Status: status, Title: title, Message: message}
		if status >= 500 {
			props.RequestID = requestID
		}
		return page(c, status, title, "", views.ErrorPage(props))
	}
}

// LoggedPath is the request's path as logs show it: the route's pattern
// (/:token/sessions/:session/events) when the route has parameters, since
// those carry the endpoint's URL token, session ids and record ids; else the
// path with every segment long enough to be a token redacted (a request no
// route matched, such as a mistyped Config URL). Query strings (the
// Copilot's URLToken and auth) are never logged.
func LoggedPath(c *fiber.Ctx) string {
	if route := c.Route(); route != nil && strings.Contains(route.Path, ":") {
		return route.Path
	}
	segments := strings.Split(c.Path(), "/")
	for i, s := range segments {
		if len(s) > maxLoggedSegment {
			segments[i] = "{redacted}"
		}
	}
	return strings.Join(segments, "/")
}

// maxLoggedSegment is the longest path segment the log keeps as it is: URL
// tokens are 64 characters, the console's paths and file names far fewer.
const maxLoggedSegment = 40

func wantsJSON(c *fiber.Ctx) bool {
	return strings.HasPrefix(c.Path(), "/api/") || (c.Accepts(fiber.MIMETextHTML, fiber.MIMEApplicationJSON) == fiber.MIMEApplicationJSON)
}

func statusTitle(status int) string {
	switch status {
	case fiber.StatusNotFound:
		return "Not found"
	case fiber.StatusForbidden:
		return "Forbidden"
	case fiber.StatusMethodNotAllowed:
		return "Method not allowed"
	case fiber.StatusRequestEntityTooLarge:
		return "Request too large"
	case fiber.StatusTooManyRequests:
		return "Too many requests"
	}
	if status >= 500 {
		return "Something went wrong"
	}
	return "Request not accepted"
}

// validationFields returns the field messages of a *ValidationError (an empty
// map for nil, so callers can add to it), and whether err was one.
func validationFields(err error) (map[string]string, bool) {
	var v *ValidationError
	if errors.As(err, &v) {
		return v.Fields, true
	}
	return map[string]string{}, false
}

// conflictAsValidation turns a uniqueness conflict into a message on the field that caused it.
func conflictAsValidation(err error, field, message string) error {
	if errors.Is(err, store.ErrConflict) {
		return &ValidationError{Fields: map[string]string{field: message}}
	}
	return err
}

// noticeText is the words of a ?notice= code that a redirect after a
// console action carries (saved, deleted, erased, …).
func noticeText(code string) string {
	switch code {
	case "saved":
		return "Endpoint saved."
	case "organisation":
		return "Organisation added."
	case "deleted":
		return "Endpoint deleted."
	case "url-token-rotated":
		return "The URL token is new: give the bot the new Config URL. The old one keeps working until the time shown."
	case "bot-registered":
		return "The bot is registered in the Bot Connector integration: Architect's Call Bot Connector action offers it."
	case "erased":
		return "The person's data was erased: their conversations, timelines, queued calls and log rows are gone. An audit record keeps the counts."
	}
	return ""
}
