package sandbox

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/handover-relay/handover/genesys"
)

// Notification Service limits (docs/genesys.md §Notifications).
const (
	channelLifetime      = 24 * time.Hour
	maxChannelsPerClient = 20
	maxTopicsPerChannel  = 1000
	socketSendBuffer     = 256
	socketWriteTimeout   = 10 * time.Second
	metadataTopic        = "channel.metadata"
	heartbeatMessage     = "WebSocket Heartbeat"
	pongMessage          = "pong"
	notificationVersion  = "2" // docs/genesys.md §Notifications's example and Genesys's EventBridge samples; its meaning is undocumented
)

// queueTopic matches the one topic family the sandbox serves.
var queueTopic = regexp.MustCompile(`^v2\.routing\.queues\.([^.]+)\.conversations\.messages$`)

// notificationChannel is a channel created with POST /api/v2/notifications/channels.
type notificationChannel struct {
	id       string
	clientID string
	token    string // the access token that created it
	created  time.Time
	expires  time.Time
	topics   []string // permitted topics, in subscription order
	socket   *socket  // the connected WebSocket, if any; one per channel
}

// socket is one connected WebSocket. Everything it sends goes through send,
// as a WebSocket connection allows one writer at a time.
type socket struct {
	send chan []byte
	done chan struct{}
	once sync.Once
}

func newSocket() *socket {
	return &socket{send: make(chan []byte, socketSendBuffer), done: make(chan struct{})}
}

func (k *socket) close() { k.once.Do(func() { close(k.done) }) }

// offer queues a message without blocking. A socket too slow to keep up
// loses it, as a real one can (docs/genesys.md §Notifications: no durability).
func (k *socket) offer(msg []byte) bool {
	select {
	case k.send <- msg:
		return true
	default:
		return false
	}
}

// notification is the envelope of every WebSocket message (docs/genesys.md §Notifications).
type notification struct {
	TopicName string                `json:"topicName"`
	Version   string                `json:"version,omitempty"`
	Metadata  *notificationMetadata `json:"metadata,omitempty"`
	EventBody any                   `json:"eventBody"`
}

type notificationMetadata struct {
	CorrelationID string `json:"CorrelationId"`
}

type channelTopic struct {
	ID                 string   `json:"id"`
	State              string   `json:"state,omitempty"`
	RejectionReason    string   `json:"rejectionReason,omitempty"`
	MissingPermissions []string `json:"missingPermissions,omitempty"`
}

type channelTopicListing struct {
	Entities []channelTopic `json:"entities"`
}

type channelResource struct {
	ConnectURI string `json:"connectUri,omitempty"`
	ID         string `json:"id"`
	Expires    string `json:"expires"`
}

func metadataMessage(text string) []byte {
	data, _ := json.Marshal(notification{TopicName: metadataTopic, EventBody: map[string]string{"message": text}})
	return data
}

// connectURI turns the public base URL into the WebSocket URL of a channel.
func (s *Sandbox) connectURI(channelID string) string {
	base := s.cfg.PublicBaseURL
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		base = "wss://" + rest
	} else {
		base = "ws://" + strings.TrimPrefix(base, "http://")
	}
	return base + "/streaming/channels/" + channelID
}

// createChannel is POST /api/v2/notifications/channels (docs/genesys.md §Notifications).
// A client may hold 20 channels; a 21st replaces the one used least
// recently, preferring channels without a socket.
func (s *Sandbox) createChannel(c *fiber.Ctx) error {
	clientID, _ := c.Locals(localClientID).(string)
	tok, _ := c.Locals(localToken).(string)
	now := s.now()
	ch := &notificationChannel{
		id:       "streaming-0-" + strings.ReplaceAll(uuid.NewString(), "-", ""),
		clientID: clientID,
		token:    tok,
		created:  now,
		expires:  now.Add(channelLifetime),
	}
	s.mu.Lock()
	var own []*notificationChannel
	for _, other := range s.channels {
		if other.clientID == clientID {
			own = append(own, other)
		}
	}
	if len(own) >= maxChannelsPerClient {
		slices.SortFunc(own, func(a, b *notificationChannel) int {
			if (a.socket == nil) != (b.socket == nil) {
				if a.socket == nil {
					return -1
				}
				return 1
			}
			return a.created.Compare(b.created)
		})
		s.dropChannelLocked(own[0])
	}
	s.channels[ch.id] = ch
	s.mu.Unlock()
	return c.JSON(channelResource{ConnectURI: s.connectURI(ch.id), ID: ch.id, Expires: genesys.FormatTime(ch.expires)})
}

// ChannelInfo is what a test sees of a notification channel.
type ChannelInfo struct {
	ID        string
	ClientID  string
	Topics    []string
	Connected bool // a WebSocket is open on it
}

// Channels returns the channels that have not expired, of every client.
func (s *Sandbox) Channels() []ChannelInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ChannelInfo
	for id := range s.channels {
		if ch := s.channelLocked(id); ch != nil {
			out = append(out, ChannelInfo{ID: ch.id, ClientID: ch.clientID, Topics: slices.Clone(ch.topics), Connected: ch.socket != nil})
		}
	}
	slices.SortFunc(out, func(a, b ChannelInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (s *Sandbox) dropChannelLocked(ch *notificationChannel) {
	if ch.socket != nil {
		ch.socket.close()
		ch.socket = nil
	}
	delete(s.channels, ch.id)
}

// listChannels is GET /api/v2/notifications/channels: the channels of this
// token, or with includechannels=oauthclient of the whole OAuth client
// (docs/genesys.md §Notifications).
func (s *Sandbox) listChannels(c *fiber.Ctx) error {
	clientID, _ := c.Locals(localClientID).(string)
	tok, _ := c.Locals(localToken).(string)
	wholeClient := c.Query("includechannels") == "oauthclient"
	s.mu.Lock()
	out := []channelResource{}
	for _, ch := range s.channels {
		if ch.clientID == clientID && (wholeClient || ch.token == tok) {
			out = append(out, channelResource{ConnectURI: s.connectURI(ch.id), ID: ch.id, Expires: genesys.FormatTime(ch.expires)})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b channelResource) int { return strings.Compare(a.ID, b.ID) })
	return c.JSON(fiber.Map{"entities": out})
}

// channelLocked finds a channel that has not expired.
func (s *Sandbox) channelLocked(id string) *notificationChannel {
	ch := s.channels[id]
	if ch != nil && !s.now().Before(ch.expires) {
		s.dropChannelLocked(ch)
		return nil
	}
	return ch
}

// headChannel is HEAD …/channels/{channelId}: 200 while the channel exists.
func (s *Sandbox) headChannel(c *fiber.Ctx) error {
	s.mu.Lock()
	ch := s.channelLocked(c.Params("channelId"))
	s.mu.Unlock()
	if ch == nil {
		s.recordRejected(c, fiber.StatusNotFound, "not.found", "channel not found")
		return c.SendStatus(fiber.StatusNotFound)
	}
	return c.SendStatus(fiber.StatusOK)
}

func (s *Sandbox) getSubscriptions(c *fiber.Ctx) error {
	s.mu.Lock()
	ch := s.channelLocked(c.Params("channelId"))
	var listing channelTopicListing
	if ch != nil {
		listing = permittedListing(ch.topics)
	}
	s.mu.Unlock()
	if ch == nil {
		return s.channelNotFound(c)
	}
	return c.JSON(listing)
}

func (s *Sandbox) addSubscriptions(c *fiber.Ctx) error     { return s.subscribe(c, false) }
func (s *Sandbox) replaceSubscriptions(c *fiber.Ctx) error { return s.subscribe(c, true) }

// subscribe is POST (add) and PUT (replace) on …/subscriptions. The sandbox
// permits v2.routing.queues.<known queue>.conversations.messages and the
// detail events of a known conversation (user.start, user.end, customer.end,
// acw); other topics are Rejected. Without ignoreErrors a rejected topic fails the whole
// call with 400; both that reading and the status are UNCERTAIN
// (docs/genesys.md §Notifications), and failing loudly is what shows a relay its mistake.
func (s *Sandbox) subscribe(c *fiber.Ctx, replace bool) error {
	var requested []channelTopic
	if err := json.Unmarshal(c.Body(), &requested); err != nil {
		return s.apiError(c, fiber.StatusBadRequest, "bad.request", "body is not a JSON array of ChannelTopic: "+err.Error())
	}
	ignoreErrors, _ := strconv.ParseBool(c.Query("ignoreErrors"))

	s.mu.Lock()
	ch := s.channelLocked(c.Params("channelId"))
	if ch == nil {
		s.mu.Unlock()
		return s.channelNotFound(c)
	}
	var permitted []string
	var rejected []channelTopic
	for _, t := range requested {
		if reason := s.topicRejectionLocked(t.ID); reason != "" {
			rejected = append(rejected, channelTopic{ID: t.ID, State: "Rejected", RejectionReason: reason})
			continue
		}
		if !slices.Contains(permitted, t.ID) {
			permitted = append(permitted, t.ID)
		}
	}
	if len(rejected) > 0 && !ignoreErrors {
		s.mu.Unlock()
		ids := make([]string, len(rejected))
		for i, r := range rejected {
			ids[i] = r.ID
		}
		return s.apiError(c, fiber.StatusBadRequest, "bad.request",
			"Subscription rejected for topics: "+strings.Join(ids, ", ")+"; "+rejected[0].RejectionReason)
	}
	topics := permitted
	if !replace {
		topics = slices.Clone(ch.topics)
		for _, t := range permitted {
			if !slices.Contains(topics, t) {
				topics = append(topics, t)
			}
		}
	}
	if len(topics) > maxTopicsPerChannel {
		s.mu.Unlock()
		return s.apiError(c, fiber.StatusBadRequest, "bad.request",
			fmt.Sprintf("A channel may subscribe to at most %d topics; this would make %d", maxTopicsPerChannel, len(topics)))
	}
	ch.topics = topics
	// Resubscribing keeps a channel alive for another lifetime (docs/genesys.md §Notifications).
	ch.expires = s.now().Add(channelLifetime)
	listing := permittedListing(topics)
	s.mu.Unlock()
	listing.Entities = append(listing.Entities, rejected...)
	return c.JSON(listing)
}

// topicRejectionLocked says why a topic cannot be subscribed, or "".
func (s *Sandbox) topicRejectionLocked(topic string) string {
	if reason, ok := s.detailTopicRejectionLocked(topic); ok {
		return reason
	}
	m := queueTopic.FindStringSubmatch(topic)
	if m == nil {
		return "Topic " + topic + " is not available: the Genesys sandbox offers v2.routing.queues.{id}.conversations.messages and " +
			"v2.detail.events.conversation.{id}.user.start|user.end|customer.end|acw"
	}
	if _, ok := s.queueLocked(m[1]); !ok {
		return "Queue " + m[1] + " does not exist or you lack permission to view it"
	}
	return ""
}

func permittedListing(topics []string) channelTopicListing {
	out := channelTopicListing{Entities: make([]channelTopic, 0, len(topics))}
	for _, t := range topics {
		out.Entities = append(out.Entities, channelTopic{ID: t, State: "Permitted"})
	}
	return out
}

// deleteSubscriptions is DELETE …/subscriptions: remove them all.
func (s *Sandbox) deleteSubscriptions(c *fiber.Ctx) error {
	s.mu.Lock()
	ch := s.channelLocked(c.Params("channelId"))
	if ch != nil {
		ch.topics = nil
	}
	s.mu.Unlock()
	if ch == nil {
		return s.channelNotFound(c)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Sandbox) channelNotFound(c *fiber.Ctx) error {
	return s.apiError(c, fiber.StatusNotFound, "not.found", "Channel "+c.Params("channelId")+" not found")
}

// changedLocked tells every socket subscribed to conv's queue about the
// conversation's new state: a full snapshot, as Genesys sends on every change
// (docs/genesys.md §Notifications). Sockets not connected miss it, as with Genesys.
func (s *Sandbox) changedLocked(conv *Conversation) {
	if conv.QueueID == "" {
		return
	}
	s.publishLocked(genesys.QueueConversationsTopic(conv.QueueID), uuid.NewString(), s.wireConversationLocked(conv))
}

// publishLocked sends one notification to every connected socket subscribed
// to topic; the body is encoded only if some socket wants it.
func (s *Sandbox) publishLocked(topic, correlationID string, body any) {
	var msg []byte
	for _, ch := range s.channels {
		if ch.socket == nil || !slices.Contains(ch.topics, topic) {
			continue
		}
		if msg == nil {
			var err error
			msg, err = json.Marshal(notification{
				TopicName: topic,
				Version:   notificationVersion,
				Metadata:  &notificationMetadata{CorrelationID: correlationID},
				EventBody: body,
			})
			if err != nil {
				s.log.Error("encode notification", slog.String("topic", topic), slog.Any("error", err))
				return
			}
		}
		if !ch.socket.offer(msg) {
			s.log.Warn("notification dropped: socket too slow", slog.String("channel_id", ch.id))
		}
	}
}

// checkSocketUpgrade refuses what is not a WebSocket upgrade for a live
// channel, before the upgrade, so that the client sees a plain HTTP status.
func (s *Sandbox) checkSocketUpgrade(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return s.apiError(c, fiber.StatusUpgradeRequired, "bad.request", "This endpoint only accepts WebSocket connections")
	}
	s.mu.Lock()
	ch := s.channelLocked(c.Params("channelId"))
	s.mu.Unlock()
	if ch == nil {
		return s.channelNotFound(c)
	}
	return c.Next()
}

func (s *Sandbox) socketHandler() fiber.Handler {
	return websocket.New(s.serveSocket)
}

// serveSocket runs one notification WebSocket: heartbeats, answers to
// pings, and the events queued by changedLocked. It returns when the client
// goes, a newer socket takes the channel, or the sandbox closes.
func (s *Sandbox) serveSocket(conn *websocket.Conn) {
	channelID := strings.Clone(conn.Params("channelId"))
	sock := newSocket()
	s.mu.Lock()
	ch := s.channelLocked(channelID)
	if ch == nil || s.closed {
		s.mu.Unlock()
		_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"result":"404","message":"channel not found"}`))
		_ = conn.Close()
		return
	}
	// One socket per channel: a second connection knocks the first off.
	if ch.socket != nil {
		ch.socket.close()
	}
	ch.socket = sock
	// Close must wait for this socket, so it counts as background work; the
	// check of closed above, under the same lock, keeps the Add before Wait.
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer sock.close()
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var m struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(data, &m) == nil && m.Message == "ping" {
				sock.offer(metadataMessage(pongMessage))
			}
		}
	}()

	heartbeat := time.NewTicker(s.cfg.HeartbeatInterval)
	defer heartbeat.Stop()
	write := func(msg []byte) bool {
		_ = conn.SetWriteDeadline(time.Now().Add(socketWriteTimeout))
		return conn.WriteMessage(websocket.TextMessage, msg) == nil
	}
loop:
	for {
		select {
		case msg := <-sock.send:
			if !write(msg) {
				break loop
			}
		case <-heartbeat.C:
			if !write(metadataMessage(heartbeatMessage)) {
				break loop
			}
		case <-sock.done:
			break loop
		case <-s.ctx.Done():
			break loop
		}
	}
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	_ = conn.Close()
	<-readerDone
	s.mu.Lock()
	if ch.socket == sock {
		ch.socket = nil
	}
	s.mu.Unlock()
}
