package relay_test

// The engine's three paths, beside its code: StartHandover, the outbox and
// ProcessWebhook, each against the Genesys sandbox served over loopback and
// a real temporary SQLite database, with the relay's workers running.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

const (
	engineQueueID    = "3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31"
	engineDeployment = "engine-test"
	engineSecret     = "engine-webhook-secret-0123456789"
)

// engine is a running relay with one endpoint that hands over to a sandbox.
type engine struct {
	t       *testing.T
	store   *store.Store
	relay   *relay.Relay
	genesys *sandbox.Sandbox
	e       store.Endpoint
	dbURL   string // the SQLite database, for tests that read its files
	cfg     relay.Config
	stop    func() // stops the relay's workers, as a process stop would
}

// newEngine starts the sandbox on a loopback port and the relay's workers
// against it; tune adjusts the relay's configuration first.
func newEngine(t *testing.T, tune func(*relay.Config)) *engine {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	sb, err := sandbox.New(sandbox.Config{PublicBaseURL: base, RequestsPerMinute: 1_000_000, WebhookRetryDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	sb.Register(app)
	go app.Listener(ln)
	t.Cleanup(func() {
		sb.Close()
		app.ShutdownWithTimeout(time.Second)
	})
	sb.AddClient("engine-client", "engine-client-secret")
	sb.AddQueue(engineQueueID, "Support")
	// Webhooks go nowhere: the tests hand them to the relay themselves.
	sb.AddIntegration(engineDeployment, "http://127.0.0.1:1/webhook", engineSecret)

	dbURL := storetest.DatabaseURL(t, store.SQLite)
	s := storetest.OpenWith(t, dbURL, store.Options{})
	e := store.Endpoint{OrganisationID: 1, Name: "engine", URLToken: "engine-token", Provider: store.ProviderGenesysCloudOM,
		Host: base, DeploymentName: engineDeployment, QueueID: engineQueueID, ClientID: "engine-client", ClientSecret: "engine-client-secret",
		WebhookSecret: engineSecret, DefaultLanguage: "english", DefaultSkills: []string{"support"}, DefaultPriority: 3,
		DefaultCustomAttributes: map[string]string{"tier": "gold"}}
	if err := s.CreateEndpoint(context.Background(), &e); err != nil {
		t.Fatal(err)
	}
	cfg := relay.Config{Store: s, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, RequestsPerMinute: 1_000_000,
		PollInterval: time.Hour, SingleInstance: true}
	if tune != nil {
		tune(&cfg)
	}
	g := &engine{t: t, store: s, genesys: sb, e: e, dbURL: dbURL, cfg: cfg}
	g.start()
	return g
}

// start runs a new relay on the engine's store (after stop: a restart).
func (g *engine) start() {
	g.relay = relay.New(g.cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.relay.Run(ctx) }()
	var once sync.Once
	g.stop = func() { once.Do(func() { cancel(); <-done }) }
	g.t.Cleanup(g.stop)
}

// inboundMessages are the customer messages Genesys accepted, in order.
func (g *engine) inboundMessages() []genesys.InboundMessage {
	var out []genesys.InboundMessage
	for _, rec := range g.genesys.Inbound() {
		if m, ok := rec.Parsed.(genesys.InboundMessage); ok && rec.Kind == sandbox.KindMessage && !rec.Duplicate {
			out = append(out, m)
		}
	}
	return out
}

func (g *engine) waitForMessages(n int) []genesys.InboundMessage {
	g.t.Helper()
	testkit.WaitFor(g.t, 10*time.Second, "the messages at Genesys", func() bool { return len(g.inboundMessages()) >= n })
	return g.inboundMessages()
}

func TestStartHandoverSendsTheRoutingDataAndTheTranscriptToGenesys(t *testing.T) {
	g := newEngine(t, nil)
	ctx := context.Background()
	long := strings.Repeat("The invoice lists a charge twice. ", 200) // over 4,000 characters
	priority := 7
	conv, err := g.relay.StartHandover(ctx, g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1", Language: "german", Skills: []string{"billing"},
		Priority: &priority, CustomAttributes: map[string]string{"contract": "C-4711"},
		Transcript: []relay.TranscriptEntry{{Source: "user", Text: long, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}})
	if err != nil {
		t.Fatal(err)
	}
	if conv.State != store.StateQueued {
		t.Fatalf("state %q, want queued", conv.State)
	}
	msgs := g.waitForMessages(2)
	first := msgs[0]
	if first.Channel.Metadata == nil {
		t.Fatal("the first message carries no participant data")
	}
	for k, want := range map[string]string{"queueId": engineQueueID, "myLanguage": "german", "mySkills": "billing", "myPriority": "7",
		"userId": "u1", "sessionId": "s1", "contract": "C-4711", "tier": "gold"} {
		if got := first.Channel.Metadata.CustomAttributes[k]; got != want {
			t.Errorf("participant data %s = %q, want %q", k, got, want)
		}
	}
	var text strings.Builder
	for i, m := range msgs {
		if n := utf8.RuneCountInString(m.Text); n > genesys.MaxTextRunes {
			t.Errorf("message %d has %d characters, over Genesys's %d", i, n, genesys.MaxTextRunes)
		}
		if i > 0 && m.Channel.Metadata != nil {
			t.Errorf("message %d carries participant data again", i)
		}
		text.WriteString(m.Text)
	}
	if !strings.Contains(strings.Join(strings.Fields(text.String()), " "), strings.TrimSpace(strings.Repeat("The invoice lists a charge twice. ", 50))) {
		t.Error("the transcript's text did not reach Genesys whole")
	}

	_, err = g.relay.StartHandover(ctx, g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"})
	if !errors.Is(err, relay.ErrAlreadyInHandover) {
		t.Fatalf("a second handover of the session: %v, want ErrAlreadyInHandover", err)
	}
}

func TestAnUnknownDeploymentNameIsAGenesysSettingsError(t *testing.T) {
	g := newEngine(t, nil)
	g.e.DeploymentName = "no-such-deployment"
	_, err := g.relay.StartHandover(context.Background(), g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"})
	var refusal *relay.Error
	if !errors.Is(err, relay.ErrGenesysSettings) || !errors.As(err, &refusal) || !strings.Contains(refusal.Message, engineDeployment) {
		t.Fatalf("handover with a wrong deployment name: %v; want ErrGenesysSettings naming the deployments that exist", err)
	}
}

// agentMessage hands the relay a signed webhook of an agent's text in
// conv, as Genesys would send it, and waits until it is processed.
func (g *engine) agentMessage(conv store.Conversation, id, text string) store.Webhook {
	g.t.Helper()
	ctx := context.Background()
	e, err := g.store.EndpointByID(ctx, g.e.ID)
	if err != nil {
		g.t.Fatal(err)
	}
	body := []byte(`{"id":"` + id + `","channel":{"id":"` + e.IntegrationID + `","platform":"Open","type":"Private","to":{"id":"` + conv.CustomerID +
		`"},"from":{"id":"` + e.IntegrationID + `","idType":"Opaque","nickname":"Max"},"time":"` + genesys.FormatTime(time.Now()) +
		`"},"type":"Text","text":"` + text + `","originatingEntity":"Human","direction":"Outbound"}`)
	res, err := g.relay.ReceiveWebhook(ctx, relay.IncomingWebhook{Body: body, Signature: genesys.Sign(engineSecret, body), ReceivedAt: time.Now()})
	if err != nil {
		g.t.Fatal(err)
	}
	var w store.Webhook
	testkit.WaitFor(g.t, 5*time.Second, "the webhook processed", func() bool {
		w, err = g.store.WebhookByID(ctx, res.LogID)
		return err == nil && w.ProcessedAt != nil
	})
	return w
}

// userMessages sends texts as the session's user, in order.
func (g *engine) userMessages(session string, texts ...string) {
	g.t.Helper()
	for _, text := range texts {
		if _, err := g.relay.SendUserMessage(context.Background(), g.e, relay.UserMessage{UserID: "u1", SessionID: session, Text: text}); err != nil {
			g.t.Fatal(err)
		}
	}
}

// handedOver hands session over as user u1 and waits for Genesys to have
// its first message.
func (g *engine) handedOver(session string) {
	g.t.Helper()
	if _, err := g.relay.StartHandover(context.Background(), g.e, relay.HandoverRequest{UserID: "u1", SessionID: session}); err != nil {
		g.t.Fatal(err)
	}
	g.waitForMessages(1)
}

// wantAtGenesysInOrder waits until Genesys has, after the handover's first
// message, the user's texts want, and fails unless each came once in order.
func (g *engine) wantAtGenesysInOrder(want []string) {
	g.t.Helper()
	msgs := g.waitForMessages(1 + len(want))
	var got []string
	for _, m := range msgs[1:] {
		got = append(got, m.Text)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		g.t.Fatalf("Genesys got %v, want %v once each in order", got, want)
	}
}

// A conversation's queued calls go out one after another on the slot that
// sent the first (each sent mark leases the next), past the longest run a
// slot keeps one conversation, once each and in order.
func TestAConversationsBacklogGoesOutInOrderPastTheLongestChain(t *testing.T) {
	g := newEngine(t, nil)
	g.handedOver("s1")
	// The first message waits for a retry, so the others queue behind it.
	g.genesys.SetFault(sandbox.Fault{Status: 503, Count: 1, PathContains: "/inbound/open/message"})
	var want []string
	for i := range 40 { // more than a slot sends of one conversation in a row
		want = append(want, fmt.Sprint("backlog ", i))
	}
	g.userMessages("s1", want...)
	g.wantAtGenesysInOrder(want)
}

func TestTheOutboxSendsAConversationsMessagesOnceAndInOrderThroughFailures(t *testing.T) {
	g := newEngine(t, nil)
	g.handedOver("s1")
	// Genesys fails the next attempts: three 503s, then two 429s.
	g.genesys.SetFault(sandbox.Fault{Status: 503, Count: 3, PathContains: "/inbound/open/message"})
	g.genesys.SetFault(sandbox.Fault{Status: 429, Count: 2, PathContains: "/inbound/open/message"})
	want := []string{"one", "two", "three", "four", "five"}
	g.userMessages("s1", want...)
	g.wantAtGenesysInOrder(want)
	rejected := 0
	for _, r := range g.genesys.Rejected() {
		if strings.Contains(r.Path, "/inbound/open/message") {
			rejected++
		}
	}
	if rejected != 5 {
		t.Fatalf("%d attempts refused, want the 5 faults: the outbox retried past them", rejected)
	}
}

func TestARateLimitedCallWaitsForRetryAfter(t *testing.T) {
	g := newEngine(t, nil)
	if _, err := g.relay.StartHandover(context.Background(), g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	g.waitForMessages(1)
	g.genesys.SetFault(sandbox.Fault{Status: 429, RetryAfter: time.Second, Count: 1, PathContains: "/inbound/open/message"})
	g.userMessages("s1", "after the limit")
	g.waitForMessages(2)
	// The call log is written once the call returns, a moment after Genesys
	// holds the message: wait for the successful row itself.
	var limited, sent time.Time
	testkit.WaitFor(t, 10*time.Second, "the 429 and the later send in the call log", func() bool {
		calls, err := g.store.ListAPICalls(context.Background(), store.APICallFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		limited, sent = time.Time{}, time.Time{}
		for _, c := range calls.Rows {
			if strings.Contains(c.Path, "/inbound/open/message") && c.Status == 429 {
				limited = c.CreatedAt
			}
		}
		for _, c := range calls.Rows {
			if strings.Contains(c.Path, "/inbound/open/message") && c.Status < 300 && !limited.IsZero() && c.CreatedAt.After(limited) {
				sent = c.CreatedAt
			}
		}
		return !sent.IsZero()
	})
	if limited.IsZero() || sent.Sub(limited) < 900*time.Millisecond {
		t.Fatalf("429 at %v, sent at %v: the retry did not wait for Retry-After (1 s)", limited, sent)
	}
}

func TestACallThatKeepsFailingIsGivenUpAndTheUserSeesItFailed(t *testing.T) {
	g := newEngine(t, func(c *relay.Config) { c.RetryFor = 300 * time.Millisecond })
	if _, err := g.relay.StartHandover(context.Background(), g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	g.waitForMessages(1)
	g.genesys.SetFault(sandbox.Fault{Status: 503, PathContains: "/inbound/open/message"})
	g.userMessages("s1", "lost in an outage")
	testkit.WaitFor(t, 10*time.Second, "the message marked failed", func() bool {
		msgs, _ := g.store.ConversationMessages(context.Background(), 1)
		for _, m := range msgs {
			if m.Text == "lost in an outage" {
				return m.Delivery == store.DeliveryFailed && m.Error != ""
			}
		}
		return false
	})
}

func TestProcessWebhookAppliesAnAgentMessageOnceWithItsReceipt(t *testing.T) {
	g := newEngine(t, nil)
	ctx := context.Background()
	conv, err := g.relay.StartHandover(ctx, g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	g.waitForMessages(1)
	receive := func() store.Webhook { return g.agentMessage(conv, "agent-msg-1", "Hello from the agent") }
	if w := receive(); w.Outcome != store.OutcomeDelivered {
		t.Fatalf("first delivery: outcome %q, want delivered", w.Outcome)
	}
	if w := receive(); w.Outcome != store.OutcomeDuplicate {
		t.Fatalf("the same webhook again: outcome %q, want duplicate", w.Outcome)
	}
	events, err := g.store.SessionEventsAfter(ctx, g.e.ID, "s1", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	copies := 0
	for _, m := range events {
		if m.Text == "Hello from the agent" && m.Direction == store.FromAgent {
			copies++
		}
	}
	if copies != 1 {
		t.Fatalf("the agent's message is on the session's stream %d times, want once", copies)
	}
	// Its Delivered receipt, queued with it, reaches Genesys (the duplicate
	// queued none: it changed nothing).
	testkit.WaitFor(t, 5*time.Second, "the Delivered receipt at Genesys", func() bool {
		n := 0
		for _, rec := range g.genesys.Inbound() {
			if r, ok := rec.Parsed.(genesys.InboundReceipt); ok && r.ID == "agent-msg-1" && r.Status == genesys.ReceiptDelivered && !rec.Duplicate {
				n++
			}
		}
		return n == 1
	})
}
