// Package metrics exposes Handover's Prometheus metrics: the handover funnel,
// webhooks by verdict, the outbox backlog, Genesys API calls and live event
// streams. Everything is registered on the Registry of one Metrics value
// (one per server), never on Prometheus's global default registry.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/handover-relay/handover/genesys"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are what the metrics read at scrape time.
type Sources struct {
	// Outbox reports the calls waiting for Genesys and the age of the oldest.
	Outbox interface {
		OutboxBacklog(ctx context.Context) (int64, time.Duration, error)
	}
	// BotDeliveries reports the events waiting for bot webhooks and the age
	// of the oldest.
	BotDeliveries interface {
		BotDeliveryBacklog(ctx context.Context) (int64, time.Duration, error)
	}
	// Open counts the handovers open now, waiting for an agent and with one.
	Open interface {
		OpenHandovers(ctx context.Context) (queued, withAgent int64, err error)
	}
	// Watchers counts the open event-stream subscriptions (live.Broker).
	Watchers interface{ Subscribers() int }
	Logger   *slog.Logger
}

// Metrics holds one server's collectors. It implements relay.Observer.
type Metrics struct {
	registry *prometheus.Registry

	requested      prometheus.Counter
	queued         prometheus.Counter
	joined         prometheus.Counter
	ended          *prometheus.CounterVec
	failed         *prometheus.CounterVec
	toAgentJoined  prometheus.Histogram
	toFirstMessage prometheus.Histogram
	webhooks       *prometheus.CounterVec
	genesysCalls   *prometheus.CounterVec
	genesysLatency *prometheus.HistogramVec
	acceptErrors   prometheus.Counter

	// botConnectorTurns counts Genesys Bot Connector turns by botState.
	botConnectorTurns *prometheus.CounterVec
}

// waitBuckets span seconds to hours: how long users wait for an agent.
var waitBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200}

// New builds the metrics and registers them, with the Go runtime and
// process collectors, on a registry of their own.
func New(src Sources) *Metrics {
	logger := src.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "handover_handovers_requested_total", Help: "Handover requests from bots (POST …/handover and the demo bot).",
		}),
		queued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "handover_handovers_queued_total", Help: "Handovers stored and queued for Genesys.",
		}),
		joined: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "handover_handovers_agent_joined_total", Help: "Handovers an agent accepted.",
		}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "handover_handovers_ended_total", Help: "Handovers that went back to the bot, by reason (agent_ended, user_ended, …).",
		}, []string{"reason"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "handover_handovers_failed_total", Help: "Handovers that could not be delivered to Genesys, by reason.",
		}, []string{"reason"}),
		toAgentJoined: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "handover_time_to_agent_joined_seconds", Help: "Time from the handover to an agent accepting it.", Buckets: waitBuckets,
		}),
		toFirstMessage: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "handover_time_to_first_agent_message_seconds", Help: "Time from the handover to the agent's first message.", Buckets: waitBuckets,
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "handover_webhooks_total", Help: "Requests to the webhook URL by verdict (valid, duplicate, mismatch, missing, stale, unknown_integration, malformed, too_large, timeout), refused ones counted whether or not the log kept them.",
		}, []string{"verdict"}),
		genesysCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "handover_genesys_requests_total", Help: "HTTP requests to Genesys Cloud by method, route (ids replaced by {id}) and status (\"error\" when no answer came).",
		}, []string{"method", "route", "status"}),
		genesysLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "handover_genesys_request_duration_seconds", Help: "Latency of HTTP requests to Genesys Cloud by method and route.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
		}, []string{"method", "route"}),
		botConnectorTurns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "handover_bot_connector_turns_total", Help: "Customer turns Genesys's Bot Connector posted, by the botState answered (MoreData, Complete, Failed).",
		}, []string{"bot_state"}),
		acceptErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "handover_accept_errors_total", Help: "Failed accepts of client connections (out of file handles, …); each is retried, none ends the server.",
		}),
	}
	m.registry.MustRegister(
		// The memstats gauges, plus the heap reachable at the last garbage
		// collection (go_gc_heap_live_bytes): heap in use counts spans not
		// yet swept, so only the live heap says what stays in memory.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requested, m.queued, m.joined, m.ended, m.failed, m.toAgentJoined, m.toFirstMessage,
		m.webhooks, m.genesysCalls, m.genesysLatency, m.acceptErrors,
		m.botConnectorTurns,
	)
	if src.Outbox != nil {
		m.registry.MustRegister(&backlogCollector{read: src.Outbox.OutboxBacklog, count: outboxBacklogDesc, age: outboxAgeDesc, what: "the outbox backlog", log: logger})
	}
	if src.BotDeliveries != nil {
		m.registry.MustRegister(&backlogCollector{read: src.BotDeliveries.BotDeliveryBacklog, count: botBacklogDesc, age: botAgeDesc, what: "the bot delivery backlog", log: logger})
	}
	if src.Open != nil {
		m.registry.MustRegister(&openCollector{open: src.Open, log: logger})
	}
	if src.Watchers != nil {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "handover_sse_watchers", Help: "Open live event streams (bot sessions and console pages) on this instance.",
		}, func() float64 { return float64(src.Watchers.Subscribers()) }))
	}
	return m
}

// AcceptError counts a failed accept of a client connection.
func (m *Metrics) AcceptError() { m.acceptErrors.Inc() }

// Registry is where the metrics are registered (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// HandoverRequested implements relay.Observer.
func (m *Metrics) HandoverRequested() { m.requested.Inc() }

// HandoverQueued implements relay.Observer.
func (m *Metrics) HandoverQueued() { m.queued.Inc() }

// AgentJoined implements relay.Observer.
func (m *Metrics) AgentJoined(since time.Duration) {
	m.joined.Inc()
	m.toAgentJoined.Observe(max(since.Seconds(), 0))
}

// FirstAgentMessage implements relay.Observer.
func (m *Metrics) FirstAgentMessage(since time.Duration) {
	m.toFirstMessage.Observe(max(since.Seconds(), 0))
}

// HandoverEnded implements relay.Observer.
func (m *Metrics) HandoverEnded(reason string) { m.ended.WithLabelValues(reason).Inc() }

// HandoverFailed implements relay.Observer.
func (m *Metrics) HandoverFailed(reason string) { m.failed.WithLabelValues(reason).Inc() }

// Webhook implements relay.Observer.
func (m *Metrics) Webhook(verdict string) { m.webhooks.WithLabelValues(verdict).Inc() }

// BotConnectorTurn counts a Bot Connector turn by the botState answered.
func (m *Metrics) BotConnectorTurn(botState string) {
	m.botConnectorTurns.WithLabelValues(botState).Inc()
}

// backlogCollector reads a durable queue's backlog (the Genesys outbox, the
// bot deliveries) once per scrape for both of its gauges.
type backlogCollector struct {
	read       func(ctx context.Context) (int64, time.Duration, error)
	count, age *prometheus.Desc
	what       string // for the log
	log        *slog.Logger
}

var (
	outboxBacklogDesc = prometheus.NewDesc("handover_outbox_backlog", "Calls to Genesys waiting in the outbox (all instances).", nil, nil)
	outboxAgeDesc     = prometheus.NewDesc("handover_outbox_oldest_age_seconds", "Age of the oldest call waiting in the outbox; 0 when it is empty.", nil, nil)
	botBacklogDesc    = prometheus.NewDesc("handover_bot_deliveries_backlog", "Events waiting for bot webhooks (all instances).", nil, nil)
	botAgeDesc        = prometheus.NewDesc("handover_bot_deliveries_oldest_age_seconds", "Age of the oldest event waiting for a bot webhook; 0 when none waits.", nil, nil)
)

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.count
	ch <- c.age
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	count, age, err := c.read(ctx)
	if err != nil {
		c.log.Error("metrics: read "+c.what, slog.Any("error", err))
		ch <- prometheus.NewInvalidMetric(c.count, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(count))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, max(age.Seconds(), 0))
}

// openCollector reads the open handovers once per scrape (all instances).
type openCollector struct {
	open interface {
		OpenHandovers(ctx context.Context) (queued, withAgent int64, err error)
	}
	log *slog.Logger
}

var openDesc = prometheus.NewDesc("handover_handovers_open", "Handovers open now (all instances), by state: queued (waiting for an agent) or agent_joined.", []string{"state"}, nil)

func (c *openCollector) Describe(ch chan<- *prometheus.Desc) { ch <- openDesc }

func (c *openCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	queued, withAgent, err := c.open.OpenHandovers(ctx)
	if err != nil {
		c.log.Error("metrics: count the open handovers", slog.Any("error", err))
		ch <- prometheus.NewInvalidMetric(openDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(queued), "queued")
	ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(withAgent), "agent_joined")
}

// Transport wraps next (http.DefaultTransport when nil) so that every
// request to Genesys is counted by route and status and timed.
func (m *Metrics) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper{m: m, next: next}
}

type roundTripper struct {
	m    *Metrics
	next http.RoundTripper
}

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	started := time.Now()
	resp, err := t.next.RoundTrip(req)
	route := Route(req.URL.Path)
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
	}
	t.m.genesysCalls.WithLabelValues(req.Method, route, status).Inc()
	t.m.genesysLatency.WithLabelValues(req.Method, route).Observe(time.Since(started).Seconds())
	return resp, err
}

var digitPattern = regexp.MustCompile(`[0-9]`)

// Route turns a request path into a label with a bounded number of values:
// each segment that is an id (a UUID, a number, or a long token with digits)
// becomes {id}.
// /api/v2/conversations/messages/6f1c…/inbound/open/message → /api/v2/conversations/messages/{id}/inbound/open/message
func Route(path string) string {
	segments := strings.Split(path, "/")
	for i, seg := range segments {
		if isID(seg) {
			segments[i] = "{id}"
		}
	}
	return strings.Join(segments, "/")
}

func isID(seg string) bool {
	if seg == "" {
		return false
	}
	if genesys.IsID(seg) {
		return true
	}
	if _, err := strconv.ParseUint(seg, 10, 64); err == nil {
		return true
	}
	return len(seg) >= 12 && digitPattern.MatchString(seg)
}
