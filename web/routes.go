package web

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/handover-relay/handover/handlers"
	"github.com/handover-relay/handover/paths"
	"github.com/handover-relay/handover/static"
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
		WebhookSecretGrace: d.Config.WebhookSecretGrace, URLTokenGrace: d.Config.URLTokenGrace}
	settings := &handlers.Settings{Store: d.Store, Features: d.Config.Features, PublicURL: d.Config.PublicURL, Database: string(d.Store.Dialect())}
	health := &handlers.Health{Ping: d.Store.Ping}

	// The static files: app.css, app.js, the demo chat's and the vendored
	// ones. Every route after them refuses a NUL in a query or form field.
	app.Use(paths.Static, filesystem.New(filesystem.Config{Root: http.FS(static.FS), MaxAge: 3600}))
	app.Use(refuseNUL)

	// Probes for load balancers and container health checks.
	app.Get(paths.Healthz, health.Live)
	app.Get(paths.Readyz, health.Ready)

	// Prometheus metrics, when they are not served on HANDOVER_METRICS_ADDR:
	// only with Authorization: Bearer <HANDOVER_METRICS_TOKEN>; 404 without a token.
	metrics := &handlers.Metrics{Token: d.Config.MetricsToken}
	if d.Config.MetricsAddr == "" {
		metrics.Handler = d.Metrics
	}
	app.Get(paths.Metrics, metrics.Serve)

	// Sign-in. Only failed attempts count towards the limit.
	app.Get(paths.Login, auth.LoginPage)
	// The counts live in the database, so they hold across instances.
	app.Post(paths.Login, limiter.New(limiter.Config{
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
	dashboard := &handlers.Dashboard{Store: d.Store, Now: d.Store.Now}
	app.Get(paths.Dashboard, console(dashboard.Page)...)
	app.Get(paths.DashboardCards, console(dashboard.Cards)...)
	app.Get(paths.DashboardCharts, console(dashboard.Charts)...)
	app.Get(paths.ConsoleEvents, console(live.Events)...)
	// The live console: conversations with their timelines, the webhook log (with replay) and the Genesys call log.
	conversations := &handlers.Conversations{Store: d.Store}
	webhookLog := &handlers.WebhookLog{Store: d.Store, Relay: d.Relay}
	apiCalls := &handlers.APICalls{Store: d.Store}
	app.Get(paths.Conversations, console(conversations.List)...)
	app.Get(paths.Conversation, console(conversations.Show)...)
	contacts := &handlers.Contacts{Store: d.Store, Eraser: d.Relay}
	app.Post(paths.ConversationErase, console(contacts.EraseFromConversation)...)
	app.Get(paths.Webhooks, console(webhookLog.List)...)
	app.Get(paths.Webhook, console(webhookLog.Show)...)
	app.Post(paths.WebhookReplay, console(webhookLog.Replay)...)
	app.Get(paths.APICalls, console(apiCalls.List)...)
	// Event webhooks to bots: their delivery log with replay, and an endpoint's test event.
	botDeliveries := &handlers.BotDeliveries{Store: d.Store, Relay: d.Relay}
	app.Get(paths.BotDeliveries, console(botDeliveries.List)...)
	app.Get(paths.BotDelivery, console(botDeliveries.Show)...)
	app.Post(paths.BotDeliveryReplay, console(botDeliveries.Replay)...)
	app.Post(paths.EndpointBotTest, console(botDeliveries.SendTestEvent)...)
	instances := &handlers.Instances{Store: d.Store, DeadAfter: d.Config.InstanceDeadAfter}
	app.Get(paths.Instances, console(instances.Page)...)
	app.Post(paths.Logout, console(auth.Logout)...)
	app.Get(paths.Endpoints, console(endpoints.List)...)
	app.Get(paths.EndpointNew, console(endpoints.New)...)
	app.Get(paths.EndpointProvider, console(endpoints.ProviderChoice)...)
	app.Post(paths.Endpoints, console(endpoints.Create)...)
	app.Get(paths.Endpoint, console(endpoints.Show)...)
	app.Post(paths.Endpoint, console(endpoints.Update)...)
	app.Post(paths.EndpointDelete, console(endpoints.Delete)...)
	app.Post(paths.EndpointRotateURL, console(endpoints.RotateURLToken)...)
	app.Get(paths.Settings, console(settings.Page)...)
	app.Post(paths.Organisations, console(settings.CreateOrganisation)...)
	// The signed-in admin's own account: password, and signing out everywhere.
	app.Get(paths.Account, console(auth.AccountPage)...)
	app.Post(paths.AccountPassword, console(auth.ChangePassword)...)
	app.Post(paths.SignOutEverywhere, console(auth.SignOutEverywhere)...)
	app.Get(paths.APIKeys, console(settings.APIKeys)...)
	app.Post(paths.APIKeys, console(settings.CreateAPIKey)...)
	app.Post(paths.APIKeyRevoke, console(settings.RevokeAPIKey)...)

	// The JSON admin API, for automation: Authorization: Bearer <admin API key>.
	api := func(h fiber.Handler) []fiber.Handler { return []fiber.Handler{auth.RequireAPIKey, h} }
	app.Get(paths.OpenAPI, handlers.OpenAPIDocument)
	app.Get(paths.APIEndpoints, api(endpoints.APIList)...)
	app.Post(paths.APIEndpoints, api(endpoints.APICreate)...)
	app.Get(paths.APIEndpoint, api(endpoints.APIGet)...)
	app.Put(paths.APIEndpoint, api(endpoints.APIUpdate)...)
	app.Delete(paths.APIEndpoint, api(endpoints.APIDelete)...)
	app.Post(paths.APIEndpointRotateURL, api(endpoints.APIRotateURLToken)...)
	app.Get(paths.APIConversations, api(conversations.APIList)...)
	app.Get(paths.APIConversation, api(conversations.APIGet)...)
	app.Get(paths.APIWebhooks, api(webhookLog.APIList)...)
	app.Get(paths.APIWebhook, api(webhookLog.APIGet)...)
	app.Post(paths.APIWebhookReplay, api(webhookLog.APIReplay)...)
	app.Get(paths.APIAPICalls, api(apiCalls.APIList)...)
	app.Get(paths.APIBotDeliveries, api(botDeliveries.APIList)...)
	app.Get(paths.APIBotDelivery, api(botDeliveries.APIGet)...)
	app.Post(paths.APIBotDeliveryReplay, api(botDeliveries.APIReplay)...)
	app.Post(paths.APIEndpointBotTest, api(botDeliveries.APITestEvent)...)
	app.Get(paths.APIInstances, api(instances.APIList)...)
	app.Get(paths.APIContact, api(contacts.APIExport)...)
	app.Delete(paths.APIContact, api(contacts.APIErase)...)

	// What Genesys calls: the Open Messaging webhook (the URL admins paste
	// into the integration) and Process Automation events.
	webhook := &handlers.Webhook{Relay: d.Relay, Store: d.Store}
	app.Post(paths.GenesysWebhook, webhook.Receive)
	app.Post(paths.GenesysEvents, webhook.Trigger)

	// The Genesys Cloud sandbox: a fake Genesys for demos and tests. Its
	// API authenticates with OAuth as Genesys's does; its agent desk (and
	// the fault switches on it) is the console's, behind sign-in and CSRF.
	if d.Sandbox != nil {
		d.Sandbox.Register(app.Group(paths.Sandbox), auth.RequireAdmin, auth.RequireCSRF)
	}

	// Endpoint tools: the Copilot URLs and the Genesys pre-flight check on each
	// endpoint page (console); the agents' Copilot workspace, which only Genesys
	// may frame and whose URL token is its only authorisation, and the demo
	// web chat (public, before the bot API, which would catch them).
	endpoints.Tools = &handlers.EndpointTools{Store: d.Store, Preflight: d.Relay, PublicURL: d.Config.PublicURL}
	app.Get(paths.EndpointCopilotURL, console(endpoints.Tools.CopilotURL)...)
	app.Post(paths.EndpointPreflight, console(endpoints.Tools.RunPreflight)...)
	app.Post(paths.APIEndpointPreflight, api(endpoints.Tools.APIPreflight)...)
	// Register bot: the endpoint's bot into its Bot Connector integration's bot list.
	registerBot := &handlers.RegisterBot{Store: d.Store, Relay: d.Relay}
	app.Post(paths.EndpointRegisterBot, console(registerBot.Console)...)
	app.Post(paths.APIEndpointRegisterBot, api(registerBot.API)...)
	copilot := &handlers.Copilot{Store: d.Store, Logger: d.Logger}
	app.Get(paths.Copilot, handlers.FrameableByGenesys, copilot.Workspace)
	// Limits on the public surfaces, counted in the database for every instance (docs/security.md).
	limits := &handlers.Limits{Store: d.Store, Config: d.Config.Limits, Instance: d.Relay.InstanceID(), DeadAfter: d.Config.InstanceDeadAfter, Logger: d.Logger}
	bot := &handlers.Bot{Store: d.Store, Relay: d.Relay, Broker: d.Broker, Limits: limits}
	chat := &handlers.Chat{Store: d.Store, PublicURL: d.Config.PublicURL, Limits: limits}
	app.Get(paths.Chat, chat.Page)
	app.Post(paths.ChatMessage, chat.Guard(true), bot.Message)
	app.Post(paths.ChatHandover, chat.Guard(true), bot.Handover)
	app.Get(paths.ChatAvailability, chat.Guard(false), bot.Availability)
	app.Post(paths.ChatTyping, chat.Guard(true), bot.Typing)
	app.Post(paths.ChatEnd, chat.Guard(true), bot.End)
	app.Get(paths.ChatEvents, chat.Guard(true), bot.Events)

	// The Handle Utterance URL of Genesys Bot Connector endpoints: the URL
	// token and the integration's credential header authenticate Genesys.
	botConnector := &handlers.BotConnector{Store: d.Store, Relay: d.Relay, Features: d.Config.Features, Logger: d.Logger, Limits: limits}
	app.Post(paths.BotConnector, botConnector.Turn)

	// The bot API under each endpoint's Config URL. Registered last: its
	// first path segment is the endpoint's token, which matches anything.
	app.Post(paths.BotHandover, bot.Handover)
	app.Get(paths.BotAvailability, bot.Availability)
	app.Post(paths.BotTyping, bot.Typing)
	app.Post(paths.BotEnd, bot.End)
	app.Get(paths.BotEvents, bot.Events)
	app.Post(paths.BotMessage, bot.Message)
}

// NewMetrics is the app of the metrics listener (HANDOVER_METRICS_ADDR), and
// its whole URL space: /metrics, behind HANDOVER_METRICS_TOKEN when one is set.
func NewMetrics(d Deps) *fiber.App {
	app := fiber.New(fiber.Config{AppName: "Handover metrics", ErrorHandler: handlers.ErrorHandler(d.Logger), ReadTimeout: 10 * time.Second, DisableStartupMessage: true})
	metrics := &handlers.Metrics{Token: d.Config.MetricsToken, Handler: d.Metrics, WithoutToken: true}
	app.Get(paths.Metrics, metrics.Serve)
	return app
}
