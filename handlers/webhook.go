package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/paths"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// Webhook receives what Genesys sends: agent output on the Open Messaging
// webhook, and Process Automation events.
type Webhook struct {
	Relay Relay
	Store interface {
		EndpointByToken(ctx context.Context, token string) (store.Endpoint, error)
	}
}

// Receive answers POST /handover/genesysCloudOM.
func (h *Webhook) Receive(c *fiber.Ctx) error {
	received := time.Now()
	headers := map[string]string{}
	c.Request().Header.VisitAll(func(k, v []byte) { headers[string(k)] = string(v) })
	res, err := h.Relay.ReceiveWebhook(c.UserContext(), relay.IncomingWebhook{
		Body:       append([]byte(nil), c.Body()...), // fiber reuses the buffer
		Signature:  c.Get(genesys.SignatureHeader),
		Headers:    headers,
		ReceivedAt: received,
		Source:     ClientAddress(c),
	})
	if err != nil {
		return err
	}
	if WebhookStatus(res.Verdict) != fiber.StatusOK {
		return &WebhookRefused{Verdict: res.Verdict, Detail: res.Detail}
	}
	return c.JSON(fiber.Map{"status": "accepted", "id": res.LogID})
}

// Trigger answers POST /handover/genesysCloudOM/events, called by a Genesys
// Process Automation workflow's data action with the endpoint's URL token as
// bearer token: "Authorization: Bearer <URL token>".
func (h *Webhook) Trigger(c *fiber.Ctx) error {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || token == "" {
		return &Refusal{Status: fiber.StatusUnauthorized, Code: "unauthorized", Message: "Send the endpoint's URL token as Authorization: Bearer <token>."}
	}
	e, err := h.Store.EndpointByToken(c.UserContext(), strings.TrimSpace(token))
	if errors.Is(err, store.ErrNotFound) {
		return &Refusal{Status: fiber.StatusUnauthorized, Code: "unauthorized", Message: "No endpoint has this URL token."}
	}
	if err != nil {
		return err
	}
	ev, err := relay.ParseTriggerEvent(c.Body())
	if err != nil {
		return &Refusal{Status: fiber.StatusBadRequest, Code: "invalid_event", Message: err.Error()}
	}
	conv, err := h.Relay.HandleTrigger(c.UserContext(), e, ev)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"conversationId": conv.ID, "state": conv.State})
}

// ErrorHandler wraps the app's error handler so that a webhook request fiber
// refuses before Receive runs still gets its row in the webhook log: a body
// over the size limit (fasthttp answers 413 on its Content-Length without
// reading it) or one that did not arrive within the read timeout. Genesys
// sends at most a few kilobytes, so such a request is worth an admin's look.
func (h *Webhook) ErrorHandler(next fiber.ErrorHandler, bodyLimit int) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var fiberErr *fiber.Error
		if c.Path() != paths.GenesysWebhook || c.Method() != fiber.MethodPost || !errors.As(err, &fiberErr) {
			return next(c, err)
		}
		var verdict, detail string
		switch fiberErr.Code {
		case fiber.StatusRequestEntityTooLarge:
			verdict = store.VerdictTooLarge
			detail = fmt.Sprintf("the body is larger than the %d-byte limit and was not read", bodyLimit)
			if n := c.Request().Header.ContentLength(); n > 0 {
				detail = fmt.Sprintf("Content-Length %d is over the %d-byte limit; the body was not read", n, bodyLimit)
			}
		case fiber.StatusRequestTimeout:
			verdict, detail = store.VerdictTimeout, "the request did not arrive within the server's read timeout"
		default:
			return next(c, err)
		}
		headers := map[string]string{}
		c.Request().Header.VisitAll(func(k, v []byte) { headers[string(k)] = string(v) })
		if _, logErr := h.Relay.RefuseWebhook(c.UserContext(), relay.IncomingWebhook{Signature: c.Get(genesys.SignatureHeader), Headers: headers, ReceivedAt: time.Now(), Source: ClientAddress(c)},
			verdict, detail); logErr != nil {
			return next(c, logErr)
		}
		return next(c, &WebhookRefused{Verdict: verdict, Detail: detail})
	}
}
