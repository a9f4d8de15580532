package web

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"handover/handlers"
)

// Sign-in throttling: this many failed attempts per address per window.
const (
	loginFailuresAllowed = 10
	loginFailureWindow   = time.Minute
)

// routes is the one route table: the whole URL space of Handover in one place.
func routes(app *fiber.App, d Deps) {
	auth := &handlers.Auth{Store: d.Store, SecureCookies: d.Config.SecureCookies(), SessionLifetime: d.Config.SessionLifetime,
		SessionIdleTimeout: d.Config.SessionIdleTimeout, Logger: d.Logger}
	endpoints := &handlers.Endpoints{Store: d.Store, Features: d.Config.Features, PublicURL: d.Config.PublicURL, AllowInsecureGenesys: d.Config.AllowInsecureGenesys,
		WebhookSecretGrace: d.Config.WebhookSecretGrace}
	settings := &handlers.Settings{Store: d.Store, Features: d.Config.Features, PublicURL: d.Config.PublicURL, Database: string(d.Store.Dialect())}
	health := &handlers.Health{Ping: d.Store.Ping}

	// Probes for load balancers and container health checks.
	app.Get("/healthz", health.Live)
	app.Get("/readyz", health.Ready)

	// Prometheus metrics, when they are not served on HANDOVER_METRICS_ADDR:
	// only with Authorization: Bearer <HANDOVER_METRICS_TOKEN>; 404 without a token.
	metrics := &handlers.Metrics{Token: d.Config.MetricsToken}
	if d.Config.MetricsAddr == "" {
		metrics.Handler = d.Metrics
	}
	app.Get("/metrics", metrics.Serve)

	// Sign-in. Only failed attempts count towards the limit.
	app.Get("/login", auth.LoginPage)
	// The counts live in the database, so they hold across instances.
	app.Post("/login", limiter.New(limiter.Config{
		Max:                    loginFailuresAllowed,
		Expiration:             loginFailureWindow,
		KeyGenerator:           func(c *fiber.Ctx) string { return "login:" + handlers.ClientAddress(c) },
		Storage:                dbStorage{store: d.Store},
		SkipSuccessfulRequests: true,
		LimitReached:           auth.LoginThrottled,
	}), auth.Login)

	// The console: a signed-in admin, and a CSRF token on every state change.
	console := func(h fiber.Handler) []fiber.Handler { return []fiber.Handler{auth.RequireAdmin, auth.RequireCSRF, h} }
	live := &handlers.Live{Broker: d.Broker}
	dashboard := &handlers.Dashboard{Store: d.Store}
	app.Get("/", console(dashboard.Page)...)
	app.Get("/dashboard/cards", console(dashboard.Cards)...)
	app.Get("/console/events", console(live.Events)...)
	// The live console: conversations with their timelines, the webhook log (with replay) and the Genesys call log.
	conversations := &handlers.Conversations{Store: d.Store}
	webhookLog := &handlers.WebhookLog{Store: d.Store, Relay: d.Relay}
	apiCalls := &handlers.APICalls{Store: d.Store}
	app.Get("/conversations", console(conversations.List)...)
	app.Get("/conversations/:id", console(conversations.Show)...)
	app.Get("/webhooks", console(webhookLog.List)...)
	app.Get("/webhooks/:id", console(webhookLog.Show)...)
	app.Post("/webhooks/:id/replay", console(webhookLog.Replay)...)
	app.Get("/api-calls", console(apiCalls.List)...)
	app.Post("/logout", console(auth.Logout)...)
	app.Get("/endpoints", console(endpoints.List)...)
	app.Get("/endpoints/new", console(endpoints.New)...)
	app.Get("/endpoints/provider", console(endpoints.ProviderChoice)...)
	app.Post("/endpoints", console(endpoints.Create)...)
	app.Get("/endpoints/:id", console(endpoints.Show)...)
	app.Post("/endpoints/:id", console(endpoints.Update)...)
	app.Post("/endpoints/:id/delete", console(endpoints.Delete)...)
	app.Get("/settings", console(settings.Page)...)
	app.Post("/settings/organisations", console(settings.CreateOrganisation)...)
	// The signed-in admin's own account: password, and signing out everywhere.
	app.Get("/settings/account", console(auth.AccountPage)...)
	app.Post("/settings/account/password", console(auth.ChangePassword)...)
	app.Post("/settings/account/sign-out-everywhere", console(auth.SignOutEverywhere)...)
	app.Get("/apikeys", console(settings.APIKeys)...)
	app.Post("/apikeys", console(settings.CreateAPIKey)...)
	app.Post("/apikeys/:id/revoke", console(settings.RevokeAPIKey)...)

	// The JSON admin API, for automation: Authorization: Bearer <admin API key>.
	api := func(h fiber.Handler) []fiber.Handler { return []fiber.Handler{auth.RequireAPIKey, h} }
	app.Get("/api/v1/admin/endpoints", api(endpoints.APIList)...)
	app.Post("/api/v1/admin/endpoints", api(endpoints.APICreate)...)
	app.Get("/api/v1/admin/endpoints/:id", api(endpoints.APIGet)...)
	app.Put("/api/v1/admin/endpoints/:id", api(endpoints.APIUpdate)...)
	app.Delete("/api/v1/admin/endpoints/:id", api(endpoints.APIDelete)...)

	// What Genesys calls: the Open Messaging webhook (the URL admins paste
	// into the integration) and Process Automation events.
	webhook := &handlers.Webhook{Relay: d.Relay, Store: d.Store}
	app.Post("/handover/genesysCloudOM", webhook.Receive)
	app.Post("/handover/genesysCloudOM/events", webhook.Trigger)

	// The Genesys Cloud sandbox: a fake Genesys for demos and tests.
	if d.Sandbox != nil {
		d.Sandbox.Register(app.Group(sandboxPath))
	}

	// Endpoint tools: the Copilot URLs and the Genesys pre-flight check on each
	// endpoint page (console); the agents' Copilot workspace, which only Genesys
	// may frame and whose URL token is its only authorisation, and the demo
	// web chat (public, before the bot API, which would catch them).
	endpoints.Tools = &handlers.EndpointTools{Store: d.Store, Preflight: d.Relay, PublicURL: d.Config.PublicURL}
	app.Get("/endpoints/:id/copilot-url", console(endpoints.Tools.CopilotURL)...)
	app.Post("/endpoints/:id/preflight", console(endpoints.Tools.RunPreflight)...)
	copilot := &handlers.Copilot{Store: d.Store}
	app.Get("/copilot", handlers.FrameableByGenesys, copilot.Workspace)
	chat := &handlers.Chat{Store: d.Store, PublicURL: d.Config.PublicURL}
	app.Get("/chat/:token", chat.Page)

	// The bot API under each endpoint's Config URL. Registered last: its
	// first path segment is the endpoint's token, which matches anything.
	bot := &handlers.Bot{Store: d.Store, Relay: d.Relay, Broker: d.Broker}
	app.Post("/:token/handover", bot.Handover)
	app.Post("/:token/sessions/:session/typing", bot.Typing)
	app.Post("/:token/sessions/:session/end", bot.End)
	app.Get("/:token/sessions/:session/events", bot.Events)
	app.Post("/:token", bot.Message)
}

// sandboxPath is where the Genesys sandbox is mounted.
const sandboxPath = "/sandbox/genesys"
