package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// requestedInChart sums the Requested column of the handovers chart's table.
const requestedInChart = `(() => {
	const rows = document.querySelectorAll('[data-testid="chart-chart-handovers"] table tbody tr');
	let sum = 0;
	rows.forEach(r => sum += Number(r.querySelector("td").textContent));
	return sum;
})()`

func TestTheDashboardChartsAnHourOfTrafficAndUpdateLive(t *testing.T) {
	tab := browser(t)
	// The chart's hour ends at the next five-minute boundary after the
	// page's clock. A boundary passing between writing the traffic and
	// rendering it would move the hour on and drop the first interval's
	// handovers, so the app's clock runs a minute past a boundary: four
	// minutes to spare.
	real := time.Now().UTC()
	offset := real.Truncate(5 * time.Minute).Add(time.Minute).Sub(real)
	clock := func() time.Time { return time.Now().UTC().Add(offset) }
	srv, base := startBrowserAppWithClock(t, clock)
	ctx := context.Background()
	endpoints, err := srv.Store.ListEndpoints(ctx)
	if err != nil || len(endpoints) == 0 {
		t.Fatalf("the sandbox endpoint: %v, %v", endpoints, err)
	}
	e := endpoints[0]

	// An hour of traffic on the sandbox endpoint, written with its own
	// timestamps: a handover a minute; agents answer most in under two
	// minutes; a Genesys outage at minutes 18–23 throttles calls, fails
	// three handovers and slows answers; a forger sends bad signatures at
	// minute 41.
	// The chart's hour is twelve five-minute intervals, the last one the
	// current: the traffic fills it up to now.
	now := clock()
	start := now.Truncate(5 * time.Minute).Add(5*time.Minute - time.Hour)
	at := func(minute int, after time.Duration) time.Time {
		return start.Add(time.Duration(minute)*time.Minute + after)
	}
	before := func(t time.Time) bool { return t.Before(now) }
	handovers := 0
	for m := 0; at(m, 5*time.Second).Before(now); m++ {
		handovers++
		outage := m >= 18 && m <= 23
		c := &store.Conversation{EndpointID: e.ID, SessionID: fmt.Sprintf("hour-%d", m), UserID: fmt.Sprintf("user-%d", m%17), CustomerID: fmt.Sprintf("hour-customer-%d", m),
			State: store.StateQueued, CreatedAt: at(m, 5*time.Second)}
		switch {
		case outage && m%2 == 0:
			c.State, c.EndReason = store.StateFailed, store.ReasonUndelivered
			c.EndedAt = ptrTime(at(m, 35*time.Second))
		default:
			wait := time.Duration(20+(m*37)%90) * time.Second
			if outage {
				wait += 3 * time.Minute
			}
			if joined := at(m, wait); before(joined) {
				c.State, c.AgentJoinedAt, c.FirstAgentMessageAt = store.StateAgentJoined, &joined, ptrTime(joined.Add(8*time.Second))
			}
			if ended := at(m, 9*time.Minute); before(ended) && c.AgentJoinedAt != nil {
				c.State, c.EndReason, c.EndedAt = store.StateEnded, store.ReasonAgentEnded, &ended
			}
		}
		if err := srv.Store.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		calls := []int{202, 202, 202}
		if outage {
			calls = []int{429, 503, 429, 202}
		}
		for i, status := range calls {
			call := &store.APICall{EndpointID: e.ID, ConversationID: &c.ID, Method: "POST", Path: "/api/v2/conversations/messages/x/inbound/open/message",
				Status: status, Attempt: i + 1, CreatedAt: at(m, time.Duration(10+i*3)*time.Second)}
			if status >= 300 {
				call.Error = fmt.Sprintf("Genesys answered %d", status)
			}
			if err := srv.Store.InsertAPICall(ctx, call); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 2 {
			key := fmt.Sprintf("hour-%d-%d", m, i)
			w := &store.Webhook{EndpointID: &e.ID, ConversationID: &c.ID, ReceivedAt: at(m, time.Duration(30+i*15)*time.Second),
				Verdict: store.VerdictValid, Status: 200, DedupeKey: &key}
			if _, err := srv.Store.InsertWebhook(ctx, w); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 8 {
		w := &store.Webhook{ReceivedAt: at(41, time.Duration(i)*time.Second), Verdict: store.VerdictMismatch, Status: 200}
		if _, err := srv.Store.InsertWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
	}

	signIn(t, tab, base)
	within(t, tab, 10*time.Second, "the charts of the last hour",
		chromedp.Navigate(base+"/?range=1h"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=chart-chart-genesys-calls] svg rect`)),
		audit(t, "dashboard-charts"),
	)
	if got, err := chromedp.Run(tab, chromedp.Evaluate[int](requestedInChart)); err != nil || got != handovers {
		t.Fatalf("the handovers chart counts %d requested (%v), want %d", got, err, handovers)
	}
	for chart, want := range map[string]string{
		"chart-genesys-calls": "throttled (429) in all",
		"chart-webhooks":      "8 signature mismatch in all",
		"chart-first-reply":   "95th percentile highest",
	} {
		// An SVG's desc has no rendered text: read its textContent.
		desc, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('[data-testid=chart-`+chart+`] desc').textContent`))
		if err != nil || !strings.Contains(desc, want) {
			t.Errorf("chart %s says %q, want it to mention %q", chart, desc, want)
		}
	}

	// A new handover reaches the open chart through the live events.
	if _, err := srv.Relay.StartHandover(ctx, e, relay.HandoverRequest{UserID: "live-user", SessionID: "live-session"}); err != nil {
		t.Fatal(err)
	}
	within(t, tab, 5*time.Second, "the new handover appears in the chart",
		chromedp.Poll[chromedp.Void](requestedInChart+fmt.Sprintf(" === %d", handovers+1), chromedp.WithPollingMutation()))
}

func ptrTime(t time.Time) *time.Time { return &t }
