package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// Several instances on one PostgreSQL database: the outbox is shared with
// leases (each call sent once, by one instance, in order per conversation),
// live events fan out through LISTEN/NOTIFY, and the sign-in throttle counts
// in the database.

func TestTwoInstancesOnOnePostgresDatabaseSendEachMessageOnceAndShareLiveEvents(t *testing.T) {
	storetest.SkipWithoutPostgres(t)
	g := startSandbox(t, nil)
	d := newDeploymentOn(t, g, store.Postgres) // the sandbox's webhooks go to a
	a := d.start()
	b := d.startAt(testkit.FreeAddr(t))
	instances := []*instance{a, b}
	token := d.endpoint.URLToken

	const sessions, perSession = 50, 20 // 1,000 user messages
	started := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := range sessions {
		wg.Go(func() {
			sid := fmt.Sprintf("s%02d", i)
			if status, out := instances[i%2].post("/"+token+"/handover", map[string]any{"userId": "u" + sid, "sessionId": sid}); status != http.StatusAccepted {
				errs <- fmt.Errorf("%s handover: %d %v", sid, status, out)
				return
			}
			for j := range perSession {
				// Each message to the other instance than the one before.
				inst := instances[(i+j)%2]
				if status, out := inst.post("/"+token, map[string]any{"userId": "u" + sid, "sessionId": sid, "text": fmt.Sprintf("%s m%02d", sid, j)}); status != http.StatusAccepted {
					errs <- fmt.Errorf("%s message %d: %d %v", sid, j, status, out)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	userMessages := func() map[string][]string {
		bySession := map[string][]string{}
		for _, rec := range g.Inbound() {
			if rec.Kind != sandbox.KindMessage {
				continue
			}
			if rec.Duplicate {
				t.Fatalf("sent twice: %s", rec.Body)
			}
			text := rec.Parsed.(genesys.InboundMessage).Text
			if sid, _, ok := strings.Cut(text, " m"); ok && strings.HasPrefix(sid, "s") {
				bySession[sid] = append(bySession[sid], text)
			}
		}
		return bySession
	}
	t.Logf("1,000 messages accepted in %s", time.Since(started))
	testkit.WaitFor(t, 60*time.Second, "1,000 user messages at Genesys", func() bool {
		total := 0
		for _, texts := range userMessages() {
			total += len(texts)
		}
		return total >= sessions*perSession
	})
	t.Logf("and delivered after %s", time.Since(started))
	// A last message per session, once all the others are at Genesys: the
	// outbox sends a conversation's calls in order, so when these arrive
	// too, any of the earlier ones sent twice has shown by now.
	var markers sync.WaitGroup
	errs = make(chan error, sessions)
	for i := range sessions {
		markers.Go(func() {
			sid := fmt.Sprintf("s%02d", i)
			if status, out := instances[(i+perSession)%2].post("/"+token, map[string]any{"userId": "u" + sid, "sessionId": sid, "text": sid + " last"}); status != http.StatusAccepted {
				errs <- fmt.Errorf("%s last message: %d %v", sid, status, out)
			}
		})
	}
	markers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 60*time.Second, "every session's last message at Genesys", func() bool {
		last := map[string]bool{}
		for _, rec := range g.Inbound() {
			if m, ok := rec.Parsed.(genesys.InboundMessage); ok && rec.Kind == sandbox.KindMessage && strings.HasSuffix(m.Text, " last") {
				last[m.Text] = true
			}
		}
		return len(last) == sessions
	})
	got := userMessages()
	total := 0
	for i := range sessions {
		sid := fmt.Sprintf("s%02d", i)
		var want []string
		for j := range perSession {
			want = append(want, fmt.Sprintf("%s m%02d", sid, j))
		}
		if strings.Join(got[sid], "|") != strings.Join(want, "|") {
			t.Fatalf("%s reached Genesys as %q, want each once in order", sid, got[sid])
		}
		total += len(got[sid])
	}
	if total != sessions*perSession {
		t.Fatalf("%d user messages at Genesys, want %d", total, sessions*perSession)
	}
	assertNothingSentTwice(t, g)
	// The metrics are read while the last calls may still be marked sent:
	// a scrape must not fail because work finished under it.
	for name, inst := range map[string]*instance{"a": a, "b": b} {
		if n := counterSum(t, inst, "handover_genesys_requests_total", "route", "/inbound/open/message"); n == 0 {
			t.Errorf("instance %s sent nothing: the outbox was not shared", name)
		}
	}

	// A webhook that reaches a shows live on b's session stream. The
	// instances are still working off the receipts of the 1,000 messages
	// (two each): events are bounded generously, as the point is that they
	// cross instances, not how fast under -race.
	const backlogBound = 30 * time.Second
	events := b.events(token, "s07", "")
	nextWithin(t, backlogBound, events, "state") // the backlog: queued
	conv := d.sandboxConversation(b, "s07")
	if err := g.Accept(conv.ID, "Max Agent"); err != nil {
		t.Fatal(err)
	}
	if ev := nextWithin(t, backlogBound, events, "state"); ev.Data["state"] != "agent_joined" {
		t.Fatalf("b's stream got %v", ev.Data)
	}
	if _, err := g.AgentSend(conv.ID, "answer through instance a", ""); err != nil {
		t.Fatal(err)
	}
	if ev := nextWithin(t, backlogBound, events, "message"); ev.Data["from"] != "agent" || ev.Data["text"] != "answer through instance a" {
		t.Fatalf("b's stream got %v", ev.Data)
	}
	body, sig := d.signedWebhook(a, "s07", "direct-1", "posted to a", time.Now())
	if status := a.postWebhook(body, sig); status != http.StatusOK {
		t.Fatalf("webhook to a: %d", status)
	}
	if ev := nextWithin(t, backlogBound, events, "message"); ev.Data["text"] != "posted to a" {
		t.Fatalf("b's stream got %v", ev.Data)
	}
	// And the same webhook sent to b as well is a duplicate there.
	if status := b.postWebhook(body, sig); status != http.StatusOK {
		t.Fatalf("webhook to b: %d", status)
	}
	if n := counterSum(t, b, "handover_webhooks_total", "verdict", "duplicate"); n != 1 {
		t.Fatalf("b counted %v duplicate webhooks, want 1", n)
	}
	// Connections the load opened and never used would hold the shutdown
	// for its grace period (fasthttp waits for a connection that has not
	// sent its first request).
	http.DefaultClient.CloseIdleConnections()
}

func TestTheSignInThrottleCountsAcrossInstances(t *testing.T) {
	storetest.SkipWithoutPostgres(t)
	g := startSandbox(t, nil)
	d := newDeploymentOn(t, g, store.Postgres)
	a := d.start()
	b := d.startAt(testkit.FreeAddr(t))

	jar, _ := cookiejar.New(nil) // cookies are per host, not per port: both instances see them
	client := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	resp, err := client.Get(a.base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`).FindSubmatch(page)
	if csrf == nil {
		t.Fatalf("no CSRF token on the login page:\n%s", page)
	}
	attempt := func(inst *instance) int {
		t.Helper()
		resp, err := client.PostForm(inst.base+"/login", url.Values{"username": {"admin"}, "password": {"wrong"}, "_csrf": {string(csrf[1])}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range loginFailures {
		if status := attempt(a); status == http.StatusTooManyRequests {
			t.Fatalf("attempt %d on a was throttled already", i+1)
		}
	}
	if status := attempt(b); status != http.StatusTooManyRequests {
		t.Fatalf("attempt %d, on b: %d, want 429: the other instance's failures count", loginFailures+1, status)
	}
}

// loginFailures is web's loginFailuresAllowed: the attempts before the throttle.
const loginFailures = 10

// counterSum adds up the instance's samples of a metric whose label contains value.
func counterSum(t *testing.T, inst *instance, name, label, value string) float64 {
	t.Helper()
	families, err := inst.srv.Metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if labelContains(m, label, value) {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func labelContains(m *dto.Metric, label, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == label && strings.Contains(l.GetValue(), value) {
			return true
		}
	}
	return false
}
