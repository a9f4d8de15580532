package relay_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// verdictCounter is an Observer that counts webhooks by verdict, as the
// handover_webhooks_total metric does.
type verdictCounter struct {
	mu       sync.Mutex
	verdicts map[string]int
}

func (o *verdictCounter) HandoverRequested()              {}
func (o *verdictCounter) HandoverQueued()                 {}
func (o *verdictCounter) AgentJoined(time.Duration)       {}
func (o *verdictCounter) FirstAgentMessage(time.Duration) {}
func (o *verdictCounter) HandoverEnded(string)            {}
func (o *verdictCounter) HandoverFailed(string)           {}
func (o *verdictCounter) BotConnectorTurn(string)         {}
func (o *verdictCounter) Webhook(verdict string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.verdicts[verdict]++
}

func (o *verdictCounter) count(verdict string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.verdicts[verdict]
}

// clock is a pinned clock that the test moves on.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestRefusedWebhooksBeyondTheLimitPerSourceAndMinuteAreCountedNotLogged(t *testing.T) {
	at := &clock{now: time.Date(2026, 5, 1, 12, 0, 10, 0, time.UTC)}
	f := newReplayFixture(t, store.Options{Now: at.Now})
	var logs bytes.Buffer // the relay is not run: only this test writes to it
	obs := &verdictCounter{verdicts: map[string]int{}}
	f.relay = relay.New(relay.Config{Store: f.store, RefusedLogPerMinute: 3, Observer: obs,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	forged := func(source string) relay.WebhookResult {
		t.Helper()
		body := f.body("forged", "hi", at.Now())
		res, err := f.relay.ReceiveWebhook(ctx, relay.IncomingWebhook{Body: body, Signature: genesys.Sign("not-the-secret-0123456789", body), ReceivedAt: at.Now(), Source: source})
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict != store.VerdictMismatch {
			t.Fatalf("a forged webhook: %s, want mismatch (answered 401)", res.Verdict)
		}
		return res
	}
	rowsFrom := func() map[int]int { // rows by minute past 12:00
		out := map[int]int{}
		f.store.ForEachWebhook(ctx, func(w store.Webhook) { out[w.ReceivedAt.Minute()]++ })
		return out
	}

	for range 10 {
		forged("203.0.113.7")
	}
	for range 2 {
		forged("198.51.100.1")
	}
	res, err := f.relay.RefuseWebhook(ctx, relay.IncomingWebhook{ReceivedAt: at.Now(), Source: "203.0.113.7"}, store.VerdictTooLarge, "too large")
	if err != nil || res.Verdict != store.VerdictTooLarge || res.LogID != 0 {
		t.Fatalf("a too-large request over the limit: %+v %v; want too_large (answered 413), not logged", res, err)
	}
	var details []string
	f.store.ForEachWebhook(ctx, func(w store.Webhook) { details = append(details, w.VerdictDetail) })
	if len(details) != 5 {
		t.Fatalf("%d rows, want 3 from 203.0.113.7 and 2 from 198.51.100.1", len(details))
	}
	if !strings.HasSuffix(details[2], "further refused requests from 203.0.113.7 this minute are counted, not logged") || strings.Contains(details[1]+details[4], "further") {
		t.Fatalf("details %q: only the third row from 203.0.113.7 should say the rest are counted", details)
	}
	if obs.count(store.VerdictMismatch) != 12 || obs.count(store.VerdictTooLarge) != 1 {
		t.Fatalf("metrics counted %v, want every refusal", obs.verdicts)
	}

	f.relay.FlushRefusedCounts(ctx)
	if strings.Contains(logs.String(), "counted, not logged") {
		t.Fatalf("a count was written before its minute was over:\n%s", logs.String())
	}
	at.add(time.Minute)
	f.relay.FlushRefusedCounts(ctx)
	line := logs.String()
	if strings.Count(line, "refused webhooks counted, not logged") != 1 || !strings.Contains(line, "count=8 source=203.0.113.7") {
		t.Fatalf("after the minute the log says:\n%s\nwant one line: 8 more refused from 203.0.113.7", line)
	}
	// A new minute, a new allowance.
	forged("203.0.113.7")
	if got := rowsFrom(); got[0] != 5 || got[1] != 1 {
		t.Fatalf("rows per minute %v, want 5 then 1", got)
	}
}
