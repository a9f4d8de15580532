package sandbox

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// detailSchemas names the Swagger definition of each detail event's body.
var detailSchemas = map[string]string{
	DetailUserStart:   "UserStartDetailEventTopicUserStartEvent",
	DetailUserEnd:     "UserEndDetailEventTopicUserEndEvent",
	DetailCustomerEnd: "CustomerEndDetailEventTopicCustomerEndEvent",
	DetailACW:         "AcwDetailEventTopicAfterCallWorkEvent",
}

// triggerEvent is one POST a trigger destination received.
type triggerEvent struct {
	TopicName string          `json:"topicName"`
	EventBody json.RawMessage `json:"eventBody"`
	body      map[string]any
	header    http.Header
}

// triggerEvents waits for n detail events at the trigger destination rcv
// and checks each body against its topic's schema.
func triggerEvents(t *testing.T, h *harness, rcv *receiver, n int) []triggerEvent {
	t.Helper()
	var out []triggerEvent
	for _, got := range rcv.wait(t, n) {
		var ev triggerEvent
		if err := json.Unmarshal(got.body, &ev); err != nil {
			t.Fatalf("trigger body %s: %v", got.body, err)
		}
		_ = json.Unmarshal(ev.EventBody, &ev.body)
		ev.header = got.header
		m := detailTopic.FindStringSubmatch(ev.TopicName)
		if m == nil {
			t.Fatalf("topic %q is not a detail topic", ev.TopicName)
		}
		if err := h.sb.spec.ValidateResponseBody(detailSchemas[m[2]], ev.EventBody); err != nil {
			t.Errorf("%s: %v", ev.TopicName, err)
		}
		out = append(out, ev)
	}
	return out
}

// eventKinds lists the kinds of events, e.g. "user.start user.end".
func eventKinds(events []triggerEvent) string {
	kinds := make([]string, len(events))
	for i, e := range events {
		m := detailTopic.FindStringSubmatch(e.TopicName)
		kinds[i] = m[2]
	}
	return strings.Join(kinds, " ")
}

// startWithTriggerDestination starts a sandbox whose detail events go to a
// trigger destination, and an integration whose webhooks go nowhere.
func startWithTriggerDestination(t *testing.T, configure func(*Config)) (*harness, *receiver, string) {
	t.Helper()
	events := startReceiver(t)
	h := startSandbox(t, configure)
	h.sb.AddEventDestination(EventDestination{URL: events.url, Format: EventFormatTrigger})
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	return h, events, in.ID
}

func subscribe(t *testing.T, h *harness, token, channelID string, topics ...string) {
	t.Helper()
	body := make([]channelTopic, len(topics))
	for i, topic := range topics {
		body[i] = channelTopic{ID: topic}
	}
	resp, answer := h.call(t, token, http.MethodPost, "/api/v2/notifications/channels/"+channelID+"/subscriptions", body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe %v: %d %s", topics, resp.StatusCode, answer)
	}
}

// openSocket creates a channel subscribed to topics and connects to it.
func openSocket(t *testing.T, h *harness, topics ...string) *socketReader {
	t.Helper()
	token := h.token(t)
	ch := createChannel(t, h, token)
	subscribe(t, h, token, ch.ID, topics...)
	ws := dialChannel(t, ch.ConnectURI)
	waitForSocket(t, h, ch.ID)
	return ws
}

// nextEach reads until every match has accepted a message, in whatever
// order they come (Genesys does not promise one), and returns the first
// message each accepted.
func (r *socketReader) nextEach(t *testing.T, what string, matches ...func(wsMessage) bool) []wsMessage {
	t.Helper()
	found := make([]wsMessage, len(matches))
	done := make([]bool, len(matches))
	for left := len(matches); left > 0; {
		m := r.next(t, what, func(m wsMessage) bool {
			for i, match := range matches {
				if !done[i] && match(m) {
					return true
				}
			}
			return false
		})
		for i, match := range matches {
			if !done[i] && match(m) {
				found[i], done[i] = m, true
				left--
				break
			}
		}
	}
	return found
}

func topicIs(topic string) func(wsMessage) bool {
	return func(m wsMessage) bool { return m.event.TopicName == topic }
}

// participantState matches a queue event whose participant of purpose is in state.
func participantState(topic, purpose, state string) func(wsMessage) bool {
	return func(m wsMessage) bool {
		if m.event.TopicName != topic {
			return false
		}
		var ev queueEvent
		_ = json.Unmarshal(m.event.EventBody, &ev)
		for _, p := range ev.Participants {
			if p.Purpose == purpose && p.State == state {
				return true
			}
		}
		return false
	}
}

func TestCustomerEndReachesEveryTransport(t *testing.T) {
	const orgID = "9a8b7c6d-0000-4000-8000-00000000000a"
	trigger, bridge := startReceiver(t), startReceiver(t)
	h := startSandbox(t, func(c *Config) { c.OrganizationID = orgID })
	h.sb.AddEventDestination(EventDestination{URL: trigger.url, Authorization: "Bearer data-action-key", Format: EventFormatTrigger})
	h.sb.AddEventDestination(EventDestination{URL: bridge.url, Authorization: "Basic YXBpOmRlc3RpbmF0aW9u", Format: EventFormatEventBridge})
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	topic := DetailTopic(cid, DetailCustomerEnd)
	ws := openSocket(t, h, queueTopicName, topic)

	if err := h.sb.CustomerEnd(cid); err != nil {
		t.Fatalf("CustomerEnd: %v", err)
	}

	got := ws.nextEach(t, "the end on the queue and detail topics",
		participantState(queueTopicName, "customer", "disconnected"), topicIs(topic))
	t.Run("queue topic", func(t *testing.T) {
		m := got[0]
		var ev queueEvent
		_ = json.Unmarshal(m.event.EventBody, &ev)
		for _, p := range ev.Participants {
			if p.State != "disconnected" || p.EndTime == "" {
				t.Errorf("participant %s is %s, want every leg disconnected", p.Purpose, p.State)
			}
			if p.Purpose == "customer" && p.DisconnectType != "endpoint" {
				t.Errorf("customer disconnectType = %q, want endpoint", p.DisconnectType)
			}
		}
	})
	t.Run("detail topic", func(t *testing.T) {
		m := got[1]
		if err := h.sb.spec.ValidateResponseBody("NotificationEvent", m.raw); err != nil {
			t.Errorf("NotificationEvent: %v", err)
		}
		if err := h.sb.spec.ValidateResponseBody("CustomerEndDetailEventTopicCustomerEndEvent", m.event.EventBody); err != nil {
			t.Errorf("CustomerEndDetailEventTopicCustomerEndEvent: %v", err)
		}
		var body map[string]any
		_ = json.Unmarshal(m.event.EventBody, &body)
		if body["conversationId"] != cid || body["disconnectType"] != "ENDPOINT" || m.event.Metadata.CorrelationID == "" {
			t.Errorf("customer.end = %s", m.raw)
		}
	})
	t.Run("GET conversation", func(t *testing.T) {
		resp, body := h.call(t, h.token(t), http.MethodGet, "/api/v2/conversations/messages/"+cid, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET: %d %s", resp.StatusCode, body)
		}
		var conv queueEvent
		_ = json.Unmarshal(body, &conv)
		if conv.Participants[0].Purpose != "customer" || conv.Participants[0].State != "disconnected" ||
			conv.Participants[0].DisconnectType != "endpoint" {
			t.Errorf("customer = %+v", conv.Participants[0])
		}
		if c, _ := h.sb.Conversation(cid); c.State != StateEnded {
			t.Errorf("state = %s", c.State)
		}
	})
	t.Run("trigger", func(t *testing.T) {
		events := triggerEvents(t, h, trigger, 1)
		ev := events[0]
		if ev.TopicName != topic || ev.body["conversationId"] != cid || ev.body["disconnectType"] != "ENDPOINT" ||
			ev.body["mediaType"] != "MESSAGE" || ev.body["messageType"] != "OPEN" || ev.body["direction"] != "INBOUND" {
			t.Errorf("trigger event = %s %v", ev.TopicName, ev.body)
		}
		if eventTime, ok := ev.body["eventTime"].(float64); !ok || eventTime < float64(time.Now().Add(-time.Minute).UnixMilli()) {
			t.Errorf("eventTime = %v, want epoch milliseconds", ev.body["eventTime"])
		}
		if got := ev.header.Get("Authorization"); got != "Bearer data-action-key" {
			t.Errorf("Authorization = %q", got)
		}
	})
	t.Run("EventBridge", func(t *testing.T) {
		got := bridge.wait(t, 1)[0]
		if a := got.header.Get("Authorization"); a != "Basic YXBpOmRlc3RpbmF0aW9u" {
			t.Errorf("Authorization = %q", a)
		}
		var ev struct {
			Version    string          `json:"version"`
			ID         string          `json:"id"`
			DetailType string          `json:"detail-type"`
			Source     string          `json:"source"`
			Account    string          `json:"account"`
			Time       string          `json:"time"`
			Region     string          `json:"region"`
			Resources  json.RawMessage `json:"resources"`
			Detail     struct {
				TopicName string          `json:"topicName"`
				Version   string          `json:"version"`
				EventBody json.RawMessage `json:"eventBody"`
				Metadata  struct {
					CorrelationID string `json:"CorrelationId"`
				} `json:"metadata"`
				Timestamp string `json:"timestamp"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(got.body, &ev); err != nil {
			t.Fatalf("EventBridge body %s: %v", got.body, err)
		}
		if _, err := uuid.Parse(ev.ID); err != nil || ev.Version != "0" || ev.Region != "us-east-1" ||
			!regexp.MustCompile(`^\d{12}$`).MatchString(ev.Account) || string(ev.Resources) != "[]" {
			t.Errorf("envelope = %s", got.body)
		}
		if ev.DetailType != "v2.detail.events.conversation.{id}.customer.end" {
			t.Errorf("detail-type = %q, want the topic with {id}", ev.DetailType)
		}
		if !strings.HasPrefix(ev.Source, "aws.partner/genesys.com/cloud/"+orgID+"/") {
			t.Errorf("source = %q", ev.Source)
		}
		if _, err := time.Parse(time.RFC3339, ev.Time); err != nil {
			t.Errorf("time %q: %v", ev.Time, err)
		}
		d := ev.Detail
		if d.TopicName != topic || d.Version != "2" || d.Metadata.CorrelationID == "" || d.Timestamp == "" {
			t.Errorf("detail = %s", got.body)
		}
		if err := h.sb.spec.ValidateResponseBody("CustomerEndDetailEventTopicCustomerEndEvent", d.EventBody); err != nil {
			t.Errorf("eventBody: %v", err)
		}
		if !strings.Contains(string(d.EventBody), `"disconnectType":"ENDPOINT"`) {
			t.Errorf("eventBody = %s", d.EventBody)
		}
	})
	eventually(t, "both deliveries recorded", func() bool { return len(h.sb.EventDeliveries()) == 2 })
	for _, d := range h.sb.EventDeliveries() {
		if d.Topic != topic || d.Kind != DetailCustomerEnd || d.Status != http.StatusOK || d.Error != "" || d.Attempt != 1 {
			t.Errorf("delivery = %+v", d)
		}
	}
}

func TestAgentEndSendsUserEndClientThenCustomerEndPeer(t *testing.T) {
	h, events, integrationID := startWithTriggerDestination(t, nil)
	cid := startConversation(t, h, integrationID, "customer-1")
	if err := h.sb.Accept(cid, "Max Agent"); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if err := h.sb.AgentEnd(cid); err != nil {
		t.Fatalf("AgentEnd: %v", err)
	}
	got := triggerEvents(t, h, events, 3)
	if kinds := eventKinds(got); kinds != "user.start user.end customer.end" {
		t.Fatalf("events = %s", kinds)
	}
	conv, _ := h.sb.Conversation(cid)
	agent := conv.Participants[2]
	start, end, customerEnd := got[0].body, got[1].body, got[2].body
	if start["userId"] != agent.UserID || start["queueId"] != testQueueID || start["participantId"] != agent.ID || start["sessionId"] != agent.SessionID {
		t.Errorf("user.start = %v, agent %+v", start, agent)
	}
	if end["disconnectType"] != "CLIENT" || end["interactingDurationMs"].(float64) <= 0 || end["userId"] != agent.UserID {
		t.Errorf("user.end = %v", end)
	}
	if customerEnd["disconnectType"] != "PEER" || customerEnd["participantId"] != conv.Participants[0].ID {
		t.Errorf("customer.end = %v", customerEnd)
	}
}

func TestEventDestinationAnswering503IsRetriedAndRemovedDestinationsGetNothing(t *testing.T) {
	events := startReceiver(t, http.StatusServiceUnavailable)
	h := startSandbox(t, nil)
	h.sb.AddEventDestination(EventDestination{URL: events.url})
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	if err := h.sb.CustomerEnd(cid); err != nil {
		t.Fatalf("CustomerEnd: %v", err)
	}
	got := events.wait(t, 2)
	if string(got[0].body) != string(got[1].body) {
		t.Errorf("the retry changed the body")
	}
	eventually(t, "two recorded attempts", func() bool { return len(h.sb.EventDeliveries()) == 2 })
	d := h.sb.EventDeliveries()
	if d[0].Status != http.StatusServiceUnavailable || d[1].Status != http.StatusOK || d[1].Attempt != 2 || d[0].Format != EventFormatTrigger {
		t.Errorf("deliveries = %+v", d)
	}

	h.sb.RemoveEventDestinations()
	cid = startConversation(t, h, in.ID, "customer-2")
	_ = h.sb.CustomerEnd(cid)
	// Events are queued for destinations as they happen: with none left,
	// nothing more is queued.
	if n := len(h.sb.EventDeliveries()); n != 2 {
		t.Errorf("%d deliveries after RemoveEventDestinations, want 2", n)
	}
}

func TestDetailTopicsOfKnownConversationsCanBeSubscribed(t *testing.T) {
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	token := h.token(t)
	ch := createChannel(t, h, token)
	tests := []struct {
		topic     string
		permitted bool
	}{
		{DetailTopic(cid, DetailUserStart), true},
		{DetailTopic(cid, DetailUserEnd), true},
		{DetailTopic(cid, DetailCustomerEnd), true},
		{DetailTopic(cid, DetailACW), true},
		{DetailTopic(cid, "flow.outcome"), false},
		{DetailTopic(uuid.NewString(), DetailCustomerEnd), false},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			resp, body := h.call(t, token, http.MethodPost, "/api/v2/notifications/channels/"+ch.ID+"/subscriptions?ignoreErrors=true",
				[]channelTopic{{ID: tt.topic}})
			var listing struct{ Entities []channelTopic }
			_ = json.Unmarshal(body, &listing)
			var state string
			for _, e := range listing.Entities {
				if e.ID == tt.topic {
					state = e.State
				}
			}
			want := "Rejected"
			if tt.permitted {
				want = "Permitted"
			}
			if resp.StatusCode != http.StatusOK || state != want {
				t.Errorf("%d %s, want %s", resp.StatusCode, body, want)
			}
		})
	}
}
