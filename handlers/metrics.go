package handlers

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
)

// Metrics serves Prometheus metrics on the main app, for scrapers that send
// Authorization: Bearer <HANDOVER_METRICS_TOKEN>.
type Metrics struct {
	Token   string
	Handler http.Handler // nil: metrics are not served here
}

// Serve answers GET /metrics: 404 when metrics are not served here (no
// token, or HANDOVER_METRICS_ADDR), 401 without the token.
func (h *Metrics) Serve(c *fiber.Ctx) error {
	if h.Handler == nil || h.Token == "" {
		return fiber.ErrNotFound
	}
	if !BearerMatches(c.Get(fiber.HeaderAuthorization), h.Token) {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
		return c.Status(fiber.StatusUnauthorized).JSON(apiError{Error: apiErrorBody{Code: "unauthorized", Message: "Send Authorization: Bearer <HANDOVER_METRICS_TOKEN>."}})
	}
	return adaptor.HTTPHandler(h.Handler)(c)
}

// BearerMatches tells, in constant time, whether header is "Bearer <token>";
// an empty token matches nothing.
func BearerMatches(header, token string) bool {
	given, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(given)), []byte(token)) == 1
}
