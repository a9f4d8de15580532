package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/store"
)

// What must run once per OAuth client, however many instances run, runs on
// the instance that owns the client (docs/scaling.md): one notification
// channel with its WebSocket, subscribed to the queues of every endpoint of
// the client, and the poll of those endpoints' open conversations. Genesys
// allows 20 channels per OAuth client and silently replaces the oldest when
// a 21st is created (docs/genesys.md §Notifications), so the channel's id is
// noted on the ownership and the next owner reuses it instead of creating
// another.

// notificationGroup is the endpoints of one OAuth client that hand over to Genesys.
type notificationGroup struct {
	key       string // clientKey
	endpoints []store.Endpoint
	topics    []string // their queues' topics, sorted, each once
}

// spec changes when the group's socket must be made again: other
// credentials, other queues.
func (g notificationGroup) spec() string {
	e := g.endpoints[0]
	return e.Host + "\x00" + e.ClientID + "\x00" + e.ClientSecret + "\x00" + strings.Join(g.topics, ",")
}

func (g notificationGroup) has(endpointID int64) bool {
	return slices.ContainsFunc(g.endpoints, func(e store.Endpoint) bool { return e.ID == endpointID })
}

// ownershipName is the ownership of an OAuth client's channel and polls.
func ownershipName(key string) string { return "genesys-client:" + key }

// OwnershipEndpoints names the endpoints an ownership is for (the
// instances page): those of its OAuth client.
func OwnershipEndpoints(name string, endpoints []store.Endpoint) []store.Endpoint {
	for key, g := range notificationGroups(endpoints) {
		if ownershipName(key) == name {
			return g.endpoints
		}
	}
	return nil
}

// Ownerships names what one instance at a time must run for the endpoints
// there are now: an ownership per OAuth client.
func (r *Relay) Ownerships(ctx context.Context) ([]string, error) {
	endpoints, err := r.store.ListEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for key := range notificationGroups(endpoints) {
		names = append(names, ownershipName(key))
	}
	slices.Sort(names)
	return names, nil
}

// countSharing records how many endpoints use each OAuth client, for their
// fair shares of its budget.
func (r *Relay) countSharing(groups map[string]notificationGroup) {
	counts := make(map[string]int, len(groups))
	for key, g := range groups {
		counts[key] = len(g.endpoints)
	}
	r.sharing.Store(&counts)
}

// notificationGroups groups the endpoints that hand over to Genesys by OAuth client.
func notificationGroups(endpoints []store.Endpoint) map[string]notificationGroup {
	groups := map[string]notificationGroup{}
	for _, e := range endpoints {
		if e.Provider != store.ProviderGenesysCloudOM || e.ClientID == "" {
			continue
		}
		key := clientKey(e)
		g := groups[key]
		g.key = key
		g.endpoints = append(g.endpoints, e)
		if e.QueueID != "" {
			if t := genesys.QueueConversationsTopic(e.QueueID); !slices.Contains(g.topics, t) {
				g.topics = append(g.topics, t)
			}
		}
		groups[key] = g
	}
	for key, g := range groups {
		slices.Sort(g.topics)
		groups[key] = g
	}
	return groups
}

// ownsEndpoint tells whether this instance owns the endpoint's OAuth client
// (and so polls its conversations).
func (r *Relay) ownsEndpoint(endpointID int64) bool {
	owned := r.owned.Load()
	return owned != nil && (*owned)[endpointID]
}

// watchNotifications takes or renews, every HeartbeatInterval, the
// ownership of each OAuth client, and runs the client's channel while this
// instance owns it.
func (r *Relay) watchNotifications(ctx context.Context) {
	type watcher struct {
		spec   string
		cancel context.CancelFunc
	}
	watchers := map[string]watcher{}
	var wg sync.WaitGroup
	defer func() {
		for _, w := range watchers {
			w.cancel()
		}
		wg.Wait()
		r.owned.Store(nil)
	}()
	tick := time.NewTicker(r.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		endpoints, err := r.store.ListEndpoints(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "list endpoints for notifications", slog.Any("error", err))
		}
		groups := notificationGroups(endpoints)
		r.countSharing(groups)
		owned := map[int64]bool{}
		for key, g := range groups {
			own, held, err := r.store.Own(ctx, ownershipName(key), r.instance, r.cfg.DeadAfter, r.cfg.DeadAfter)
			if err != nil && ctx.Err() == nil {
				// Unsure whether it still owns the client: stop, so that two
				// instances never hold one channel (they would knock each
				// other off).
				r.log.ErrorContext(ctx, "renew the ownership of an OAuth client", slog.Any("error", err))
			}
			w, running := watchers[key]
			if !held {
				if running {
					r.log.InfoContext(ctx, "another instance owns the OAuth client now", slog.String("client", key))
					w.cancel()
					delete(watchers, key)
				}
				continue
			}
			for _, e := range g.endpoints {
				owned[e.ID] = true
			}
			if running && w.spec == g.spec() {
				continue
			}
			if running {
				w.cancel()
			}
			if !running {
				r.log.InfoContext(ctx, "this instance owns the OAuth client's notifications and polls", slog.String("client", key))
			}
			wctx, cancel := context.WithCancel(ctx)
			watchers[key] = watcher{spec: g.spec(), cancel: cancel}
			note := own.Data
			wg.Go(func() { r.notificationLoop(wctx, g, note) })
		}
		for key, w := range watchers {
			if _, ok := groups[key]; !ok {
				w.cancel()
				delete(watchers, key)
			}
		}
		r.owned.Store(&owned)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// notificationLoop connects, reads and reconnects with backoff until ctx ends.
func (r *Relay) notificationLoop(ctx context.Context, g notificationGroup, channelID string) {
	if len(g.topics) == 0 {
		return // no queue to watch: polls alone
	}
	// The channel's few calls (create, subscribe, list) are what end
	// detection rests on: they take from the budget as a user's call does.
	// With forWaiting they starved for as long as user messages kept the
	// bucket below half the burst, and agents' ends went unseen meanwhile.
	// Reconnects back off from a second, so they cannot crowd users out.
	ctx = withPriority(ctx, forUser)
	backoff := time.Second
	for ctx.Err() == nil {
		started := time.Now()
		var err error
		channelID, err = r.readNotifications(ctx, g, channelID)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		r.log.WarnContext(ctx, "notifications connection ended; reconnecting", slog.String("client", g.key), slog.Duration("in", backoff), slog.Any("error", err))
		sleep(ctx, backoff)
		backoff = min(backoff*2, 5*time.Minute)
	}
}

// notificationReadTimeout: Genesys sends a heartbeat every 30 s; two missed
// mean the socket is dead even if TCP has not noticed.
const notificationReadTimeout = 75 * time.Second

// readNotifications subscribes the group's topics on its channel, connects,
// reconciles, and reads until the socket ends. It returns the channel's id
// for the next connection.
func (r *Relay) readNotifications(ctx context.Context, g notificationGroup, channelID string) (string, error) {
	c, err := r.client(g.endpoints[0])
	if err != nil {
		return channelID, err
	}
	ch, err := r.notificationChannel(ctx, c, channelID, func(id string) error {
		return r.store.SetOwnershipNote(ctx, ownershipName(g.key), r.instance, id)
	})
	if err != nil {
		return channelID, err
	}
	topics, err := c.client.SetSubscriptions(ctx, ch.ID, g.topics)
	if err != nil {
		if apiErr, ok := errors.AsType[*genesys.APIError](err); ok && apiErr.Status == http.StatusNotFound {
			return "", fmt.Errorf("channel gone: %w", err) // the next attempt makes a new one
		}
		return ch.ID, fmt.Errorf("subscribe %s: %w", strings.Join(g.topics, ", "), err)
	}
	permitted := map[string]bool{}
	for _, t := range topics {
		if t.State == "Rejected" {
			// Polling still works; say why the fast path does not.
			r.log.WarnContext(ctx, "queue topic rejected", slog.String("topic", t.ID), slog.String("reason", t.RejectionReason),
				slog.String("missing_permissions", strings.Join(t.MissingPermissions, ", ")))
			continue
		}
		permitted[t.ID] = true
	}
	if len(permitted) == 0 {
		return ch.ID, fmt.Errorf("every topic was rejected: %s", strings.Join(g.topics, ", "))
	}
	dialer := websocket.Dialer{NetDialContext: r.cfg.Dialer.DialContext, Proxy: http.ProxyFromEnvironment, HandshakeTimeout: 45 * time.Second}
	conn, _, err := dialer.DialContext(ctx, ch.ConnectURI, nil)
	if err != nil {
		return ch.ID, fmt.Errorf("connect notifications socket: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	r.log.InfoContext(ctx, "notifications connected", slog.String("client", g.key), slog.Int("topics", len(permitted)))
	r.reconcile(ctx, g)

	for {
		conn.SetReadDeadline(time.Now().Add(notificationReadTimeout))
		_, data, err := conn.ReadMessage()
		if err != nil {
			return ch.ID, fmt.Errorf("read notifications: %w", err)
		}
		var ev genesys.NotificationEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			r.log.WarnContext(ctx, "unreadable notification", slog.Any("error", err))
			continue
		}
		switch {
		case ev.TopicName == genesys.TopicHeartbeat:
		case ev.TopicName == genesys.TopicSocketClosing || strings.HasPrefix(ev.TopicName, "v2.system."):
			return ch.ID, fmt.Errorf("Genesys closes the socket (%s)", ev.TopicName)
		case permitted[ev.TopicName]:
			r.applyQueueEvent(ctx, g, ev)
		}
	}
}

// applyQueueEvent applies a queue topic's snapshot to the conversation it is
// about, when it is one of the group's.
func (r *Relay) applyQueueEvent(ctx context.Context, g notificationGroup, ev genesys.NotificationEvent) {
	var snapshot genesys.MessageConversation
	if err := json.Unmarshal(ev.EventBody, &snapshot); err != nil {
		r.log.WarnContext(ctx, "unreadable queue event", slog.Any("error", err))
		return
	}
	conv, err := r.store.ConversationByGenesysID(ctx, snapshot.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !g.has(conv.EndpointID)) {
		return // another system's conversation on the same queue
	}
	if err == nil {
		err = r.applyGenesysState(ctx, conv, snapshot.Participants)
	}
	if err != nil {
		r.log.ErrorContext(ctx, "apply queue event", slog.String("genesys_conversation_id", snapshot.ID), slog.Any("error", err))
	}
}

// notificationChannel returns the OAuth client's channel: the one noted as
// channelID when Genesys still lists it (another instance's, or this one's
// before a reconnect), or a new one, noted for the next owner.
func (r *Relay) notificationChannel(ctx context.Context, c *endpointClient, channelID string, note func(channelID string) error) (genesys.NotificationChannel, error) {
	if channelID != "" {
		channels, err := c.client.ListNotificationChannels(ctx)
		if err != nil {
			return genesys.NotificationChannel{}, fmt.Errorf("list notification channels: %w", err)
		}
		for _, ch := range channels {
			if ch.ID == channelID && ch.ConnectURI != "" {
				return ch, nil
			}
		}
	}
	ch, err := c.client.CreateNotificationChannel(ctx)
	if err != nil {
		return genesys.NotificationChannel{}, fmt.Errorf("create notification channel: %w", err)
	}
	if err := note(ch.ID); err != nil {
		r.log.ErrorContext(ctx, "note the notification channel", slog.Any("error", err))
	}
	return ch, nil
}

// reconcile polls the group's open conversations after a (re)connect, for
// the events the socket missed while it was down (or while no instance
// owned the client).
func (r *Relay) reconcile(ctx context.Context, g notificationGroup) {
	open, err := r.store.OpenConversationsWithGenesysID(ctx, 1000)
	if err != nil {
		return
	}
	for _, conv := range open {
		if g.has(conv.EndpointID) {
			if err := r.PollConversation(ctx, conv); errors.Is(err, errBudget) {
				return
			}
		}
	}
}
