package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Analytics detail events (docs/genesys.md §DetailEvents): flat bodies on the topics
// v2.detail.events.conversation.{conversationId}.{kind}. The sandbox sends
// each one three ways, as Genesys can: on the Notifications WebSocket to
// channels subscribed to the topic, to Process Automation triggers (through
// the data action a workflow calls) and to Amazon EventBridge.
const (
	DetailUserStart   = "user.start"   // an agent is offered the conversation (alerting)
	DetailUserEnd     = "user.end"     // an agent's session ends: declined, missed, transferred or left
	DetailCustomerEnd = "customer.end" // the customer's session ends
	DetailACW         = "acw"          // an agent finished after-call work with a wrap-up code
)

// DetailTopic is the topic of conversationID's detail events of kind, for
// example v2.detail.events.conversation.<id>.customer.end.
func DetailTopic(conversationID, kind string) string {
	return detailTopicPrefix + conversationID + "." + kind
}

const detailTopicPrefix = "v2.detail.events.conversation."

// detailTopic matches the detail topics the sandbox serves.
var detailTopic = regexp.MustCompile(`^v2\.detail\.events\.conversation\.([^.]+)\.(user\.start|user\.end|customer\.end|acw)$`)

// The detail events' enumerations for an Open Messaging conversation.
const (
	detailMediaMessage = "MESSAGE"
	detailMessageOpen  = "OPEN"
	detailInbound      = "INBOUND"
)

// detailDisconnectTypes turns a participant's disconnectType into the
// UPPER_SNAKE spelling of the detail events (docs/genesys.md §DetailEvents): the two
// enumerations differ, and the transfer kinds are reversed
// (transfer.noanswer is NO_ANSWER_TRANSFER).
var detailDisconnectTypes = map[string]string{
	"endpoint":              "ENDPOINT",
	"endpoint.dnd":          "DND_ENDPOINT",
	"client":                "CLIENT",
	"system":                "SYSTEM",
	"transfer":              "TRANSFER",
	"timeout":               "TIMEOUT",
	"transfer.conference":   "CONFERENCE_TRANSFER",
	"transfer.consult":      "CONSULT_TRANSFER",
	"transfer.forward":      "FORWARD_TRANSFER",
	"transfer.noanswer":     "NO_ANSWER_TRANSFER",
	"transfer.notavailable": "NOT_AVAILABLE_TRANSFER",
	"transfer.dnd":          "DND_TRANSFER",
	"transport.failure":     "TRANSPORT_FAILURE",
	"error":                 "ERROR",
	"peer":                  "PEER",
	"other":                 "OTHER",
	"spam":                  "SPAM",
	"uncallable":            "UNCALLABLE",
	"inactivity":            "INACTIVITY",
	"session.expired":       "SESSION_EXPIRED",
	"takeover":              "TAKEOVER",
}

// detailEvent is the eventBody of the four detail topics: the fields of
// UserStartDetailEventTopicUserStartEvent, UserEndDetailEventTopicUserEndEvent,
// CustomerEndDetailEventTopicCustomerEndEvent and
// AcwDetailEventTopicAfterCallWorkEvent that an Open Messaging conversation
// fills. Durations are pointers so that a zero, which says something (an
// agent who never connected has interactingDurationMs 0), is still sent.
type detailEvent struct {
	EventTime             int64  `json:"eventTime"` // epoch milliseconds
	ConversationID        string `json:"conversationId"`
	ParticipantID         string `json:"participantId"`
	SessionID             string `json:"sessionId"`
	DisconnectType        string `json:"disconnectType,omitempty"`
	MediaType             string `json:"mediaType"`
	Direction             string `json:"direction"`
	MessageType           string `json:"messageType"`
	UserID                string `json:"userId,omitempty"`
	QueueID               string `json:"queueId,omitempty"`
	InteractingDurationMs *int64 `json:"interactingDurationMs,omitempty"`
	AlertingDurationMs    *int64 `json:"alertingDurationMs,omitempty"`
	WrapupCode            string `json:"wrapupCode,omitempty"`
	WrapupDurationMs      *int64 `json:"wrapupDurationMs,omitempty"`
}

func millis(d time.Duration) *int64 {
	ms := max(d.Milliseconds(), 0)
	return &ms
}

// interactingMillis is how long p was connected, in milliseconds: 0 for a leg
// that never connected, and at least 1 for one that did, so that "above
// zero" tells the two apart (docs/genesys.md §DetailEvents) even when the sandbox's clock
// has not moved between connect and disconnect.
func interactingMillis(p *Participant, end time.Time) *int64 {
	if p.ConnectedTime.IsZero() {
		return millis(0)
	}
	ms := max(end.Sub(p.ConnectedTime).Milliseconds(), 1)
	return &ms
}

func (s *Sandbox) baseDetailLocked(conv *Conversation, p *Participant, now time.Time) detailEvent {
	return detailEvent{
		EventTime:      now.UnixMilli(),
		ConversationID: conv.ID,
		ParticipantID:  p.ID,
		SessionID:      p.SessionID,
		MediaType:      detailMediaMessage,
		Direction:      detailInbound,
		MessageType:    detailMessageOpen,
	}
}

// userStartLocked reports that agent p is being offered the conversation.
// user.start fires at the alerting stage: it does not mean the agent answered
// (docs/genesys.md §DetailEvents).
func (s *Sandbox) userStartLocked(conv *Conversation, p *Participant, now time.Time) {
	ev := s.baseDetailLocked(conv, p, now)
	ev.UserID, ev.QueueID = p.UserID, p.QueueID
	s.detailEventLocked(conv.ID, DetailUserStart, ev)
}

// userEndLocked reports that agent p's session ended: after a decline or a
// missed alert (interactingDurationMs 0), a transfer or the agent leaving.
func (s *Sandbox) userEndLocked(conv *Conversation, p *Participant, now time.Time) {
	ev := s.baseDetailLocked(conv, p, now)
	ev.UserID, ev.QueueID = p.UserID, p.QueueID
	ev.DisconnectType = detailDisconnectTypes[p.DisconnectType]
	ev.InteractingDurationMs = interactingMillis(p, now)
	alertEnd := p.ConnectedTime
	if alertEnd.IsZero() {
		alertEnd = now
	}
	ev.AlertingDurationMs = millis(alertEnd.Sub(p.StartTime))
	s.detailEventLocked(conv.ID, DetailUserEnd, ev)
}

// customerEndLocked reports that the customer's session ended: the
// conversation is over (docs/genesys.md §DetailEvents).
func (s *Sandbox) customerEndLocked(conv *Conversation, p *Participant, now time.Time) {
	ev := s.baseDetailLocked(conv, p, now)
	ev.DisconnectType = detailDisconnectTypes[p.DisconnectType]
	ev.InteractingDurationMs = interactingMillis(p, now)
	s.detailEventLocked(conv.ID, DetailCustomerEnd, ev)
}

// acwLocked reports that agent p applied a wrap-up code. The event has no
// disconnectType (docs/genesys.md §DetailEvents).
func (s *Sandbox) acwLocked(conv *Conversation, p *Participant, now time.Time) {
	ev := s.baseDetailLocked(conv, p, now)
	ev.UserID, ev.QueueID = p.UserID, p.QueueID
	ev.WrapupCode = p.WrapupCode
	ev.WrapupDurationMs = millis(p.EndAcwTime.Sub(p.StartAcwTime))
	s.detailEventLocked(conv.ID, DetailACW, ev)
}

// detailEventLocked publishes one detail event on every transport: sockets
// subscribed to its topic, and every event destination.
func (s *Sandbox) detailEventLocked(conversationID, kind string, ev detailEvent) {
	topic := DetailTopic(conversationID, kind)
	correlationID := uuid.NewString()
	s.publishLocked(topic, correlationID, ev)
	for _, d := range s.destinations {
		s.queueEventLocked(d, pendingEvent{topic: topic, kind: kind, correlationID: correlationID, body: ev, time: time.UnixMilli(ev.EventTime)})
	}
}

// Event destination formats.
const (
	// EventFormatTrigger is a Process Automation trigger: Genesys starts a
	// workflow with the event's top-level fields as inputs, and the
	// workflow's data action POSTs them on. The sandbox plays a data action
	// whose request template is {"topicName": …, "eventBody": {…}}.
	EventFormatTrigger = "trigger"
	// EventFormatEventBridge is an Amazon EventBridge rule whose target is an
	// API destination: the whole EventBridge event is POSTed, with the
	// Genesys notification in its detail.
	EventFormatEventBridge = "eventbridge"
)

// EventBridge envelope constants. Genesys names the partner event source
// aws.partner/genesys.com/cloud/{organizationId}/{eventSourceSuffix}; the
// account and region are those of the AWS account the integration was
// configured with, here example values.
const (
	eventSourceSuffix  = "handover-sandbox"
	eventBridgeAccount = "123456789012"
	eventBridgeRegion  = "us-east-1"
	// eventRetries is how often a failed event delivery is tried again. Both
	// real paths retry for far longer (EventBridge for up to 24 hours; Genesys
	// queues EventBridge events for up to 4 days); a few tries are enough to
	// let a test see a retry.
	eventRetries = 3
)

// EventDestination is an endpoint that receives detail events: a Process
// Automation trigger's data action or an EventBridge API destination.
type EventDestination struct {
	URL           string
	Authorization string // sent as the Authorization header when set
	Format        string // EventFormatTrigger (the default) or EventFormatEventBridge
}

// EventDelivery is one attempt to deliver a detail event to a destination.
type EventDelivery struct {
	Topic   string // the concrete topic, e.g. v2.detail.events.conversation.<id>.customer.end
	Kind    string // DetailUserStart, DetailUserEnd, DetailCustomerEnd or DetailACW
	Format  string
	URL     string
	Body    []byte
	Attempt int // 1 for the first try
	Status  int // 0 when no answer came
	Error   string
	Time    time.Time
}

// eventDestination holds one destination's events not yet delivered. They
// go out one at a time and in order, as the webhook outbox does.
type eventDestination struct {
	EventDestination
	pending []pendingEvent
	running bool
	removed bool
}

type pendingEvent struct {
	topic         string
	kind          string
	correlationID string
	body          detailEvent
	time          time.Time
}

// AddEventDestination has every later detail event POSTed to d as well.
func (s *Sandbox) AddEventDestination(d EventDestination) {
	if d.Format == "" {
		d.Format = EventFormatTrigger
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.destinations = append(s.destinations, &eventDestination{EventDestination: d})
}

// RemoveEventDestinations stops sending detail events anywhere but the
// WebSocket; events still pending for the removed destinations are dropped.
func (s *Sandbox) RemoveEventDestinations() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.destinations {
		d.removed = true
	}
	s.destinations = nil
}

// EventDeliveries returns every attempt to deliver a detail event, oldest first.
func (s *Sandbox) EventDeliveries() []EventDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.eventDeliveries)
	for i := range out {
		out[i].Body = slices.Clone(out[i].Body)
	}
	return out
}

func (s *Sandbox) queueEventLocked(d *eventDestination, ev pendingEvent) {
	d.pending = append(d.pending, ev)
	if d.running {
		return
	}
	d.running = s.goBackgroundLocked(func() { s.runEventDestination(d) })
}

func (s *Sandbox) runEventDestination(d *eventDestination) {
	for {
		s.mu.Lock()
		if len(d.pending) == 0 || d.removed || s.ctx.Err() != nil {
			d.running = false
			d.pending = nil
			s.mu.Unlock()
			return
		}
		ev := d.pending[0]
		s.mu.Unlock()

		s.deliverEvent(d, ev)

		s.mu.Lock()
		if len(d.pending) > 0 {
			d.pending = d.pending[1:]
		}
		s.mu.Unlock()
	}
}

// deliverEvent posts one event, retrying timeouts, connection errors, 429
// and 5xx answers.
func (s *Sandbox) deliverEvent(d *eventDestination, ev pendingEvent) {
	body, err := s.encodeEvent(d.Format, ev)
	if err != nil {
		s.recordEventDelivery(EventDelivery{
			Topic: ev.topic, Kind: ev.kind, Format: d.Format, URL: d.URL, Attempt: 1, Error: err.Error(), Time: s.now(),
		})
		return
	}
	attempts := 1 + eventRetries
	for attempt := 1; attempt <= attempts; attempt++ {
		started := s.now()
		status, err := s.postEvent(d.EventDestination, body)
		rec := EventDelivery{
			Topic: ev.topic, Kind: ev.kind, Format: d.Format, URL: d.URL, Body: body,
			Attempt: attempt, Status: status, Time: started,
		}
		if err != nil {
			rec.Error = err.Error()
		}
		s.recordEventDelivery(rec)
		if s.ctx.Err() != nil || !shouldRetry(status, err) {
			return
		}
		if attempt == attempts {
			s.log.Warn("detail event given up", slog.String("topic", ev.topic), slog.String("url", d.URL), slog.Int("attempts", attempts))
			return
		}
		timer := time.NewTimer(s.cfg.WebhookRetryDelay)
		select {
		case <-timer.C:
		case <-s.ctx.Done():
			timer.Stop()
			return
		}
	}
}

func (s *Sandbox) recordEventDelivery(rec EventDelivery) {
	s.mu.Lock()
	s.eventDeliveries = append(s.eventDeliveries, rec)
	s.mu.Unlock()
	level := slog.LevelDebug
	if rec.Error != "" || rec.Status < 200 || rec.Status > 299 {
		level = slog.LevelWarn
	}
	s.log.Log(s.ctx, level, "detail event attempt", slog.String("topic", rec.Topic), slog.String("format", rec.Format),
		slog.Int("attempt", rec.Attempt), slog.Int("status", rec.Status), slog.String("error", rec.Error))
}

// triggerBody is what the sandbox's data action sends for a Process
// Automation trigger.
type triggerBody struct {
	TopicName string      `json:"topicName"`
	EventBody detailEvent `json:"eventBody"`
}

// eventBridgeEvent is an Amazon EventBridge event from the Genesys partner
// event source, as an API destination receives it. The shape follows the
// EventBridge event envelope (version, id, detail-type, source, account,
// time, region, resources, detail) and the events Genesys's own blueprint
// uses as test input: detail-type is the topic with "{id}" in place of the
// id, and detail is the notification (topicName with the real id, version,
// eventBody, metadata) plus a timestamp.
type eventBridgeEvent struct {
	Version    string            `json:"version"`
	ID         string            `json:"id"`
	DetailType string            `json:"detail-type"`
	Source     string            `json:"source"`
	Account    string            `json:"account"`
	Time       string            `json:"time"`
	Region     string            `json:"region"`
	Resources  []string          `json:"resources"`
	Detail     eventBridgeDetail `json:"detail"`
}

type eventBridgeDetail struct {
	TopicName string               `json:"topicName"`
	Version   string               `json:"version"`
	EventBody detailEvent          `json:"eventBody"`
	Metadata  notificationMetadata `json:"metadata"`
	Timestamp string               `json:"timestamp"`
}

// topicPattern is a detail topic with its conversation id replaced by
// "{id}", the form EventBridge carries in detail-type and triggers name.
func topicPattern(kind string) string {
	return detailTopicPrefix + "{id}." + kind
}

func (s *Sandbox) encodeEvent(format string, ev pendingEvent) ([]byte, error) {
	switch format {
	case EventFormatTrigger:
		return json.Marshal(triggerBody{TopicName: ev.topic, EventBody: ev.body})
	case EventFormatEventBridge:
		return json.Marshal(eventBridgeEvent{
			Version:    "0",
			ID:         uuid.NewString(),
			DetailType: topicPattern(ev.kind),
			Source:     "aws.partner/genesys.com/cloud/" + s.orgID + "/" + eventSourceSuffix,
			Account:    eventBridgeAccount,
			Time:       ev.time.UTC().Format(time.RFC3339),
			Region:     eventBridgeRegion,
			Resources:  []string{},
			Detail: eventBridgeDetail{
				TopicName: ev.topic,
				Version:   notificationVersion,
				EventBody: ev.body,
				Metadata:  notificationMetadata{CorrelationID: ev.correlationID},
				Timestamp: formatTime(ev.time),
			},
		})
	}
	return nil, fmt.Errorf("unknown event destination format %q: want %q or %q", format, EventFormatTrigger, EventFormatEventBridge)
}

func (s *Sandbox) postEvent(d EventDestination, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build event request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if d.Authorization != "" {
		req.Header.Set("Authorization", d.Authorization)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("no answer within %s: %w", s.cfg.WebhookTimeout, err)
		}
		return 0, fmt.Errorf("post event: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookAnswer))
	return resp.StatusCode, nil
}

// detailTopicRejectionLocked says why a detail topic cannot be subscribed
// ("" when it can); ok is false when topic is not a detail topic at all.
func (s *Sandbox) detailTopicRejectionLocked(topic string) (reason string, ok bool) {
	if !strings.HasPrefix(topic, detailTopicPrefix) {
		return "", false
	}
	m := detailTopic.FindStringSubmatch(topic)
	if m == nil {
		return "Topic " + topic + " is not available: the Genesys sandbox offers the detail events user.start, user.end, customer.end and acw", true
	}
	if _, ok := s.convs[m[1]]; !ok {
		return "Conversation " + m[1] + " does not exist or you lack permission to view it", true
	}
	return "", true
}
