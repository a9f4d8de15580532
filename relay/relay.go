// Package relay is the handover engine: it starts handovers, carries user
// messages to Genesys through a durable outbox, turns Genesys webhooks into
// events for the bot, and notices when the agent joins and leaves.
package relay

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
)

// Config tunes the relay; zero values take the defaults below.
type Config struct {
	Store      *store.Store
	Broker     *live.Broker
	Logger     *slog.Logger
	HTTPClient *http.Client // for Genesys; genesys.NewHTTPClient() when nil
	// BotHTTPClient calls the endpoints' external bots (their Bot URLs),
	// within the reach HANDOVER_ALLOW_PRIVATE_GENESYS allows Genesys calls;
	// one that refuses private addresses when nil.
	BotHTTPClient *http.Client
	// BotTimeout bounds each call of an external bot, so that a Bot
	// Connector turn is answered within Genesys's time limit
	// (docs/genesys.md §BotConnector); DefaultBotTimeout when zero.
	BotTimeout time.Duration
	// Dialer dials the notifications WebSocket (within the same reach as
	// HTTPClient); one that allows private addresses when nil.
	Dialer *net.Dialer

	// Outbox retries: exponential backoff with jitter from RetryBase up to
	// RetryMax between attempts, for at most RetryFor after the message was
	// accepted; then the call is marked failed.
	RetryBase time.Duration
	RetryMax  time.Duration
	RetryFor  time.Duration
	// Workers is how many Genesys calls are in flight at once.
	Workers int
	// RequestsPerMinute is the client-side budget per OAuth client, below
	// Genesys's limit of 300 per minute per token.
	RequestsPerMinute int
	// WebhookReplayWindow: a signed webhook whose channel.time is further
	// from now than this is answered 200 but not applied (a replay, or a
	// clock far off); 0 applies every one. Dedupe keys are kept at least
	// this long whatever the log retention.
	WebhookReplayWindow time.Duration
	// PollInterval is how often an open conversation's state is read from
	// Genesys when no notification has said anything about it.
	PollInterval time.Duration
	// SingleInstance lets a start release outbox leases at once and keep
	// the Genesys budget in memory (SQLite): no other instance shares them.
	SingleInstance bool
	// Instance is who this process is among the instances on the database
	// (its ID owns outbox leases and ownerships); a random ID when empty.
	Instance store.Instance
	// HeartbeatInterval is how often the instance says it is alive and
	// renews what it owns; 2 s when zero. DeadAfter is how long an instance
	// may stay silent before the others take its work over; 10 s when zero
	// (docs/scaling.md).
	HeartbeatInterval time.Duration
	DeadAfter         time.Duration
	// Observer is told about handovers and webhooks (metrics); nil for none.
	Observer Observer
	// CallTimeout bounds each Genesys call; genesys.DefaultCallTimeout when zero.
	CallTimeout time.Duration
	// RefusedLogPerMinute is how many refused webhooks per minute from one
	// source address the webhook log keeps as rows; beyond it they are only
	// counted. DefaultRefusedLogPerMinute when zero.
	RefusedLogPerMinute int
	// WebhookStatus is the HTTP status the web layer answers a webhook of a
	// verdict with (handlers.WebhookStatus: one table, owned there); the
	// webhook log records it. Nil records 0.
	WebhookStatus func(verdict string) int
	// AvailabilityCacheFor is how long a queue's availability is reused
	// before Genesys is asked again; 5 s when zero.
	AvailabilityCacheFor time.Duration
	// WaitingInterval is how often waiting handovers are looked at: queue
	// updates, the queue timeout and the inactivity timeout; 5 s when zero.
	WaitingInterval time.Duration
	// Event webhooks to the bot (README "Event webhooks to the bot"):
	// BotWebhookClient sends them (one that reaches private addresses when
	// nil); each attempt waits BotWebhookTimeout (10 s) for the answer;
	// retries back off from BotRetryBase (5 s) to BotRetryMax (1 h) for
	// BotRetryFor (24 h) after the event; BotWorkers (8) are in flight.
	BotWebhookClient  *http.Client
	BotWebhookTimeout time.Duration
	BotRetryBase      time.Duration
	BotRetryMax       time.Duration
	BotRetryFor       time.Duration
	BotWorkers        int
	// LogMaxBytes caps the estimated size of the webhook and Genesys call
	// logs together (store.LogBytes); PruneLogs deletes the oldest rows
	// beyond it. 0 for no cap.
	LogMaxBytes int64
}

func (c *Config) defaults() {
	if c.HTTPClient == nil {
		c.HTTPClient = genesys.NewHTTPClient()
	}
	if c.BotHTTPClient == nil {
		c.BotHTTPClient = genesys.NewHTTPClientWith(genesys.HTTPOptions{})
	}
	if c.BotTimeout <= 0 {
		c.BotTimeout = DefaultBotTimeout
	}
	if c.Dialer == nil {
		c.Dialer = genesys.NewDialer(genesys.HTTPOptions{AllowPrivate: true})
	}
	if c.Broker == nil {
		c.Broker = live.NewBroker()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.RetryBase <= 0 {
		c.RetryBase = time.Second
	}
	if c.BotWebhookClient == nil {
		// Closed by default, as BotHTTPClient: a caller allows private
		// addresses on purpose (HANDOVER_ALLOW_PRIVATE_BOT_URLS, tests).
		c.BotWebhookClient = genesys.NewHTTPClientWith(genesys.HTTPOptions{})
	}
	c.BotWebhookTimeout = cmp.Or(c.BotWebhookTimeout, 10*time.Second)
	c.BotRetryBase = cmp.Or(c.BotRetryBase, 5*time.Second)
	c.BotRetryMax = cmp.Or(c.BotRetryMax, time.Hour)
	c.BotRetryFor = cmp.Or(c.BotRetryFor, 24*time.Hour)
	c.BotWorkers = cmp.Or(c.BotWorkers, 8)
	if c.RetryMax <= 0 {
		c.RetryMax = 30 * time.Second
	}
	if c.RetryFor <= 0 {
		c.RetryFor = 15 * time.Minute
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.RequestsPerMinute <= 0 {
		c.RequestsPerMinute = 300
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 30 * time.Second
	}
	if c.RefusedLogPerMinute <= 0 {
		c.RefusedLogPerMinute = DefaultRefusedLogPerMinute
	}
	if c.AvailabilityCacheFor <= 0 {
		c.AvailabilityCacheFor = 5 * time.Second
	}
	if c.WaitingInterval <= 0 {
		c.WaitingInterval = 5 * time.Second
	}
	if c.Instance.ID == "" {
		c.Instance.ID = secret.NewToken(8)
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 2 * time.Second
	}
	if c.DeadAfter <= 0 {
		c.DeadAfter = 10 * time.Second
	}
}

// DefaultBotTimeout is how long a turn waits for an external bot: under the
// ten seconds Genesys is understood to wait for a Bot Connector answer
// (docs/genesys.md §BotConnector), with room for Handover's own work.
const DefaultBotTimeout = 7 * time.Second

// Relay is the running handover engine.
type Relay struct {
	cfg      Config
	store    *store.Store
	broker   *live.Broker
	log      *slog.Logger
	obs      Observer
	instance string // this process's id: the owner of its outbox leases and ownerships

	wake    chan struct{} // the outbox has something new
	botWake chan struct{} // the bot deliveries have something new

	mu      sync.Mutex
	clients map[int64]*endpointClient
	budgets map[string]budget // by clientKey

	profiles contentProfiles // supported content profiles, per endpoint
	// owned is the endpoints whose OAuth client this instance owns: it polls
	// their conversations (watchNotifications keeps it).
	owned atomic.Pointer[map[int64]bool]
	// sharing counts the endpoints of each OAuth client (by clientKey), for
	// their fair shares of its budget (watchNotifications keeps it).
	sharing atomic.Pointer[map[string]int]

	webhookQueues   []chan int64 // webhook ids, sharded by customer id to keep order
	webhookOverflow atomic.Bool  // a queue was full: the sweep must pick up what it dropped

	refused *refusedLimiter // refused webhooks logged per source and minute

	availability availabilityCache
	sanitizer    inputSanitizer
	// waitingWake makes the waiting loop look now (a new handover).
	waitingWake chan struct{}
}

// endpointClient is the Genesys client of one endpoint's settings.
type endpointClient struct {
	fingerprint string
	client      *genesys.Client
	budget      budget // the OAuth client's request budget
	share       budget // the endpoint's fair share of it; nil when it has the client alone
	sharing     int    // how many endpoints shared the client when it was made
}

// webhookQueueSize is how many stored webhooks each processor can have
// waiting; beyond it they wait in the database for the sweep.
const webhookQueueSize = 16384

// refusedFlushInterval is how often the counts of refused webhooks that were
// not logged are written, once their minute is over.
const refusedFlushInterval = 10 * time.Second

// webhookShards is how many webhook processors run; one customer's webhooks
// always go to the same one, so they are processed in the order received.
const webhookShards = 8

// New builds a relay; Run starts its workers.
func New(cfg Config) *Relay {
	cfg.defaults()
	r := &Relay{
		cfg:      cfg,
		store:    cfg.Store,
		broker:   cfg.Broker,
		log:      cfg.Logger,
		obs:      cfg.Observer,
		instance: cfg.Instance.ID,
		wake:     make(chan struct{}, 1),
		botWake:  make(chan struct{}, 1),
		clients:  map[int64]*endpointClient{},
		budgets:  map[string]budget{},
		profiles: contentProfiles{entries: map[int64]contentProfile{}},
		refused:  newRefusedLimiter(cfg.RefusedLogPerMinute),

		availability: availabilityCache{entries: map[string]*availabilityEntry{}},
		sanitizer:    newInputSanitizer(),
		waitingWake:  make(chan struct{}, 1),
	}
	for range webhookShards {
		r.webhookQueues = append(r.webhookQueues, make(chan int64, webhookQueueSize))
	}
	return r
}

// Run works the outbox, the webhook processors and end detection until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	if r.cfg.SingleInstance {
		if err := r.store.ReleaseOutboxLeases(ctx); err != nil {
			return err
		}
		if err := r.store.ReleaseBotDeliveryLeases(ctx); err != nil {
			return err
		}
	}
	// Registered before any lease is taken, so that the others can tell
	// when this instance dies.
	if err := r.store.Heartbeat(ctx, r.cfg.Instance); err != nil {
		return err
	}
	defer r.stopInstance(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.heartbeat(ctx) })
	for _, queue := range r.webhookQueues {
		wg.Go(func() { r.processWebhooks(ctx, queue) })
	}
	wg.Go(func() { r.sweepWebhooks(ctx) })
	wg.Go(func() { r.runOutbox(ctx) })
	wg.Go(func() { r.runBotDeliveries(ctx) })
	wg.Go(func() { r.pollConversations(ctx) })
	wg.Go(func() { r.watchNotifications(ctx) })
	wg.Go(func() { r.watchWaiting(ctx) })
	wg.Go(func() { r.flushRefusedCountsEvery(ctx, refusedFlushInterval) })
	wg.Wait()
	return nil
}

// notifyOutbox wakes the outbox worker without waiting.
func (r *Relay) notifyOutbox() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// client returns the Genesys client for the endpoint's current settings.
func (r *Relay) client(e store.Endpoint) (*endpointClient, error) {
	sum := sha256.Sum256([]byte(e.Host + "\x00" + e.ClientID + "\x00" + e.ClientSecret))
	fingerprint := hex.EncodeToString(sum[:])
	r.mu.Lock()
	defer r.mu.Unlock()
	key := clientKey(e)
	sharing := r.endpointsSharing(key)
	if c, ok := r.clients[e.ID]; ok && c.fingerprint == fingerprint && c.sharing == sharing {
		return c, nil
	}
	// One budget per OAuth client: endpoints sharing it share the budget,
	// and every call of theirs spends from it. A user's call also spends
	// from its endpoint's fair share, so that a flood on one endpoint
	// leaves the others theirs.
	b, ok := r.budgets[key]
	if !ok {
		b = r.newBudget(key, r.cfg.RequestsPerMinute)
		r.budgets[key] = b
	}
	var share budget
	if sharing > 1 {
		share = r.newBudget(fmt.Sprintf("%s:endpoint:%d", key, e.ID), max(1, r.cfg.RequestsPerMinute/sharing))
	}
	client, err := genesys.NewClient(genesys.Config{Host: genesys.Host(e.Host), ClientID: e.ClientID, ClientSecret: e.ClientSecret, HTTPClient: r.cfg.HTTPClient, CallTimeout: r.cfg.CallTimeout,
		OnCall: r.callRecorder(e.ID), BeforeCall: func(ctx context.Context) error { return spendFor(ctx, b, share) }})
	if err != nil {
		return nil, err
	}
	c := &endpointClient{fingerprint: fingerprint, client: client, budget: b, share: share, sharing: sharing}
	r.clients[e.ID] = c
	return c, nil
}

// integrationID returns the endpoint's integration id, resolving the
// Deployment Name through Genesys when it is not known yet (or refresh is set).
func (r *Relay) integrationID(ctx context.Context, e store.Endpoint, refresh bool) (string, error) {
	if e.IntegrationID != "" && !refresh {
		return e.IntegrationID, nil
	}
	c, err := r.client(e)
	if err != nil {
		return "", err
	}
	integration, err := c.client.ResolveIntegration(ctx, e.DeploymentName)
	if err != nil {
		if !transient(err) {
			// Shown on the endpoint page: the admin has to fix the settings.
			if recErr := r.store.SetEndpointIntegration(ctx, e.ID, "", err.Error()); recErr != nil {
				r.log.ErrorContext(ctx, "record integration error", slog.Any("error", recErr))
			}
		}
		return "", fmt.Errorf("resolve deployment %q: %w", e.DeploymentName, err)
	}
	if err := r.store.SetEndpointIntegration(ctx, e.ID, integration.ID, ""); err != nil {
		return "", err
	}
	return integration.ID, nil
}

// publish announces a change of a conversation to its session and to the console.
func (r *Relay) publish(c store.Conversation) {
	r.broker.Publish(live.Session(c.EndpointID, c.SessionID), live.Signal{Kind: live.Changed})
	r.broker.Publish(live.Conversation(c.ID), live.Signal{Kind: live.Changed})
	r.broker.Publish(live.Conversations, live.Signal{Kind: live.Changed})
	r.notifyBotDeliveries()
}
