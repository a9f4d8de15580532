package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// timeScale compresses the relay's retry policy for these tests: every
// duration of the production policy (1 s base, 30 s cap, 15 min give-up) is
// divided by it, so "two minutes of Genesys outage" lasts 1.2 s of wall time
// while the relay sees the same outage relative to its own timings.
const timeScale = 100

func scaledRelay(rc *relay.Config, _ *sandbox.Config) {
	rc.RetryBase, rc.RetryMax, rc.RetryFor = time.Second/timeScale, 30*time.Second/timeScale, 15*time.Minute/timeScale
	rc.CallTimeout = 300 * time.Millisecond
}

func TestGenesysFaultsLoseNothingAndSendNothingTwice(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	d.tune = scaledRelay
	inst := d.start()
	token := d.endpoint.URLToken
	sessions := []string{"a", "b", "c"}
	for _, sid := range sessions {
		inst.post("/"+token+"/handover", handoverBody(sid))
		d.sandboxConversation(inst, sid)
	}
	sent := map[string][]string{}
	say := func(phase string, n int) {
		t.Helper()
		for i := range n {
			for _, sid := range sessions {
				text := fmt.Sprintf("%s %s %d", sid, phase, i)
				if status, out := inst.post("/"+token, map[string]any{"userId": "u", "sessionId": sid, "text": text}); status != http.StatusAccepted {
					t.Fatalf("%s: %d %v", text, status, out)
				}
				sent[sid] = append(sent[sid], text)
			}
		}
	}
	backlogSeen := int64(0)
	watchBacklog := func() {
		if n, _, _ := inst.srv.Store.OutboxBacklog(context.Background()); n > backlogSeen {
			backlogSeen = n
		}
	}

	calls := func(sid string) []store.APICall {
		c, _ := inst.srv.Store.LatestConversation(context.Background(), d.endpoint.ID, sid)
		list, _ := inst.srv.Store.APICallsOf(context.Background(), c.ID)
		return list
	}
	failures := func(match func(store.APICall) bool) int {
		n := 0
		for _, sid := range sessions {
			for _, call := range calls(sid) {
				if match(call) {
					n++
				}
			}
		}
		return n
	}

	// Two minutes (scaled) of 503 from every API path: it ends once every
	// session's messages have met the outage for that long, by the relay's
	// own log of its calls.
	g.SetFault(sandbox.Fault{Status: http.StatusServiceUnavailable, PathContains: "/api/v2/"})
	say("outage", 3)
	testkit.WaitFor(t, 2*time.Minute/timeScale+10*time.Second, "two scaled minutes of outage met by every session", func() bool {
		watchBacklog()
		for _, sid := range sessions {
			var first, last time.Time
			for _, call := range calls(sid) {
				if call.OutboxID == nil || call.Status != http.StatusServiceUnavailable {
					continue
				}
				if first.IsZero() {
					first = call.CreatedAt
				}
				last = call.CreatedAt
			}
			if first.IsZero() || last.Sub(first) < 2*time.Minute/timeScale {
				return false
			}
		}
		return true
	})
	g.ClearFaults()
	// 429 with Retry-After, timeouts, connection resets, and a token endpoint
	// failing; each fault lasts a few calls, and the next starts once it bit.
	g.SetFault(sandbox.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 2, PathContains: "/inbound/"})
	say("ratelimited", 2)
	testkit.WaitFor(t, 10*time.Second, "429s", func() bool { return failures(func(c store.APICall) bool { return c.Status == 429 }) == 2 })
	g.SetFault(sandbox.Fault{Latency: time.Second, Count: 2, PathContains: "/inbound/"})
	say("slow", 2)
	testkit.WaitFor(t, 10*time.Second, "timeouts", func() bool {
		return failures(func(c store.APICall) bool { return c.Status == 0 && strings.Contains(c.Error, "deadline") }) >= 2
	})
	g.SetFault(sandbox.Fault{Reset: true, Count: 3, PathContains: "/inbound/"})
	say("reset", 2)
	testkit.WaitFor(t, 10*time.Second, "connection resets", func() bool {
		return failures(func(c store.APICall) bool { return c.Status == 0 && strings.Contains(c.Error, "reset") }) >= 3
	})
	// Tokens revoked: the next call gets 401, the client fetches a new token
	// once — and the token endpoint fails twice before it answers.
	g.RevokeTokens()
	g.SetFault(sandbox.Fault{Status: http.StatusBadGateway, Count: 2, PathContains: "/oauth/token"})
	say("revoked", 2)

	testkit.WaitFor(t, 20*time.Second, "every message at Genesys", func() bool {
		watchBacklog()
		for _, sid := range sessions {
			c := d.sandboxConversation(inst, sid)
			if len(customerTexts(c)) < len(sent[sid])+1 {
				return false
			}
		}
		return true
	})
	for _, sid := range sessions {
		got := customerTexts(d.sandboxConversation(inst, sid))[1:]
		if strings.Join(got, "|") != strings.Join(sent[sid], "|") {
			t.Fatalf("session %s at Genesys:\n%q\nwant, in order:\n%q", sid, got, sent[sid])
		}
	}
	// Genesys got each message once. A call that timed out may have reached
	// Genesys before the answer was lost: its retry carries the same
	// channel.messageId, so Genesys answers it from the first copy. Only
	// such calls may show up twice on the wire.
	timeouts := failures(func(c store.APICall) bool { return c.Status == 0 && strings.Contains(c.Error, "deadline") })
	resent := 0
	for _, rec := range g.Inbound() {
		if rec.Duplicate {
			resent++
		}
	}
	if resent > timeouts {
		t.Fatalf("%d messages reached Genesys twice, but only %d calls timed out", resent, timeouts)
	}
	if backlogSeen == 0 {
		t.Fatal("the outbox never held a backlog: the faults did not bite")
	}

	// The console's API log shows each failure; the token endpoint's too.
	if n := failures(func(c store.APICall) bool { return c.Status == 503 }); n == 0 {
		t.Error("no 503 recorded in the API log")
	}
	tokenFailures := 0
	for _, r := range g.Rejected() {
		if strings.Contains(r.Path, "/oauth/token") && r.Status == http.StatusBadGateway {
			tokenFailures++
		}
	}
	if tokenFailures == 0 {
		t.Error("the token endpoint never failed: that part of the test proved nothing")
	}
	t.Logf("largest backlog %d; %d timeouts, %d idempotent re-sends", backlogSeen, timeouts, resent)
}

func TestRevokedCredentialsAreAVisibleErrorNotASilentLoss(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	d.tune = scaledRelay
	inst := d.start()
	token := d.endpoint.URLToken
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")

	// Someone replaces the OAuth client's secret in Genesys only.
	g.AddClient(e2eClientID, "rotated-elsewhere")
	g.RevokeTokens()
	status, out := inst.post("/"+token, map[string]any{"userId": "u", "sessionId": "s1", "text": "kept, not lost"})
	if status != http.StatusAccepted {
		t.Fatalf("%d %v", status, out)
	}
	testkit.WaitFor(t, 5*time.Second, "the refusal shown on the endpoint", func() bool {
		e, _ := inst.srv.Store.EndpointByID(context.Background(), d.endpoint.ID)
		return strings.Contains(e.IntegrationError, "refused the OAuth client")
	})
	// The relay records the refusal on the endpoint first, then schedules
	// the retry with the error: wait for that second write too.
	var last store.OutboxItem
	testkit.WaitFor(t, 5*time.Second, "the message's call rescheduled with the refusal", func() bool {
		items, _ := inst.srv.Store.OutboxOf(context.Background(), 1)
		last = items[len(items)-1]
		return last.LastError != "" || last.Status != store.OutboxPending
	})
	if last.Status != store.OutboxPending || !strings.Contains(last.LastError, "401") {
		t.Fatalf("the message's call: %s %q; want it pending with the 401 as its error", last.Status, last.LastError)
	}
	// The admin puts the secret back: the message goes, the error clears.
	g.AddClient(e2eClientID, "e2e-client-secret")
	testkit.WaitFor(t, 10*time.Second, "delivery once the credentials work", func() bool {
		c, _ := g.Conversation(conv.ID)
		texts := customerTexts(c)
		return len(texts) > 0 && texts[len(texts)-1] == "kept, not lost"
	})
	testkit.WaitFor(t, 5*time.Second, "the endpoint's error cleared", func() bool {
		e, _ := inst.srv.Store.EndpointByID(context.Background(), d.endpoint.ID)
		return e.IntegrationError == ""
	})
}
