package handlers

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/paths"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// Dashboard serves the console's front page: the last day in numbers, and
// charts of the last hour, day or week.
type Dashboard struct {
	Store interface {
		DashboardSince(ctx context.Context, since time.Time) (store.Dashboard, error)
		DashboardCharts(ctx context.Context, q store.ChartQuery) (store.Charts, error)
		ListEndpoints(ctx context.Context) ([]store.Endpoint, error)
		FailingBotWebhooks(ctx context.Context) ([]store.BotWebhookHealth, error)
	}
	Now func() time.Time // the store's clock, so that a pinned one pins the charts' intervals too
}

const dashboardWindow = 24 * time.Hour

// chartRange is one choice of the charts' period: Buckets intervals of Step.
type chartRange struct {
	Key     string
	Label   string
	Step    time.Duration
	Buckets int
	Layout  string // how an interval's start is labelled
}

// chartRanges are the periods the charts offer; the first is the default.
var chartRanges = []chartRange{
	{Key: "24h", Label: "Last 24 hours", Step: time.Hour, Buckets: 24, Layout: "15:04"},
	{Key: "1h", Label: "Last hour", Step: 5 * time.Minute, Buckets: 12, Layout: "15:04"},
	{Key: "7d", Label: "Last 7 days", Step: 6 * time.Hour, Buckets: 28, Layout: "Mon 15:04"},
}

// Page answers GET /?range=&endpoint=.
func (h *Dashboard) Page(c *fiber.Ctx) error {
	props, err := h.props(c)
	if err != nil {
		return err
	}
	charts, err := h.charts(c)
	if err != nil {
		return err
	}
	return page(c, fiber.StatusOK, "Dashboard", "dashboard", views.DashboardPage(props, charts))
}

// Cards answers GET /dashboard/cards, the fragment live updates fetch.
func (h *Dashboard) Cards(c *fiber.Ctx) error {
	props, err := h.props(c)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.DashboardCards(props))
}

// Charts answers GET /dashboard/charts?range=&endpoint=, the charts'
// fragment: fetched when the filters change and on live updates.
func (h *Dashboard) Charts(c *fiber.Ctx) error {
	charts, err := h.charts(c)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.DashboardCharts(charts))
}

func (h *Dashboard) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Dashboard) charts(c *fiber.Ctx) (views.DashboardChartsProps, error) {
	ctx := c.UserContext()
	r := chartRanges[0]
	for _, candidate := range chartRanges {
		if c.Query("range") == candidate.Key {
			r = candidate
		}
	}
	endpoints, err := h.Store.ListEndpoints(ctx)
	if err != nil {
		return views.DashboardChartsProps{}, err
	}
	names := newEndpointNames(endpoints)
	endpointID, _ := strconv.ParseInt(c.Query("endpoint"), 10, 64)
	if _, ok := names.names[endpointID]; !ok {
		endpointID = 0
	}
	// The last interval ends at the next whole step, so the intervals stay
	// put between live updates and the current one fills up.
	to := h.now().UTC().Truncate(r.Step).Add(r.Step)
	series, err := h.Store.DashboardCharts(ctx, store.ChartQuery{To: to, Step: r.Step, Buckets: r.Buckets, EndpointID: endpointID})
	if err != nil {
		return views.DashboardChartsProps{}, err
	}
	q := url.Values{"range": {r.Key}}
	scope := "every endpoint"
	if endpointID != 0 {
		q.Set("endpoint", strconv.FormatInt(endpointID, 10))
		scope = names.name(endpointID)
	}
	props := views.DashboardChartsProps{
		Range: r.Key, Endpoint: c.Query("endpoint"), Endpoints: names.options,
		URL:    paths.DashboardCharts + "?" + q.Encode(),
		Period: fmt.Sprintf("%s, %s, in intervals of %s (UTC)", r.Label, scope, formatStep(r.Step)),
		Charts: buildCharts(series, r.Layout),
	}
	for _, candidate := range chartRanges {
		props.Ranges = append(props.Ranges, views.Option{Value: candidate.Key, Label: candidate.Label})
	}
	return props, nil
}

// buildCharts turns the store's series into the four charts the dashboard shows.
func buildCharts(s store.Charts, layout string) []views.Chart {
	labels := make([]string, len(s.Starts))
	for i, t := range s.Starts {
		labels[i] = t.UTC().Format(layout)
	}
	counts := func(name, tone string, values []int64) views.ChartSeries {
		out := views.ChartSeries{Name: name, Tone: tone, Values: make([]float64, len(values))}
		for i, v := range values {
			out.Values[i] = float64(v)
		}
		return out
	}
	seconds := func(name, tone string, values []time.Duration) views.ChartSeries {
		out := views.ChartSeries{Name: name, Tone: tone, Values: make([]float64, len(values))}
		for i, v := range values {
			out.Values[i] = v.Round(100 * time.Millisecond).Seconds()
		}
		return out
	}
	replies := 0
	for _, n := range s.Replies {
		replies += n
	}
	valid := s.Verdicts[store.VerdictValid]
	if valid == nil {
		valid = make([]int64, len(labels))
	}
	verdicts := []views.ChartSeries{counts("Valid", views.ToneMain, valid)}
	for _, v := range []struct{ verdict, name, tone string }{
		{store.VerdictMismatch, "Signature mismatch", views.ToneBad}, {store.VerdictMissing, "No signature", views.ToneWarn},
		{store.VerdictUnknownIntegration, "Unknown integration", views.ToneMore}, {store.VerdictMalformed, "Malformed", ""},
		{store.VerdictStale, "Stale", ""}, {store.VerdictTooLarge, "Too large", ""}, {store.VerdictTimeout, "Timed out", ""},
	} {
		if values, ok := s.Verdicts[v.verdict]; ok {
			verdicts = append(verdicts, counts(v.name, v.tone, values))
		}
	}
	return []views.Chart{
		{ID: "chart-handovers", Title: "Handovers", Unit: "handovers per interval", Labels: labels, Series: []views.ChartSeries{
			counts("Requested", views.ToneMain, s.Requested), counts("Connected", views.ToneGood, s.Connected),
			counts("Ended", views.ToneWarn, s.Ended), counts("Failed", views.ToneBad, s.Failed),
		}},
		{ID: "chart-first-reply", Title: "Time to first agent message", Unit: "seconds", Labels: labels, Series: []views.ChartSeries{
			seconds("Median", views.ToneMain, s.FirstReplyMedian), seconds("95th percentile", views.ToneWarn, s.FirstReplyP95),
		}, Note: fmt.Sprintf("Over %d handovers answered by an agent, by when they were requested.", replies)},
		{ID: "chart-webhooks", Title: "Webhooks by verdict", Unit: "webhooks per interval", Labels: labels, Stacked: true, Series: verdicts},
		{ID: "chart-genesys-calls", Title: "Calls to Genesys", Unit: "calls per interval", Labels: labels, Stacked: true, Series: []views.ChartSeries{
			counts("Succeeded", views.ToneMain, s.CallsOK), counts("Throttled (429)", views.ToneWarn, s.CallsThrottled),
			counts("Server error (5xx)", views.ToneBad, s.CallsServerError), counts("Other failure", views.ToneMore, s.CallsOtherFailed),
		}, Note: "Throttled calls and server errors are retried from the outbox."},
	}
}

func formatStep(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		if d == time.Hour {
			return "one hour"
		}
		return fmt.Sprintf("%d hours", d/time.Hour)
	default:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
}

func (h *Dashboard) props(c *fiber.Ctx) (views.DashboardProps, error) {
	d, err := h.Store.DashboardSince(c.UserContext(), h.now().Add(-dashboardWindow))
	if err != nil {
		return views.DashboardProps{}, err
	}
	count := func(n int64) string { return strconv.FormatInt(n, 10) }
	list := func(state string) string {
		link := "/conversations?since=24h"
		if state != "" {
			link += "&state=" + state
		}
		return link
	}
	replyNote := fmt.Sprintf("over %d conversations", d.FirstReplies)
	cards := []views.DashboardCard{
		{Key: "requested", Label: "Handovers requested", Value: count(d.Requested), Link: list("")},
		{Key: "queued", Label: "Waiting for an agent", Value: count(d.Queued), Link: list(store.StateQueued)},
		{Key: "connected", Label: "Connected to an agent", Value: count(d.Connected), Link: list(store.StateAgentJoined)},
		{Key: "ended", Label: "Ended", Value: count(d.Ended), Link: list(store.StateEnded)},
		{Key: "failed", Label: "Failed", Value: count(d.Failed), Link: list(store.StateFailed)},
		{Key: "wait-median", Label: "Median wait for an agent", Value: formatWait(d.WaitMedian, d.Joins), Link: list(store.StateAgentJoined),
			Note: fmt.Sprintf("over %d handovers an agent joined", d.Joins)},
		{Key: "first-reply-median", Label: "Median time to first agent message", Value: formatWait(d.FirstReplyMedian, d.FirstReplies), Link: list(""), Note: replyNote},
		{Key: "first-reply-p95", Label: "95th percentile time to first agent message", Value: formatWait(d.FirstReplyP95, d.FirstReplies), Link: list(""), Note: replyNote},
		{Key: "webhook-rejected", Label: "Webhooks rejected (signature or shape)", Value: count(d.WebhookRejected), Link: "/webhooks?since=24h&verdict=rejected"},
		{Key: "bot-connector-sessions", Label: "Genesys Bot Connector sessions", Value: count(d.BotSessions), Link: list(""),
			Note: fmt.Sprintf("%d handed over (intent handover), %d failed", d.BotHandedOver, d.BotFailed)},
		{Key: "outbox", Label: "Calls waiting for Genesys", Value: count(d.OutboxBacklog), Link: "/api-calls?status=failed",
			Note: backlogNote(d.OutboxBacklog, d.OutboxOldest)},
	}
	props := views.DashboardProps{Window: "24 hours", Cards: cards}
	failing, err := h.Store.FailingBotWebhooks(c.UserContext())
	if err != nil {
		return views.DashboardProps{}, err
	}
	if len(d.WaitingNow) > 0 || len(failing) > 0 {
		endpoints, err := h.Store.ListEndpoints(c.UserContext())
		if err != nil {
			return views.DashboardProps{}, err
		}
		names := newEndpointNames(endpoints)
		for _, f := range failing {
			props.FailingBotWebhooks = append(props.FailingBotWebhooks, views.FailingBotWebhook{
				Endpoint: names.name(f.EndpointID), Since: *f.GaveUpAt, Error: f.LastError,
				Link: fmt.Sprintf("/bot-deliveries?endpoint=%d&status=%s", f.EndpointID, store.BotDeliveryFailed),
			})
		}
		for _, w := range d.WaitingNow {
			props.WaitingNow = append(props.WaitingNow, views.WaitingRow{
				Endpoint: names.name(w.EndpointID), Waiting: w.Waiting,
				Longest: h.now().Sub(w.OldestSince).Round(time.Second).String(),
				Link:    fmt.Sprintf("/conversations?endpoint=%d&state=%s", w.EndpointID, store.StateQueued),
			})
		}
	}
	return props, nil
}

func formatWait(d time.Duration, samples int) string {
	if samples == 0 {
		return "–"
	}
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func backlogNote(n int64, oldest time.Duration) string {
	if n == 0 {
		return "nothing waiting"
	}
	return "oldest waiting " + oldest.Round(time.Second).String()
}
