package handlers

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"handover/genesys"
	"handover/relay"
	"handover/store"
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
	})
	if err != nil {
		return err
	}
	if res.Status != fiber.StatusOK {
		return jsonError(c, res.Status, res.Verdict, res.Detail, nil)
	}
	return c.JSON(fiber.Map{"status": "accepted", "id": res.LogID})
}

// Trigger answers POST /handover/genesysCloudOM/events, called by a Genesys
// Process Automation workflow's data action with the endpoint's URL token as
// bearer token: "Authorization: Bearer <URL token>".
func (h *Webhook) Trigger(c *fiber.Ctx) error {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || token == "" {
		return jsonError(c, fiber.StatusUnauthorized, "unauthorized", "Send the endpoint's URL token as Authorization: Bearer <token>.", nil)
	}
	e, err := h.Store.EndpointByToken(c.UserContext(), strings.TrimSpace(token))
	if errors.Is(err, store.ErrNotFound) {
		return jsonError(c, fiber.StatusUnauthorized, "unauthorized", "No endpoint has this URL token.", nil)
	}
	if err != nil {
		return err
	}
	ev, err := relay.ParseTriggerEvent(c.Body())
	if err != nil {
		return jsonError(c, fiber.StatusBadRequest, "invalid_event", err.Error(), nil)
	}
	conv, err := h.Relay.HandleTrigger(c.UserContext(), e, ev)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"conversationId": conv.ID, "state": conv.State})
}
