package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/store"
)

// Pre-flight check keys, in the order they run and are shown.
const (
	CheckToken         = "token"
	CheckDeployment    = "deployment"
	CheckWebhookURL    = "webhook_url"
	CheckWebhookSecret = "webhook_secret"
	CheckQueueID       = "queue_id"
	CheckQueueTopic    = "queue_topic"
	CheckAvailability  = "availability"
	CheckBotList       = "bot_list"
)

// preflightTimeout bounds a whole run; each Genesys call has its own, shorter deadline.
const preflightTimeout = 60 * time.Second

// Preflight checks the endpoint's Genesys set-up against Genesys itself, the
// way a handover will use it, and keeps the result: a token from the OAuth
// client; the Deployment Name resolving to an integration whose webhook URL is
// webhookURL (this Handover's); a webhook secret Genesys accepts; a queue id
// that is a UUID, and its Notifications topic permitted to the client. A check
// that needs one that failed is skipped. The Genesys calls are recorded like
// every other call; the run creates one notification channel, which nothing
// connects to and Genesys drops first.
func (r *Relay) Preflight(ctx context.Context, e store.Endpoint, webhookURL string) (store.PreflightResult, error) {
	ctx, cancel := context.WithTimeout(withPriority(ctx, forWaiting), preflightTimeout)
	defer cancel()
	run := preflightRun{r: r, e: e}
	run.checks(ctx, webhookURL)
	result := store.PreflightResult{EndpointID: e.ID, RanAt: r.store.Now(), Results: run.results}
	if err := r.store.SavePreflightResult(context.WithoutCancel(ctx), &result); err != nil {
		return store.PreflightResult{}, err
	}
	r.log.InfoContext(ctx, "pre-flight check ran", slog.Int64("endpoint_id", e.ID), slog.Bool("passed", result.Passed()))
	return result, nil
}

type preflightRun struct {
	r       *Relay
	e       store.Endpoint
	client  *endpointClient
	results []store.PreflightCheck
}

func (p *preflightRun) add(key, title, status, detail, fix string) {
	p.results = append(p.results, store.PreflightCheck{Key: key, Title: title, Status: status, Detail: detail, Fix: fix})
}

func (p *preflightRun) checks(ctx context.Context, webhookURL string) {
	e := p.e
	const (
		titleToken      = "An OAuth token is obtained with the Client ID and Secret"
		titleDeployment = "The Deployment Name resolves to an Open Messaging integration"
		titleWebhookURL = "The integration's Outbound Notification Webhook URL is this Handover's"
		titleSecret     = "The webhook secret is longer than 15 characters"
		titleQueueID    = "The Queue ID is a UUID"
		titleTopic      = "The Notifications topic of the queue is permitted"
		titleQueueCalls = "The queue's agents and estimated wait can be read"
	)
	if e.Type == store.TypeGenesysBotConnector && e.Provider != store.ProviderGenesysCloudOM {
		// Genesys calls this endpoint and nothing is handed over through
		// Open Messaging: the bot list is all there is to check.
		p.checkBotList(ctx)
		return
	}
	tokenOK := p.checkToken(ctx, titleToken)

	var integration genesys.Integration
	deploymentOK := false
	if !tokenOK {
		p.add(CheckDeployment, titleDeployment, store.CheckSkipped, "Needs a token.", "")
	} else {
		integration, deploymentOK = p.checkDeployment(ctx, titleDeployment)
	}

	switch {
	case !deploymentOK:
		p.add(CheckWebhookURL, titleWebhookURL, store.CheckSkipped, "Needs the integration.", "")
	case SameWebhookURL(integration.OutboundNotificationWebhookURL, webhookURL):
		p.add(CheckWebhookURL, titleWebhookURL, store.CheckPassed, "Genesys sends the agents' messages to "+integration.OutboundNotificationWebhookURL+".", "")
	default:
		found := integration.OutboundNotificationWebhookURL
		if found == "" {
			found = "nowhere (the URL is empty)"
		}
		p.add(CheckWebhookURL, titleWebhookURL, store.CheckFailed, "Genesys sends the agents' messages to "+found+", so they never reach this Handover.",
			fmt.Sprintf("In Genesys Cloud, Admin › Message › Platforms, open the integration %q and set Outbound Notification Webhook URL to %s (Genesys delivers only to https on port 443), then save.", integration.Name, webhookURL))
	}

	if n := utf8.RuneCountInString(e.WebhookSecret); n >= genesys.MinWebhookSecretRunes {
		p.add(CheckWebhookSecret, titleSecret, store.CheckPassed,
			fmt.Sprintf("%d characters. Genesys never shows the integration's secret, so Handover cannot compare the two: a mismatch shows as webhooks refused with 401 on the Webhooks page.", n), "")
	} else {
		p.add(CheckWebhookSecret, titleSecret, store.CheckFailed, fmt.Sprintf("The endpoint's Webhook Secret has %d characters.", n),
			"Choose a secret of more than 15 characters, set it as the integration's Outbound Notification Webhook Signature Secret Token in Genesys Cloud and as this endpoint's Webhook Secret.")
	}

	queueOK := genesys.IsID(e.QueueID)
	if queueOK {
		p.add(CheckQueueID, titleQueueID, store.CheckPassed, e.QueueID, "")
	} else {
		p.add(CheckQueueID, titleQueueID, store.CheckFailed, fmt.Sprintf("%q is not a UUID.", e.QueueID),
			"In Genesys Cloud, Admin › Contact Center › Queues, open the queue: its id is the UUID at the end of the page address. Enter it as this endpoint's Queue ID.")
	}

	switch {
	case !tokenOK:
		p.add(CheckQueueTopic, titleTopic, store.CheckSkipped, "Needs a token.", "")
	case !queueOK:
		p.add(CheckQueueTopic, titleTopic, store.CheckSkipped, "Needs a queue id.", "")
	default:
		p.checkQueueTopic(ctx, titleTopic)
	}

	switch {
	case !tokenOK:
		p.add(CheckAvailability, titleQueueCalls, store.CheckSkipped, "Needs a token.", "")
	case !queueOK:
		p.add(CheckAvailability, titleQueueCalls, store.CheckSkipped, "Needs a queue id.", "")
	default:
		p.checkQueueCalls(ctx, titleQueueCalls)
	}

	if e.Type == store.TypeGenesysBotConnector {
		p.checkBotList(ctx)
	}
}

// checkBotList registers the endpoint's bot in its Bot Connector
// integration: Test connection is also how Architect learns the bot.
func (p *preflightRun) checkBotList(ctx context.Context) {
	const title = "The endpoint's bot is registered in the Bot Connector integration"
	bot, err := p.r.RegisterBot(ctx, p.e)
	if err == nil {
		p.add(CheckBotList, title, store.CheckPassed, fmt.Sprintf("Architect's Call Bot Connector action offers the bot %q (version %s, intent %s).", bot.Name, bot.Versions[0].Version, IntentHandover), "")
		return
	}
	fix := "Give the OAuth client's role the permission integrations:integration:edit (Integrations › Integration › Edit), and check the Bot Connector integration ID."
	if relayErr, ok := errors.AsType[*Error](err); ok {
		fix = relayErr.Message
	}
	p.add(CheckBotList, title, store.CheckFailed, err.Error(), fix)
}

// checkQueueCalls makes the two calls of an availability check. A refused
// one turns features off rather than breaking handovers, so it is a
// warning that names them and the permission that turns them on.
func (p *preflightRun) checkQueueCalls(ctx context.Context, title string) {
	o, observeErr := p.client.client.ObserveQueue(ctx, p.e.QueueID)
	seconds, estimated, estimateErr := p.client.client.EstimatedWaitTime(ctx, p.e.QueueID)
	var off, fixes []string
	if observeErr != nil {
		off = append(off, "availability (GET …/availability answers unknown, ifNoAgents refuse never refuses, queue updates carry no queue length)")
		fixes = append(fixes, permissionFix("analytics:queueObservation:view", observeErr))
	}
	if estimateErr != nil {
		off = append(off, "the estimated wait")
		fixes = append(fixes, permissionFix("routing:queue:view", estimateErr))
	}
	if len(off) > 0 {
		p.add(CheckAvailability, title, store.CheckWarning, "Off: "+strings.Join(off, "; ")+". Handovers still work.", strings.Join(fixes, " "))
		return
	}
	detail := fmt.Sprintf("%d agents On Queue (%d idle), %d waiting; ", o.AgentsOnQueue, o.AgentsIdle, o.Waiting)
	if estimated {
		detail += fmt.Sprintf("estimated wait %s.", time.Duration(seconds)*time.Second)
	} else {
		detail += "no estimated wait from Genesys now."
	}
	p.add(CheckAvailability, title, store.CheckPassed, detail, "")
}

// permissionFix says how to turn a refused queue call back on.
func permissionFix(permission string, err error) string {
	if apiErr, ok := errors.AsType[*genesys.APIError](err); ok && apiErr.Status == http.StatusForbidden {
		return "Give the OAuth client's role the permission " + permission + "."
	}
	return "Genesys did not answer (" + err.Error() + "); run the check again."
}

func (p *preflightRun) checkToken(ctx context.Context, title string) bool {
	if p.e.Provider != store.ProviderGenesysCloudOM {
		p.add(CheckToken, title, store.CheckFailed, "The endpoint has no handover provider.", "Choose Genesys Cloud Open Messaging as the Handover provider and save.")
		return false
	}
	c, err := p.r.client(p.e)
	if err != nil {
		p.add(CheckToken, title, store.CheckFailed, err.Error(), "Enter the Host (your org's region, for example mypurecloud.de), the Client ID and the Client Secret, and save.")
		return false
	}
	p.client = c
	loginURL := genesys.Host(p.e.Host).LoginURL()
	err = c.client.CheckToken(ctx)
	if err == nil {
		p.add(CheckToken, title, store.CheckPassed, "Genesys issued a token at "+loginURL+".", "")
		return true
	}
	fix := "In Genesys Cloud, Admin › Integrations › OAuth, open the client: its grant type must be Client Credentials. Copy its Client ID and Client Secret into this endpoint, and check that Host is the org's region."
	if _, ok := errors.AsType[*genesys.TransportError](err); ok {
		fix = "Handover could not reach " + loginURL + ". Check that Host is your org's region (for example mypurecloud.de, not a misspelt domain) and that this server may reach it (firewall, proxy)."
	}
	p.add(CheckToken, title, store.CheckFailed, err.Error(), fix)
	return false
}

func (p *preflightRun) checkDeployment(ctx context.Context, title string) (genesys.Integration, bool) {
	integration, err := p.client.client.ResolveIntegration(ctx, p.e.DeploymentName)
	if err != nil {
		fix := "In Genesys Cloud, Admin › Message › Platforms, copy the exact name of the Open Messaging integration into this endpoint's Deployment Name."
		if apiErr, ok := errors.AsType[*genesys.APIError](err); ok && apiErr.Status == http.StatusForbidden {
			fix = "Give the OAuth client's role the permission messaging:integration:view."
		}
		if !genesys.IsRetryable(err) {
			p.record(ctx, "", err.Error())
		}
		p.add(CheckDeployment, title, store.CheckFailed, err.Error(), fix)
		return genesys.Integration{}, false
	}
	p.record(ctx, integration.ID, "")
	detail := fmt.Sprintf("%q is integration %s", integration.Name, integration.ID)
	if integration.Status != "" {
		detail += ", status " + integration.Status
	}
	if integration.CreateStatus == "Error" {
		p.add(CheckDeployment, title, store.CheckFailed, detail+", but Genesys failed to create it (createStatus Error).",
			"Delete the integration in Genesys Cloud, Admin › Message › Platforms, and create it again.")
		return integration, false
	}
	p.add(CheckDeployment, title, store.CheckPassed, detail+".", "")
	return integration, true
}

// record keeps what the Deployment Name resolved to on the endpoint, as a handover would.
func (p *preflightRun) record(ctx context.Context, integrationID, errText string) {
	if p.e.IntegrationID == integrationID && p.e.IntegrationError == errText {
		return
	}
	if err := p.r.store.SetEndpointIntegration(context.WithoutCancel(ctx), p.e.ID, integrationID, errText); err != nil {
		p.r.log.ErrorContext(ctx, "record integration of endpoint", slog.Any("error", err))
	}
}

func (p *preflightRun) checkQueueTopic(ctx context.Context, title string) {
	topic := genesys.QueueConversationsTopic(strings.ToLower(p.e.QueueID))
	// The OAuth client's own channel, with the topic added: a preflight
	// must not spend one of the client's 20 channels (docs/scaling.md).
	name := ownershipName(clientKey(p.e))
	noted, err := p.r.store.OwnershipNote(ctx, name)
	var channel genesys.NotificationChannel
	if err == nil {
		channel, err = p.r.notificationChannel(ctx, p.client, noted, func(id string) error { return p.r.store.NoteUnowned(ctx, name, id) })
	}
	var topics []genesys.ChannelTopic
	if err == nil {
		topics, err = p.client.client.AddSubscriptions(ctx, channel.ID, []string{topic})
	}
	const fixPermission = "Give the OAuth client's role a permission that lets it see the queue's conversations, granted on the division that holds the queue, and check that the Queue ID names an existing queue. Until then Handover notices agents joining and leaving only by polling each conversation."
	if err != nil {
		p.add(CheckQueueTopic, title, store.CheckFailed, err.Error(), fixPermission)
		return
	}
	for _, t := range topics {
		if t.ID != topic {
			continue
		}
		if strings.EqualFold(t.State, "Permitted") {
			p.add(CheckQueueTopic, title, store.CheckPassed, topic+" is Permitted.", "")
			return
		}
		detail := fmt.Sprintf("%s is %s", topic, t.State)
		if t.RejectionReason != "" {
			detail += ": " + t.RejectionReason
		}
		if len(t.MissingPermissions) > 0 {
			detail += ". Missing permissions: " + strings.Join(t.MissingPermissions, ", ")
		}
		p.add(CheckQueueTopic, title, store.CheckFailed, detail+".", fixPermission)
		return
	}
	p.add(CheckQueueTopic, title, store.CheckFailed, "Genesys did not list "+topic+" among the channel's subscriptions.", fixPermission)
}

// SameWebhookURL tells whether two webhook URLs name the same place: scheme
// and host compare without regard to case, a default port equals no port, a
// trailing slash does not count, and loopback names (localhost, 127.0.0.1,
// ::1) are one host.
func SameWebhookURL(a, b string) bool {
	ua, errA := url.Parse(strings.TrimSpace(a))
	ub, errB := url.Parse(strings.TrimSpace(b))
	if errA != nil || errB != nil || ua.Host == "" || ub.Host == "" {
		return false
	}
	if !strings.EqualFold(ua.Scheme, ub.Scheme) || ua.RawQuery != ub.RawQuery {
		return false
	}
	if strings.TrimRight(ua.EscapedPath(), "/") != strings.TrimRight(ub.EscapedPath(), "/") {
		return false
	}
	hostA, hostB := strings.ToLower(ua.Hostname()), strings.ToLower(ub.Hostname())
	if hostA != hostB && !(isLoopbackHost(hostA) && isLoopbackHost(hostB)) {
		return false
	}
	return effectivePort(ua) == effectivePort(ub)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
