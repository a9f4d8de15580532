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
	// WithoutToken serves metrics to anyone when no token is set: the
	// metrics listener (HANDOVER_METRICS_ADDR), which only the scraper reaches.
	WithoutToken bool
}

// Serve answers GET /metrics: 404 when metrics are not served here (no
// token on the main listener, or HANDOVER_METRICS_ADDR), 401 without the
// token when one is set.
func (h *Metrics) Serve(c *fiber.Ctx) error {
	if h.Handler == nil || (h.Token == "" && !h.WithoutToken) {
		return fiber.ErrNotFound
	}
	if h.Token != "" && !BearerMatches(c.Get(fiber.HeaderAuthorization), h.Token) {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
		return &Refusal{Status: fiber.StatusUnauthorized, Code: "unauthorized", Message: "Send Authorization: Bearer <HANDOVER_METRICS_TOKEN>."}
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
