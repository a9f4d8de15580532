package handlers

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/store"
)

// BotConnectorRelay is what the Handle Utterance URL needs from the engine.
type BotConnectorRelay interface {
	BotConnectorTurn(ctx context.Context, e store.Endpoint, req genesys.BotConnectorRequest) (genesys.BotConnectorResponse, error)
}

// BotConnector serves the Handle Utterance URL <Config URL>/botconnector
// that a Genesys Bot Connector integration posts each customer turn to
// (docs/genesys.md §BotConnector).
type BotConnector struct {
	Store interface {
		EndpointByToken(context.Context, string) (store.Endpoint, error)
	}
	Relay    BotConnectorRelay
	Features config.Features
	Logger   *slog.Logger
	Limits   *Limits // nil limits nothing
}

// Turn answers POST /<token>/botconnector. The URL token finds the endpoint;
// the credential header the integration sends must match the endpoint's,
// compared in constant time. Only a Bot Connector endpoint of an
// organisation on FEATURE_USE_GENESYS_BOT_CONNECTOR_ENDPOINT_WHITELIST answers.
func (h *BotConnector) Turn(c *fiber.Ctx) error {
	e, err := h.Store.EndpointByToken(c.UserContext(), c.Params("token"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && e.Type != store.TypeGenesysBotConnector) {
		// A bot endpoint's token says no more here than an unknown one.
		return botError(fiber.StatusNotFound, "unknown_endpoint", "No Genesys Bot Connector endpoint has this Handle Utterance URL.")
	}
	if err != nil {
		return err
	}
	rememberEndpoint(c, e)
	if !BotConnectorCredentialMatches(e, c.Get(e.BotConnectorHeaderName)) {
		h.Logger.WarnContext(c.UserContext(), "bot connector turn refused: wrong credential", slog.Int64("endpoint_id", e.ID),
			slog.String("header", e.BotConnectorHeaderName), slog.Bool("header_present", c.Get(e.BotConnectorHeaderName) != ""),
			slog.String("client", LoggedClientAddress(c)), slog.String("path", LoggedPath(c)))
		return botError(fiber.StatusUnauthorized, "unauthorized", "The Bot Connector credential header is missing or does not match the endpoint's.")
	}
	if !h.Features.BotConnectorFor(e.Organisation.Name) {
		return botError(fiber.StatusForbidden, "feature_disabled", "Genesys Bot Connector endpoints are not enabled for this organisation (FEATURE_USE_GENESYS_BOT_CONNECTOR_ENDPOINT_WHITELIST).")
	}
	var req genesys.BotConnectorRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	// A bot session is a bot API session as far as the limits go: Genesys
	// posts one turn per customer message.
	if err := h.Limits.Message(c, e, "botconnector:"+req.BotSessionID); err != nil {
		return err
	}
	resp, err := h.Relay.BotConnectorTurn(c.UserContext(), e, req)
	if err != nil {
		return err
	}
	return c.JSON(resp)
}

// BotConnectorCredentialMatches tells, in constant time, whether got is the
// endpoint's Bot Connector credential. An endpoint without one matches
// nothing: the URL token alone never opens the Handle Utterance URL.
func BotConnectorCredentialMatches(e store.Endpoint, got string) bool {
	if e.BotConnectorHeaderName == "" || e.BotConnectorHeaderValue == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(e.BotConnectorHeaderValue)) == 1
}

// BotRegistrar puts an endpoint's bot into its Bot Connector integration's bot list.
type BotRegistrar interface {
	RegisterBot(ctx context.Context, e store.Endpoint) (genesys.BotConnectorBot, error)
}

// RegisterBot serves the Register bot button and its admin API.
type RegisterBot struct {
	Store interface {
		EndpointByID(ctx context.Context, id int64) (store.Endpoint, error)
	}
	Relay BotRegistrar
}

// register runs the registration for the endpoint of the path. A refusal of
// the endpoint's own settings stays a relay error (422 by its kind); what
// Genesys refused or could not answer is a 502 that says why.
func (h *RegisterBot) register(c *fiber.Ctx) (store.Endpoint, genesys.BotConnectorBot, error) {
	id, err := pathID(c)
	if err != nil {
		return store.Endpoint{}, genesys.BotConnectorBot{}, err
	}
	e, err := h.Store.EndpointByID(c.UserContext(), id)
	if err != nil {
		return store.Endpoint{}, genesys.BotConnectorBot{}, err
	}
	bot, err := h.Relay.RegisterBot(c.UserContext(), e)
	var apiErr *genesys.APIError
	var transportErr *genesys.TransportError
	if errors.As(err, &apiErr) || errors.As(err, &transportErr) {
		return e, bot, &Refusal{Status: fiber.StatusBadGateway, Code: "genesys_refused", Message: "Genesys did not take the bot list: " + err.Error()}
	}
	return e, bot, err
}

// Console answers POST /endpoints/:id/register-bot.
func (h *RegisterBot) Console(c *fiber.Ctx) error {
	e, _, err := h.register(c)
	var refusal *Refusal
	if errors.As(err, &refusal) {
		// A console form: the error page says it in words.
		return fiber.NewError(refusal.Status, refusal.Message)
	}
	if err != nil {
		return err
	}
	return redirect(c, fmt.Sprintf("/endpoints/%d?notice=bot-registered", e.ID))
}

// API answers POST /api/v1/admin/endpoints/:id/register-bot.
func (h *RegisterBot) API(c *fiber.Ctx) error {
	e, bot, err := h.register(c)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"integrationId": e.BotConnectorIntegrationID, "bot": bot})
}
