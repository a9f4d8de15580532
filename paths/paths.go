// Package paths names every URL path Handover serves. web/routes.go mounts
// them; handlers and views build links with them; nobody else spells them.
// Parameters are written as fiber writes them (:id).
package paths

const (
	// Probes and metrics.
	Healthz = "/healthz"
	Readyz  = "/readyz"
	Metrics = "/metrics"

	// Sign-in.
	Login  = "/login"
	Logout = "/logout"

	// The console.
	Dashboard          = "/"
	DashboardCards     = "/dashboard/cards"
	DashboardCharts    = "/dashboard/charts"
	ConsoleEvents      = "/console/events"
	Conversations      = "/conversations"
	Conversation       = "/conversations/:id"
	ConversationErase  = "/conversations/:id/erase-contact"
	Webhooks           = "/webhooks"
	Webhook            = "/webhooks/:id"
	WebhookReplay      = "/webhooks/:id/replay"
	APICalls           = "/api-calls"
	BotDeliveries      = "/bot-deliveries"
	BotDelivery        = "/bot-deliveries/:id"
	BotDeliveryReplay  = "/bot-deliveries/:id/replay"
	Endpoints          = "/endpoints"
	EndpointNew        = "/endpoints/new"
	EndpointProvider   = "/endpoints/provider"
	Endpoint           = "/endpoints/:id"
	EndpointDelete     = "/endpoints/:id/delete"
	EndpointCopilotURL = "/endpoints/:id/copilot-url"
	EndpointPreflight  = "/endpoints/:id/preflight"
	EndpointRotateURL  = "/endpoints/:id/rotate-url-token"
	EndpointBotTest    = "/endpoints/:id/bot-test-event"
	Settings           = "/settings"
	Organisations      = "/settings/organisations"
	Account            = "/settings/account"
	AccountPassword    = "/settings/account/password"
	SignOutEverywhere  = "/settings/account/sign-out-everywhere"
	APIKeys            = "/apikeys"
	Instances          = "/instances"
	APIKeyRevoke       = "/apikeys/:id/revoke"

	// Register the endpoint's bot in its Bot Connector integration's bot list.
	EndpointRegisterBot = "/endpoints/:id/register-bot"

	// The OpenAPI 3.1 description of the bot API and the admin API.
	OpenAPI = "/api/openapi.json"

	// The JSON admin API.
	APIEndpoints = "/api/v1/admin/endpoints"
	APIEndpoint  = "/api/v1/admin/endpoints/:id"
	// A new URL token; the old one opens the bot API for HANDOVER_URL_TOKEN_GRACE.
	APIEndpointRotateURL = "/api/v1/admin/endpoints/:id/rotate-url-token"
	// What the console shows, as JSON: conversations with their timelines,
	// the webhook log with replay, the Genesys call log, a pre-flight run.
	APIConversations     = "/api/v1/admin/conversations"
	APIConversation      = "/api/v1/admin/conversations/:id"
	APIWebhooks          = "/api/v1/admin/webhooks"
	APIWebhook           = "/api/v1/admin/webhooks/:id"
	APIWebhookReplay     = "/api/v1/admin/webhooks/:id/replay"
	APIAPICalls          = "/api/v1/admin/api-calls"
	APIEndpointPreflight = "/api/v1/admin/endpoints/:id/preflight"
	// The log of event webhooks to bots, with replay, and a test event.
	APIBotDeliveries     = "/api/v1/admin/bot-deliveries"
	APIBotDelivery       = "/api/v1/admin/bot-deliveries/:id"
	APIBotDeliveryReplay = "/api/v1/admin/bot-deliveries/:id/replay"
	APIEndpointBotTest   = "/api/v1/admin/endpoints/:id/bot-test-event"
	// PUT the endpoint's bot to its Bot Connector integration's bot list.
	APIEndpointRegisterBot = "/api/v1/admin/endpoints/:id/register-bot"
	// The instances on the database and what each owns (docs/scaling.md).
	APIInstances = "/api/v1/admin/instances"
	// One person's data, exported (GET) and erased (DELETE).
	APIContact = "/api/v1/admin/contacts/:userId"

	// What Genesys calls: the Open Messaging webhook (the URL admins paste
	// into the integration) and Process Automation events.
	GenesysWebhook = "/handover/genesysCloudOM"
	GenesysEvents  = GenesysWebhook + "/events"

	// The fake Genesys Cloud and its agent desk, when HANDOVER_SANDBOX is on.
	Sandbox     = "/sandbox/genesys"
	SandboxDesk = Sandbox + "/desk"

	// Public pages: the agents' Copilot workspace and the demo web chat.
	Copilot = "/copilot"
	Chat    = "/chat/:demo"
	// The demo chat's API under its link: the bot API's handlers, each
	// session opened by its key.
	ChatMessage      = Chat + "/api"
	ChatHandover     = Chat + "/api/handover"
	ChatAvailability = Chat + "/api/availability"
	ChatTyping       = Chat + "/api/sessions/:session/typing"
	ChatEnd          = Chat + "/api/sessions/:session/end"
	ChatEvents       = Chat + "/api/sessions/:session/events"

	// Static files.
	Static = "/static"

	// The bot API under each endpoint's Config URL (/<token>).
	BotMessage      = "/:token"
	BotHandover     = "/:token/handover"
	BotAvailability = "/:token/availability"
	BotTyping       = "/:token/sessions/:session/typing"
	BotEnd          = "/:token/sessions/:session/end"
	BotEvents       = "/:token/sessions/:session/events"
	// The Handle Utterance URL of a Genesys Bot Connector endpoint: Genesys
	// posts each customer turn of a Call Bot Connector action here.
	BotConnector = "/:token/botconnector"
)
