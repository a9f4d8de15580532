package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/openapi"
)

// Health answers the load balancer's probes.
type Health struct {
	Ping func(ctx context.Context) error // the database
}

// Live answers /healthz: the process is up and serving.
func (h *Health) Live(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// Ready answers /readyz: the database answers within two seconds.
func (h *Health) Ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := h.Ping(ctx); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "database": "unreachable"})
	}
	return c.JSON(fiber.Map{"status": "ok", "database": "ok"})
}

// OpenAPIDocument answers GET /api/openapi.json: the OpenAPI 3.1 description
// of the bot API and the admin API. It is public: it describes, and holds
// no secret.
func OpenAPIDocument(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(openapi.Document)
}
