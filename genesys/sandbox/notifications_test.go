package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

const queueTopicName = "v2.routing.queues." + testQueueID + ".conversations.messages"

type wsMessage struct {
	raw   []byte
	event struct {
		TopicName string          `json:"topicName"`
		Version   string          `json:"version"`
		EventBody json.RawMessage `json:"eventBody"`
		Metadata  struct {
			CorrelationID string `json:"CorrelationId"`
		} `json:"metadata"`
	}
}

type queueEvent struct {
	ID           string `json:"id"`
	Participants []struct {
		ID             string `json:"id"`
		Purpose        string `json:"purpose"`
		State          string `json:"state"`
		DisconnectType string `json:"disconnectType"`
		ConnectedTime  string `json:"connectedTime"`
		EndTime        string `json:"endTime"`
		StartAcwTime   string `json:"startAcwTime"`
		WrapupRequired *bool  `json:"wrapupRequired"`
		User           *struct{ ID, Name string }
		Queue          *struct{ ID string }
		Attributes     map[string]string `json:"attributes"`
	} `json:"participants"`
}

// socketReader reads a WebSocket on its own goroutine.
type socketReader struct {
	conn *websocket.Conn
	msgs chan wsMessage
	done chan struct{}
}

func dialChannel(t *testing.T, connectURI string) *socketReader {
	t.Helper()
	dialer := websocket.Dialer{HandshakeTimeout: 2 * time.Second}
	conn, resp, err := dialer.Dial(connectURI, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", connectURI, err)
	}
	_ = resp.Body.Close()
	r := &socketReader{conn: conn, msgs: make(chan wsMessage, 100), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			m := wsMessage{raw: data}
			_ = json.Unmarshal(data, &m.event)
			r.msgs <- m
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-r.done
	})
	return r
}

// next returns the first message that match accepts, skipping others.
func (r *socketReader) next(t *testing.T, what string, match func(wsMessage) bool) wsMessage {
	t.Helper()
	deadline := time.After(2 * time.Second)
	for {
		select {
		case m := <-r.msgs:
			if match(m) {
				return m
			}
		case <-r.done:
			t.Fatalf("socket closed while waiting for %s", what)
		case <-deadline:
			t.Fatalf("waited 2s for %s", what)
		}
	}
}

func metadataIs(text string) func(wsMessage) bool {
	return func(m wsMessage) bool {
		var body struct{ Message string }
		_ = json.Unmarshal(m.event.EventBody, &body)
		return m.event.TopicName == "channel.metadata" && body.Message == text
	}
}

// agentState matches a queue event whose agent participant is in state.
func agentState(state string) func(wsMessage) bool {
	return func(m wsMessage) bool {
		if m.event.TopicName != queueTopicName {
			return false
		}
		var ev queueEvent
		_ = json.Unmarshal(m.event.EventBody, &ev)
		for _, p := range ev.Participants {
			if p.Purpose == "agent" && p.State == state {
				return true
			}
		}
		return false
	}
}

type channelAnswer struct {
	ID         string `json:"id"`
	ConnectURI string `json:"connectUri"`
	Expires    string `json:"expires"`
}

func createChannel(t *testing.T, h *harness, token string) channelAnswer {
	t.Helper()
	resp, body := h.call(t, token, http.MethodPost, "/api/v2/notifications/channels", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create channel: %d %s", resp.StatusCode, body)
	}
	if err := h.sb.spec.ValidateResponseBody("Channel", body); err != nil {
		t.Errorf("Channel: %v", err)
	}
	var ch channelAnswer
	_ = json.Unmarshal(body, &ch)
	return ch
}

func TestNotificationsReportTheAgentJoiningAndLeaving(t *testing.T) {
	h := startSandbox(t, func(c *Config) { c.HeartbeatInterval = 50 * time.Millisecond })
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	token := h.token(t)
	ch := createChannel(t, h, token)
	if want := "ws://" + strings.TrimPrefix(h.base, "http://") + "/streaming/channels/" + ch.ID; ch.ConnectURI != want {
		t.Errorf("connectUri = %q, want %q", ch.ConnectURI, want)
	}

	topics := `[{"id":"` + queueTopicName + `"},{"id":"v2.detail.events.conversation.x.customer.end"}]`
	subscriptions := "/api/v2/notifications/channels/" + ch.ID + "/subscriptions"
	if resp, body := h.call(t, token, http.MethodPost, subscriptions, topics); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a rejected topic without ignoreErrors: %d %s, want 400", resp.StatusCode, body)
	}
	resp, body := h.call(t, token, http.MethodPost, subscriptions+"?ignoreErrors=true", topics)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: %d %s", resp.StatusCode, body)
	}
	if err := h.sb.spec.ValidateResponseBody("ChannelTopicEntityListing", body); err != nil {
		t.Errorf("ChannelTopicEntityListing: %v", err)
	}
	var listing struct {
		Entities []channelTopic `json:"entities"`
	}
	_ = json.Unmarshal(body, &listing)
	if len(listing.Entities) != 2 || listing.Entities[0].State != "Permitted" ||
		listing.Entities[1].State != "Rejected" || listing.Entities[1].RejectionReason == "" {
		t.Errorf("subscriptions = %s", body)
	}
	_, body = h.call(t, token, http.MethodGet, subscriptions, nil)
	if !strings.Contains(string(body), queueTopicName) || strings.Contains(string(body), "customer.end") {
		t.Errorf("GET subscriptions = %s", body)
	}

	ws := dialChannel(t, ch.ConnectURI)
	ws.next(t, "a heartbeat", metadataIs("WebSocket Heartbeat"))
	if err := ws.conn.WriteMessage(websocket.TextMessage, []byte(`{"message":"ping"}`)); err != nil {
		t.Fatalf("ping: %v", err)
	}
	ws.next(t, "a pong", metadataIs("pong"))

	cid := startConversation(t, h, in.ID, "customer-1")
	if err := h.sb.Accept(cid, "Max Agent"); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	joined := ws.next(t, "the agent connected", agentState("connected"))
	if err := h.sb.spec.ValidateResponseBody("NotificationEvent", joined.raw); err != nil {
		t.Errorf("NotificationEvent: %v", err)
	}
	if err := h.sb.spec.ValidateResponseBody("QueueConversationMessageEventTopicMessageConversation", joined.event.EventBody); err != nil {
		t.Errorf("QueueConversationMessageEventTopicMessageConversation: %v", err)
	}
	if joined.event.Version != "2" || joined.event.Metadata.CorrelationID == "" {
		t.Errorf("envelope = %s", joined.raw)
	}
	var ev queueEvent
	_ = json.Unmarshal(joined.event.EventBody, &ev)
	if ev.ID != cid {
		t.Errorf("event for conversation %s, want %s", ev.ID, cid)
	}
	for _, p := range ev.Participants {
		switch p.Purpose {
		case "agent":
			if p.User == nil || p.User.Name != "Max Agent" || p.User.ID == "" || p.ConnectedTime == "" || p.Queue == nil || p.Queue.ID != testQueueID {
				t.Errorf("agent = %+v", p)
			}
		case "customer":
			if p.Attributes["botSessionId"] != "customer-1" {
				t.Errorf("customer attributes = %v", p.Attributes)
			}
		case "acd":
			if p.State != "disconnected" || p.DisconnectType != "transfer" {
				t.Errorf("acd = %+v, want disconnected by transfer", p)
			}
		}
	}

	if err := h.sb.AgentEnd(cid); err != nil {
		t.Fatalf("AgentEnd: %v", err)
	}
	left := ws.next(t, "the agent disconnected", agentState("disconnected"))
	_ = json.Unmarshal(left.event.EventBody, &ev)
	for _, p := range ev.Participants {
		if p.Purpose == "agent" && (p.DisconnectType != "client" || p.EndTime == "" || p.StartAcwTime == "" || p.WrapupRequired == nil) {
			t.Errorf("agent = %+v, want client disconnect with endTime, startAcwTime, wrapupRequired", p)
		}
	}
	ws.next(t, "the customer disconnected", func(m wsMessage) bool {
		var ev queueEvent
		_ = json.Unmarshal(m.event.EventBody, &ev)
		for _, p := range ev.Participants {
			if p.Purpose == "customer" && p.State == "disconnected" {
				return true
			}
		}
		return false
	})
}

func TestASecondSocketOnAChannelKnocksTheFirstOff(t *testing.T) {
	h := startSandbox(t, nil)
	ch := createChannel(t, h, h.token(t))
	first := dialChannel(t, ch.ConnectURI)
	// The handler takes the channel after the handshake; wait for it, or the
	// two sockets could register in either order.
	waitForSocket(t, h, ch.ID)
	dialChannel(t, ch.ConnectURI)
	select {
	case <-first.done:
	case <-time.After(2 * time.Second):
		t.Fatal("the first socket is still open")
	}
}

func TestSocketsForUnknownChannelsAreRefused(t *testing.T) {
	h := startSandbox(t, nil)
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+strings.TrimPrefix(h.base, "http://")+"/streaming/channels/streaming-0-nope", nil)
	if err == nil {
		t.Fatal("dial succeeded")
	}
	if resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("answer %v, want 404", resp)
	}
}

func TestCloseEndsOpenSockets(t *testing.T) {
	h := startSandbox(t, nil)
	ch := createChannel(t, h, h.token(t))
	ws := dialChannel(t, ch.ConnectURI)
	waitForSocket(t, h, ch.ID)
	h.sb.Close()
	select {
	case <-ws.done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close left the socket open")
	}
}

func waitForSocket(t *testing.T, h *harness, channelID string) {
	t.Helper()
	eventually(t, "the socket to take the channel", func() bool {
		h.sb.mu.Lock()
		defer h.sb.mu.Unlock()
		return h.sb.channels[channelID].socket != nil
	})
}

// A channel is listed for the token that made it, and for any token of the
// client with includechannels=oauthclient (docs/genesys.md §Notifications).
func TestChannelsAreListedPerTokenOrForTheWholeClient(t *testing.T) {
	h := startSandbox(t, nil)
	maker, other := h.token(t), h.token(t)
	resp, body := h.call(t, maker, http.MethodPost, "/api/v2/notifications/channels", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var created struct{ ID string }
	if err := json.Unmarshal(body, &created); err != nil || created.ID == "" {
		t.Fatalf("create answer %s: %v", body, err)
	}
	count := func(tok, query string) int {
		t.Helper()
		resp, body := h.call(t, tok, http.MethodGet, "/api/v2/notifications/channels"+query, nil)
		var listing struct{ Entities []struct{ ID string } }
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &listing) != nil {
			t.Fatalf("list%s: %d %s", query, resp.StatusCode, body)
		}
		return len(listing.Entities)
	}
	if n := count(maker, ""); n != 1 {
		t.Errorf("the maker's token lists %d channels, want 1", n)
	}
	if n := count(other, ""); n != 0 {
		t.Errorf("another token lists %d channels by default, want 0", n)
	}
	if n := count(other, "?includechannels=oauthclient"); n != 1 {
		t.Errorf("another token lists %d of the client's channels, want 1", n)
	}
	if channels := h.sb.Channels(); len(channels) != 1 || channels[0].ID != created.ID || channels[0].Connected {
		t.Errorf("Channels() = %+v, want the one, not connected", channels)
	}
}
