package relay_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/handlers"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

const (
	replayIntegration = "8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d"
	replaySecret      = "webhook-secret-0123456789"
)

// replayFixture is a relay (not run) with one endpoint and one open conversation.
type replayFixture struct {
	t     *testing.T
	store *store.Store
	relay *relay.Relay
	conv  store.Conversation
	e     store.Endpoint
}

func newReplayFixture(t *testing.T, opts store.Options) *replayFixture {
	t.Helper()
	ctx := context.Background()
	s := storetest.OpenWith(t, storetest.DatabaseURL(t, store.SQLite), opts)
	e := store.Endpoint{OrganisationID: 1, Name: "bot", URLToken: "tok", Provider: store.ProviderGenesysCloudOM, WebhookSecret: replaySecret}
	if err := s.CreateEndpoint(ctx, &e); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEndpointIntegration(ctx, e.ID, replayIntegration, ""); err != nil {
		t.Fatal(err)
	}
	conv := store.Conversation{EndpointID: e.ID, SessionID: "s1", UserID: "u1", CustomerID: "relay-customer-1", State: store.StateAgentJoined}
	if err := s.CreateConversation(ctx, &conv); err != nil {
		t.Fatal(err)
	}
	return &replayFixture{t: t, store: s, relay: relay.New(relay.Config{Store: s, WebhookReplayWindow: 15 * time.Minute, WebhookStatus: handlers.WebhookStatus}), conv: conv, e: e}
}

func (f *replayFixture) body(messageID, text string, at time.Time) []byte {
	return fmt.Appendf(nil, `{"id":%q,"channel":{"id":%q,"platform":"Open","type":"Private","messageId":%q,"to":{"id":%q},"from":{"nickname":"Max Agent","id":"a1","idType":"Opaque"},"time":%q},"type":"Text","text":%q,"direction":"Outbound"}`,
		messageID, replayIntegration, messageID, f.conv.CustomerID, at.UTC().Format("2006-01-02T15:04:05.000Z"), text)
}

// receive sends a webhook signed with secret through the relay's receiver.
func (f *replayFixture) receive(body []byte, secret string, at time.Time) store.Webhook {
	f.t.Helper()
	res, err := f.relay.ReceiveWebhook(context.Background(), relay.IncomingWebhook{Body: body, Signature: genesys.Sign(secret, body),
		Headers: map[string]string{genesys.SignatureHeader: genesys.Sign(secret, body), "Content-Type": "application/json"}, ReceivedAt: at})
	if err != nil {
		f.t.Fatal(err)
	}
	w, err := f.store.WebhookByID(context.Background(), res.LogID)
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

func (f *replayFixture) agentMessages() int {
	f.t.Helper()
	msgs, err := f.store.ConversationMessages(context.Background(), f.conv.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if m.Direction == store.FromAgent {
			n++
		}
	}
	return n
}

func TestReplayingAProcessedWebhookIsLoggedAsADuplicateAndChangesNothing(t *testing.T) {
	f := newReplayFixture(t, store.Options{})
	ctx := context.Background()
	w := f.receive(f.body("m1", "Hello", time.Now()), replaySecret, time.Now())
	if err := f.relay.ProcessWebhook(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if f.agentMessages() != 1 {
		t.Fatal("the webhook was not applied")
	}
	replay, err := f.relay.ReplayWebhook(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if replay.ID == w.ID || replay.ReplayOf == nil || *replay.ReplayOf != w.ID {
		t.Fatalf("replay row %d replays %v, want a new row pointing at %d", replay.ID, replay.ReplayOf, w.ID)
	}
	if replay.Verdict != store.VerdictValid || replay.Outcome != store.OutcomeDuplicate || replay.Body != w.Body || replay.Headers[genesys.SignatureHeader] == "" {
		t.Fatalf("replay = verdict %q outcome %q", replay.Verdict, replay.Outcome)
	}
	if f.agentMessages() != 1 {
		t.Fatal("replaying a processed webhook applied it again")
	}
}

func TestReplayingAnUnprocessedWebhookProcessesItOnce(t *testing.T) {
	f := newReplayFixture(t, store.Options{})
	ctx := context.Background()
	w := f.receive(f.body("m2", "Hi there", time.Now()), replaySecret, time.Now()) // the relay is not run: nothing processes it
	replay, err := f.relay.ReplayWebhook(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if replay.Outcome != store.OutcomeDelivered || replay.ConversationID == nil || *replay.ConversationID != f.conv.ID {
		t.Fatalf("replay outcome %q, conversation %v; want delivered to %d", replay.Outcome, replay.ConversationID, f.conv.ID)
	}
	// The original gave its dedupe key up: processing it now does nothing.
	if err := f.relay.ProcessWebhook(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	original, _ := f.store.WebhookByID(ctx, w.ID)
	if original.Outcome != store.OutcomeReplayed || f.agentMessages() != 1 {
		t.Fatalf("original outcome %q, %d agent messages; want replayed and 1", original.Outcome, f.agentMessages())
	}
	// And a second replay is a duplicate.
	again, err := f.relay.ReplayWebhook(ctx, w.ID)
	if err != nil || again.Outcome != store.OutcomeDuplicate || f.agentMessages() != 1 {
		t.Fatalf("second replay: %q, %v, %d agent messages", again.Outcome, err, f.agentMessages())
	}
}

func TestReplayRechecksTheSignatureWithTheCurrentSecretButNotTheAge(t *testing.T) {
	f := newReplayFixture(t, store.Options{})
	ctx := context.Background()
	old := time.Now().Add(-2 * time.Hour)
	stale := f.receive(f.body("m3", "from long ago", old), replaySecret, time.Now())
	if stale.Verdict != store.VerdictStale {
		t.Fatalf("an old webhook's verdict %q, want stale", stale.Verdict)
	}
	replay, err := f.relay.ReplayWebhook(ctx, stale.ID)
	if err != nil {
		t.Fatal(err)
	}
	if replay.Verdict != store.VerdictValid || replay.Outcome != store.OutcomeDelivered {
		t.Fatalf("replay of a stale webhook: %q / %q, want valid and delivered (an admin replays on purpose)", replay.Verdict, replay.Outcome)
	}

	forged := f.receive(f.body("m4", "forged", time.Now()), "another-secret-0123456789", time.Now())
	if forged.Verdict != store.VerdictMismatch {
		t.Fatalf("forged verdict %q", forged.Verdict)
	}
	replay, err = f.relay.ReplayWebhook(ctx, forged.ID)
	if err != nil {
		t.Fatal(err)
	}
	if replay.Verdict != store.VerdictMismatch || replay.Status != 401 || replay.Outcome != store.OutcomeRejected || replay.VerdictDetail == "" {
		t.Fatalf("replay of a forged webhook: %+v", replay)
	}
	// The admin fixes the secret: the same webhook now passes.
	f.e.WebhookSecret = "another-secret-0123456789"
	if err := f.store.UpdateEndpoint(ctx, &f.e); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetEndpointIntegration(ctx, f.e.ID, replayIntegration, ""); err != nil {
		t.Fatal(err)
	}
	replay, err = f.relay.ReplayWebhook(ctx, forged.ID)
	if err != nil || replay.Verdict != store.VerdictValid || replay.Outcome != store.OutcomeDelivered {
		t.Fatalf("replay with the fixed secret: %q / %q, %v", replay.Verdict, replay.Outcome, err)
	}
	if _, err := f.relay.ReplayWebhook(ctx, 999999); err == nil {
		t.Fatal("replaying an unknown webhook succeeded")
	}
}

func TestPruneLogsDeletesWhatIsOlderThanTheRetention(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f := newReplayFixture(t, store.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	for _, age := range []time.Duration{15 * 24 * time.Hour, 13 * 24 * time.Hour} {
		if _, err := f.store.InsertWebhook(ctx, &store.Webhook{ReceivedAt: now.Add(-age), Verdict: store.VerdictMalformed, Status: 400}); err != nil {
			t.Fatal(err)
		}
		if err := f.store.InsertAPICall(ctx, &store.APICall{EndpointID: f.e.ID, Method: "GET", Path: "/x", CreatedAt: now.Add(-age)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.relay.PruneLogs(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if hooks, _ := f.store.ListWebhooks(ctx, store.WebhookFilter{}); len(hooks.Rows) != 2 {
		t.Fatalf("retention 0 deleted webhooks: %d left", len(hooks.Rows))
	}
	if err := f.relay.PruneLogs(ctx, 14*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	hooks, _ := f.store.ListWebhooks(ctx, store.WebhookFilter{})
	calls, _ := f.store.ListAPICalls(ctx, store.APICallFilter{})
	if len(hooks.Rows) != 1 || len(calls.Rows) != 1 || !hooks.Rows[0].ReceivedAt.Equal(now.Add(-13*24*time.Hour)) {
		t.Fatalf("after pruning 14 days: %d webhooks, %d calls; want the 13-day-old one of each", len(hooks.Rows), len(calls.Rows))
	}
}

func TestPruneLogsDeletesTheOldestRowsBeyondTheSizeCapButKeepsDedupeKeysOfTheReplayWindow(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f := newReplayFixture(t, store.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	var logs bytes.Buffer
	// 20 refused webhooks of 4 KB, a minute apart, the oldest 3 h ago, and
	// a valid one received 10 minutes ago, inside the one-hour replay window.
	for i := range 20 {
		at := now.Add(-3*time.Hour + time.Duration(i)*time.Minute)
		if _, err := f.store.InsertWebhook(ctx, &store.Webhook{ReceivedAt: at, Body: strings.Repeat("x", 4096), Verdict: store.VerdictMalformed, Status: 400, ProcessedAt: &at}); err != nil {
			t.Fatal(err)
		}
	}
	valid := f.receive(f.body("m1", strings.Repeat("y", 20_000), now.Add(-10*time.Minute)), replaySecret, now.Add(-10*time.Minute))
	if err := f.relay.ProcessWebhook(ctx, valid.ID); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		n, err := f.store.LogBytes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	oldest := func() time.Time {
		var first time.Time
		f.store.ForEachWebhook(ctx, func(w store.Webhook) {
			if first.IsZero() {
				first = w.ReceivedAt
			}
		})
		return first
	}
	capBytes := size() - 5*4096 // room for 15 of the 20 refused webhooks, about
	f.relay = relay.New(relay.Config{Store: f.store, WebhookReplayWindow: time.Hour, LogMaxBytes: capBytes, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := f.relay.PruneLogs(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if got := size(); got > capBytes {
		t.Fatalf("%d bytes left, over the cap of %d", got, capBytes)
	}
	hooks, _ := f.store.ListWebhooks(ctx, store.WebhookFilter{Limit: 100})
	if len(hooks.Rows) != 21-5 || !oldest().Equal(now.Add(-3*time.Hour+5*time.Minute)) {
		t.Fatalf("%d webhooks left, the oldest from %s; want the 5 oldest deleted", len(hooks.Rows), oldest())
	}
	if strings.Contains(logs.String(), "over HANDOVER_LOG_MAX_BYTES") {
		t.Fatalf("a warning though the cap was met:\n%s", logs.String())
	}

	// A cap below the one webhook inside the replay window: it stays, with a warning.
	f.relay = relay.New(relay.Config{Store: f.store, WebhookReplayWindow: time.Hour, LogMaxBytes: 1000, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := f.relay.PruneLogs(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if w, err := f.store.WebhookByID(ctx, valid.ID); err != nil || w.DedupeKey == nil {
		t.Fatalf("the webhook inside the replay window: %v, %v; want it kept with its dedupe key", w.DedupeKey, err)
	}
	if hooks, _ := f.store.ListWebhooks(ctx, store.WebhookFilter{Limit: 100}); len(hooks.Rows) != 1 {
		t.Fatalf("%d webhooks left, want only the one inside the replay window", len(hooks.Rows))
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"the webhook and Genesys call logs are over HANDOVER_LOG_MAX_BYTES") {
		t.Fatalf("no warning that the logs stay over the cap:\n%s", logs.String())
	}
	// The stored webhook still stops a replay of it.
	again := f.receive(f.body("m1", strings.Repeat("y", 20_000), now.Add(-10*time.Minute)), replaySecret, now)
	if again.Outcome != store.OutcomeDuplicate {
		t.Fatalf("a replay after pruning: outcome %q, want duplicate", again.Outcome)
	}
}
