// Package web builds the HTTP server: the fiber app, its middleware, the error
// handler and the one route table (routes.go).
package web

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/helmet"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/handlers"
	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/logging"
	"github.com/handover-relay/handover/paths"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// Deps is everything the web layer needs, built by main.
type Deps struct {
	Config config.Config
	Store  *store.Store
	Logger *slog.Logger
	Relay  *relay.Relay
	// Broker is where the relay announces changes, for the event streams;
	// the one given to the relay. A new, silent one when nil.
	Broker  *live.Broker
	Sandbox *sandbox.Sandbox // nil when the sandbox is off
	// Metrics serves Prometheus metrics; mounted at /metrics behind
	// HANDOVER_METRICS_TOKEN unless HANDOVER_METRICS_ADDR serves them apart.
	Metrics http.Handler
}

// maxBodyBytes bounds every request body; the console's forms are small.
const maxBodyBytes = 1 << 20

// contentSecurityPolicy forbids inline scripts and styles and every origin but
// our own: all script lives in /static, so an injected <script> cannot run.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// New returns the configured fiber app with every route mounted.
func New(d Deps) *fiber.App {
	if d.Broker == nil {
		d.Broker = live.NewBroker()
	}
	// A webhook refused before its handler ran (too large, too slow) is
	// still logged with its verdict.
	errorHandler := (&handlers.Webhook{Relay: d.Relay, Store: d.Store}).ErrorHandler(handlers.ErrorHandler(d.Logger), maxBodyBytes)
	cfg := fiber.Config{
		AppName:               "Handover",
		ErrorHandler:          errorHandler,
		BodyLimit:             maxBodyBytes,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           120 * time.Second,
		DisableStartupMessage: true,
	}
	// fiber believes X-Forwarded-Proto and -Host only from trusted proxies.
	// It is given no ProxyHeader: its c.IP() would return a whole
	// X-Forwarded-For line; handlers.ClientAddresses decides the client address.
	cfg.EnableTrustedProxyCheck = true
	for _, p := range d.Config.TrustedProxies {
		cfg.TrustedProxies = append(cfg.TrustedProxies, p.String())
	}
	app := fiber.New(cfg)

	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		d.Logger.ErrorContext(c.UserContext(), "panic while serving a request", slog.Any("panic", e), slog.String("path", handlers.LoggedPath(c)))
	}}))
	app.Use(handlers.ClientAddresses{TrustedProxies: d.Config.TrustedProxies}.Remember)
	app.Use(requestid.New())
	app.Use(requestContext)
	app.Use(accessLog(d.Logger))
	app.Use(helmet.New(helmet.Config{
		ContentSecurityPolicy:     contentSecurityPolicy,
		XFrameOptions:             "DENY",
		ReferrerPolicy:            "same-origin",
		CrossOriginEmbedderPolicy: "unsafe-none",
		HSTSMaxAge:                31536000,
	}))
	if d.Sandbox != nil {
		app.Use(func(c *fiber.Ctx) error {
			c.Locals(handlers.LocalSandboxDesk, paths.SandboxDesk)
			c.Locals(handlers.LocalSandboxExposed, !d.Config.Development)
			return c.Next()
		})
	}
	routes(app, d)
	return app
}

// requestContext puts the request id into the context handlers log with.
func requestContext(c *fiber.Ctx) error {
	if id, ok := c.Locals("requestid").(string); ok {
		c.SetUserContext(logging.WithRequestID(c.UserContext(), id))
	}
	return c.Next()
}

// accessLog writes one line per request, after it is answered.
func accessLog(logger *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		if err != nil {
			// Run the error handler now so the logged status is the one sent.
			if handlerErr := c.App().ErrorHandler(c, err); handlerErr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		level := slog.LevelInfo
		if c.Path() == paths.Healthz || c.Path() == paths.Readyz || strings.HasPrefix(c.Path(), paths.Static+"/") {
			level = slog.LevelDebug
		}
		logger.LogAttrs(c.UserContext(), level, "request",
			slog.String("method", c.Method()),
			slog.String("path", handlers.LoggedPath(c)),
			slog.Int("status", c.Response().StatusCode()),
			slog.Duration("latency", time.Since(start)),
			slog.String("remote_ip", handlers.LoggedClientAddress(c)),
		)
		return nil
	}
}
