package relay_test

// Event webhooks to the bot, beside their code: a real HTTP receiver on
// loopback plays the bot and verifies each request with Svix's Standard
// Webhooks library, which shares no code with the signer.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
)

// botReceiver is a bot's webhook URL: it answers the statuses of its
// script in turn (then 200) and keeps every request it got.
type botReceiver struct {
	t      *testing.T
	server *httptest.Server
	mu     sync.Mutex
	script []int
	got    []botRequest
}

type botRequest struct {
	status  int
	headers http.Header
	body    []byte
	event   relay.BotEvent
}

func newBotReceiver(t *testing.T, script ...int) *botReceiver {
	b := &botReceiver{t: t, script: script}
	b.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev relay.BotEvent
		_ = json.Unmarshal(body, &ev)
		b.mu.Lock()
		status := http.StatusOK
		if len(b.script) > 0 {
			status, b.script = b.script[0], b.script[1:]
		}
		b.got = append(b.got, botRequest{status: status, headers: r.Header.Clone(), body: body, event: ev})
		b.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(b.server.Close)
	return b
}

// newDownBot is a bot receiver that answers 503 until its script is
// cleared (the bot is back).
func newDownBot(t *testing.T) *botReceiver {
	down := make([]int, 1000)
	for i := range down {
		down[i] = http.StatusServiceUnavailable
	}
	return newBotReceiver(t, down...)
}

func (b *botReceiver) requests() []botRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.got)
}

// accepted are the events the bot answered 2xx, in the order it got them.
func (b *botReceiver) accepted() []botRequest {
	var out []botRequest
	for _, r := range b.requests() {
		if r.status < 300 {
			out = append(out, r)
		}
	}
	return out
}

func (b *botReceiver) waitAccepted(n int) []botRequest {
	b.t.Helper()
	testkit.WaitFor(b.t, 15*time.Second, "the bot's events", func() bool { return len(b.accepted()) >= n })
	return b.accepted()
}

// withBotWebhook points the engine's endpoint at url with a signing secret.
func (g *engine) withBotWebhook(url string) string {
	g.t.Helper()
	e, err := g.store.EndpointByID(context.Background(), g.e.ID)
	if err != nil {
		g.t.Fatal(err)
	}
	e.BotWebhookURL, e.BotWebhookSecret = url, secret.NewWebhookSecret()
	if err := g.store.UpdateEndpoint(context.Background(), &e); err != nil {
		g.t.Fatal(err)
	}
	g.e = e
	return e.BotWebhookSecret
}

// fastBotRetries retries quickly, and reaches the bot receivers on loopback.
func fastBotRetries(cfg *relay.Config) {
	cfg.BotRetryBase, cfg.BotRetryMax = 10*time.Millisecond, 50*time.Millisecond
	cfg.BotWebhookClient = genesys.NewHTTPClientWith(genesys.HTTPOptions{AllowPrivate: true})
}

func verify(t *testing.T, secret string, r botRequest) error {
	t.Helper()
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(r.body, r.headers)
}

func TestBotEventsArriveSignedOnceInOrderThroughFailures(t *testing.T) {
	g := newEngine(t, fastBotRetries)
	bot := newBotReceiver(t, 500, 500, 429)
	signing := g.withBotWebhook(bot.server.URL)
	ctx := context.Background()
	conv, err := g.relay.StartHandover(ctx, g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.relay.EndByUser(ctx, g.e, "s1"); err != nil {
		t.Fatal(err)
	}
	got := bot.waitAccepted(2)
	all := bot.requests()
	if len(all) != 5 || all[0].status != 500 || all[1].status != 500 || all[2].status != 429 {
		t.Fatalf("the bot got %d requests, want 500, 500, 429, then the two events", len(all))
	}
	// The first event was retried with the same id and body each time.
	for _, r := range all[:3] {
		if r.event.ID != got[0].event.ID || string(r.body) != string(got[0].body) {
			t.Fatalf("a retry changed the event: %s vs %s", r.body, got[0].body)
		}
	}
	var states []string
	for _, r := range got {
		if err := verify(t, signing, r); err != nil {
			t.Fatalf("event %s does not verify: %v", r.event.ID, err)
		}
		if r.headers.Get("webhook-id") != r.event.ID {
			t.Fatalf("webhook-id %q, event id %q", r.headers.Get("webhook-id"), r.event.ID)
		}
		data, _ := r.event.Data.(map[string]any)
		states = append(states, r.event.Type+":"+data["state"].(string))
		if r.event.EndpointID != g.e.ID || r.event.SessionID != "s1" || r.event.UserID != "u1" || r.event.ConversationID == nil || *r.event.ConversationID != conv.ID {
			t.Fatalf("the envelope reads %s", r.body)
		}
	}
	if strings.Join(states, ",") != "state:queued,state:ended" {
		t.Fatalf("the bot heard %v, want the queued state then the end, once each", states)
	}
	// The log says how the first went: three failures, then delivered.
	page, err := g.store.ListBotDeliveries(ctx, store.BotDeliveryFilter{EndpointID: g.e.ID})
	if err != nil {
		t.Fatal(err)
	}
	first := page.Rows[len(page.Rows)-1]
	if first.Status != store.BotDeliveryDelivered || first.Attempts != 4 || first.ResponseStatus != 200 || first.ResponseExcerpt != `{"ok":true}` {
		t.Fatalf("the first delivery reads %+v", first)
	}
	health, err := g.store.BotWebhookHealthOf(ctx, g.e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if health.LastSuccessAt == nil || health.FailuresInARow != 0 || health.Failing() {
		t.Fatalf("health after a success: %+v", health)
	}
}

func TestTheWrongSecretDoesNotVerify(t *testing.T) {
	g := newEngine(t, fastBotRetries)
	bot := newBotReceiver(t)
	g.withBotWebhook(bot.server.URL)
	if _, err := g.relay.StartHandover(context.Background(), g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	r := bot.waitAccepted(1)[0]
	if err := verify(t, secret.NewWebhookSecret(), r); err == nil {
		t.Fatal("an event verified with another secret")
	}
	tampered := r
	tampered.body = []byte(strings.Replace(string(r.body), `"s1"`, `"s2"`, 1))
	if err := verify(t, g.e.BotWebhookSecret, tampered); err == nil {
		t.Fatal("a changed body verified")
	}
}

func TestARotatedSigningSecretStillVerifiesDuringItsGrace(t *testing.T) {
	g := newEngine(t, fastBotRetries)
	bot := newBotReceiver(t)
	old := g.withBotWebhook(bot.server.URL)
	ctx := context.Background()
	e := g.e
	fresh := secret.NewWebhookSecret()
	e.Configure(store.EndpointSettings{Name: e.Name, Organisation: e.Organisation, Provider: e.Provider, Genesys: store.GenesysSettings{
		Host: e.Host, DeploymentName: e.DeploymentName, QueueID: e.QueueID, ClientID: e.ClientID, ClientSecret: e.ClientSecret, WebhookSecret: e.WebhookSecret},
		BotWebhookURL: e.BotWebhookURL, BotWebhookSecret: &fresh, Waiting: e.Waiting, Privacy: e.Privacy}, time.Hour, time.Now())
	if err := g.store.UpdateEndpoint(ctx, &e); err != nil {
		t.Fatal(err)
	}
	if _, err := g.relay.StartHandover(ctx, e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	r := bot.waitAccepted(1)[0]
	for _, s := range []string{old, fresh} {
		if err := verify(t, s, r); err != nil {
			t.Fatalf("during the grace period the event does not verify with one of the secrets: %v", err)
		}
	}
}

func TestABotThatKeepsFailingIsGivenUpAndFlagged(t *testing.T) {
	g := newEngine(t, func(cfg *relay.Config) {
		fastBotRetries(cfg)
		cfg.BotRetryFor = 200 * time.Millisecond
	})
	bot := newDownBot(t)
	g.withBotWebhook(bot.server.URL)
	ctx := context.Background()
	if _, err := g.relay.StartHandover(ctx, g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the event given up on", func() bool {
		page, err := g.store.ListBotDeliveries(ctx, store.BotDeliveryFilter{EndpointID: g.e.ID, Status: store.BotDeliveryFailed})
		return err == nil && len(page.Rows) == 1
	})
	health, err := g.store.BotWebhookHealthOf(ctx, g.e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !health.Failing() || health.FailuresInARow < 2 || !strings.Contains(health.LastError, "503") {
		t.Fatalf("health after giving up: %+v", health)
	}
	failing, err := g.store.FailingBotWebhooks(ctx)
	if err != nil || len(failing) != 1 || failing[0].EndpointID != g.e.ID {
		t.Fatalf("the failing endpoints: %+v, %v", failing, err)
	}
	// A 4xx other than 408 and 429 is the bot's final word: not retried.
	bot.mu.Lock()
	bot.script = []int{400}
	bot.mu.Unlock()
	if _, err := g.relay.EndByUser(ctx, g.e, "s1"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the refused event failed at once", func() bool {
		page, err := g.store.ListBotDeliveries(ctx, store.BotDeliveryFilter{EndpointID: g.e.ID, Status: store.BotDeliveryFailed})
		return err == nil && len(page.Rows) == 2 && page.Rows[0].Attempts == 1 && page.Rows[0].ResponseStatus == 400
	})
}

func TestReplaySendsOneDeliveryAgainWithItsID(t *testing.T) {
	g := newEngine(t, fastBotRetries)
	bot := newBotReceiver(t)
	g.withBotWebhook(bot.server.URL)
	ctx := context.Background()
	if _, err := g.relay.StartHandover(ctx, g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	first := bot.waitAccepted(1)[0]
	// The bot has it; replay once the relay has recorded that (a pending
	// delivery is only made due again).
	var page store.Page[store.BotDelivery]
	testkit.WaitFor(t, 10*time.Second, "the delivery recorded as delivered", func() bool {
		var err error
		page, err = g.store.ListBotDeliveries(ctx, store.BotDeliveryFilter{EndpointID: g.e.ID})
		return err == nil && len(page.Rows) == 1 && page.Rows[0].Status == store.BotDeliveryDelivered
	})
	d, err := g.relay.ReplayBotDelivery(ctx, page.Rows[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	got := bot.requests()
	if len(got) != 2 {
		t.Fatalf("the bot got %d requests, want the first and the replay", len(got))
	}
	if got[1].event.ID != first.event.ID || string(got[1].body) != string(first.body) {
		t.Fatalf("the replay sent %s, want %s", got[1].body, first.body)
	}
	if d.Attempts != 2 || d.Status != store.BotDeliveryDelivered {
		t.Fatalf("after the replay the delivery reads %+v", d)
	}
}

func TestATestEventIsSentAtOnceAndLogged(t *testing.T) {
	g := newEngine(t, fastBotRetries)
	bot := newBotReceiver(t)
	signing := g.withBotWebhook(bot.server.URL)
	d, err := g.relay.SendBotTestEvent(context.Background(), g.e)
	if err != nil {
		t.Fatal(err)
	}
	got := bot.requests()
	if len(got) != 1 || got[0].event.Type != "test" || got[0].event.ID != d.EventID || verify(t, signing, got[0]) != nil {
		t.Fatalf("the bot got %+v", got)
	}
	if d.Status != store.BotDeliveryDelivered || d.ConversationID != nil {
		t.Fatalf("the test delivery reads %+v", d)
	}
}

func TestARestartLosesNoPendingBotEvent(t *testing.T) {
	g := newEngine(t, fastBotRetries)
	bot := newDownBot(t)
	g.withBotWebhook(bot.server.URL)
	ctx := context.Background()
	if _, err := g.relay.StartHandover(ctx, g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.relay.EndByUser(ctx, g.e, "s1"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "attempts refused", func() bool { return len(bot.requests()) >= 2 })
	g.stop()
	refused := len(bot.requests())
	bot.mu.Lock()
	bot.script = nil // the bot is back
	bot.mu.Unlock()
	g.start()
	got := bot.waitAccepted(2)
	var states []string
	for _, r := range got {
		states = append(states, r.event.Data.(map[string]any)["state"].(string))
	}
	if strings.Join(states, ",") != "queued,ended" || len(bot.requests()) != refused+2 {
		t.Fatalf("after the restart the bot heard %v in %d requests (%d refused before), want queued then ended once each", states, len(bot.requests()), refused)
	}
}

func TestRemovingTheURLDropsWaitingEventsWithoutFlaggingTheEndpoint(t *testing.T) {
	g := newEngine(t, fastBotRetries)
	bot := newDownBot(t)
	g.withBotWebhook(bot.server.URL)
	ctx := context.Background()
	if _, err := g.relay.StartHandover(ctx, g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "an attempt refused", func() bool { return len(bot.requests()) >= 1 })
	e := g.e
	e.BotWebhookURL = ""
	if err := g.store.UpdateEndpoint(ctx, &e); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the waiting event dropped", func() bool {
		page, err := g.store.ListBotDeliveries(ctx, store.BotDeliveryFilter{EndpointID: e.ID, Status: store.BotDeliveryFailed})
		return err == nil && len(page.Rows) == 1 && strings.Contains(page.Rows[0].LastError, "no bot webhook URL")
	})
	if failing, err := g.store.FailingBotWebhooks(ctx); err != nil || len(failing) != 0 {
		t.Fatalf("an endpoint without a bot webhook is flagged as failing: %+v, %v", failing, err)
	}
}

func TestABotURLOnAPrivateAddressIsRefusedOnceUnlessAllowed(t *testing.T) {
	g := newEngine(t, func(cfg *relay.Config) {
		fastBotRetries(cfg)
		cfg.BotWebhookClient = genesys.NewHTTPClientWith(genesys.HTTPOptions{AllowPrivate: false})
	})
	bot := newBotReceiver(t)
	g.withBotWebhook(bot.server.URL) // 127.0.0.1
	ctx := context.Background()
	if _, err := g.relay.StartHandover(ctx, g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the event refused for its address", func() bool {
		page, err := g.store.ListBotDeliveries(ctx, store.BotDeliveryFilter{EndpointID: g.e.ID, Status: store.BotDeliveryFailed})
		return err == nil && len(page.Rows) == 1 && page.Rows[0].Attempts == 1 && strings.Contains(page.Rows[0].LastError, "HANDOVER_ALLOW_PRIVATE_BOT_URLS")
	})
	if n := len(bot.requests()); n != 0 {
		t.Fatalf("the bot on a loopback address got %d requests", n)
	}
}

func TestAnEndpointThatKeepsNoTextStillSendsTheBotWhatWaitsThenForgetsIt(t *testing.T) {
	g := newEngine(t, fastBotRetries)
	bot := newDownBot(t) // down until the conversation ended
	g.withBotWebhook(bot.server.URL)
	ctx := context.Background()
	e := g.e
	e.Privacy.DiscardConversationText = true
	if err := g.store.UpdateEndpoint(ctx, &e); err != nil {
		t.Fatal(err)
	}
	conv, err := g.relay.StartHandover(ctx, e, relay.HandoverRequest{UserID: "u1", SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	g.waitForMessages(1)
	g.agentMessage(conv, "agent-msg-1", "Hello from the agent")
	if _, err := g.relay.EndByUser(ctx, e, "s1"); err != nil {
		t.Fatal(err)
	}
	bot.mu.Lock()
	bot.script = nil // the bot is back
	bot.mu.Unlock()
	var sent string
	for _, r := range bot.waitAccepted(3) {
		if r.event.Type == "message" {
			sent = r.event.Data.(map[string]any)["text"].(string)
		}
	}
	if sent != "Hello from the agent" {
		t.Fatalf("the bot got the agent's message as %q: the text was forgotten before it was sent", sent)
	}
	testkit.WaitFor(t, 5*time.Second, "the text forgotten once delivered", func() bool {
		msgs, err := g.store.ConversationMessages(ctx, conv.ID)
		if err != nil {
			return false
		}
		for _, m := range msgs {
			if m.Direction == store.FromAgent && m.Kind == store.KindText {
				return m.Text == ""
			}
		}
		return false
	})
}
